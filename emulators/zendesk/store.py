"""The account's records, id sequences and lookup indexes.

Not thread-safe by itself: every caller holds the app lock. Indexes are kept in step through
``index_*`` calls made after each write, so lookups by email / external id stay O(1) on large
seeds. Uniqueness rules (user email and external id, organization name and external id) are
checked by the resource modules against these lookups before they write.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, TypeVar

from .clock import Clock
from .errors import not_found
from .records import Brand, CustomField, Group, Organization, Ticket, User

FIRST_LARGE_ID = 360_000_000_001
_T = TypeVar("_T")


def fold(value: object) -> str | None:
    """Case-insensitive key for emails and user/organization external ids (None if blank)."""
    text = "" if value is None else str(value).strip().lower()
    return text or None


class Store:
    """Everything the account holds."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.users: dict[int, User] = {}
        self.organizations: dict[int, Organization] = {}
        self.tickets: dict[int, Ticket] = {}
        self.groups: dict[int, Group] = {}
        self.brands: dict[int, Brand] = {}
        #: Deleted tickets stay in the incremental exports with status ``deleted``.
        self.deleted_tickets: dict[int, Ticket] = {}
        self.ticket_fields: dict[int, CustomField] = {}
        self.user_fields: dict[int, CustomField] = {}
        self.organization_fields: dict[int, CustomField] = {}
        self._next_id = FIRST_LARGE_ID
        self._next_ticket_id = 1
        self._sequence = 0
        self._user_by_email: dict[str, int] = {}
        self._user_by_external_id: dict[str, int] = {}
        self._user_keys: dict[int, tuple[str | None, str | None]] = {}
        self._org_by_external_id: dict[str, int] = {}
        self._org_by_name: dict[str, int] = {}
        self._org_keys: dict[int, tuple[str | None, str | None]] = {}
        self._tickets_by_external_id: defaultdict[str, set[int]] = defaultdict(set)
        self._ticket_keys: dict[int, str | None] = {}

    # -- ids ----------------------------------------------------------------------------------
    def new_id(self) -> int:
        """A fresh id for users, organizations, groups, fields, comments, audits."""
        value = self._next_id
        self._next_id += 1
        return value

    def new_ticket_id(self) -> int:
        """Ticket ids are small and sequential, as in a real account."""
        value = self._next_ticket_id
        self._next_ticket_id += 1
        return value

    def reserve(self, record_id: int) -> None:
        """Make sure a seeded id is never handed out again."""
        self._next_id = max(self._next_id, record_id + 1)

    def reserve_ticket(self, ticket_id: int) -> None:
        self._next_ticket_id = max(self._next_ticket_id, ticket_id + 1)

    def next_sequence(self) -> int:
        self._sequence += 1
        return self._sequence

    def touch(self, ticket: Ticket) -> None:
        """Record a change: new ``updated_at`` and a later place in the change stream."""
        ticket.updated_at = self.clock.now()
        ticket.sequence = self.next_sequence()

    def has(self, records: dict[int, Any], record_id: object) -> bool:
        """True when ``record_id`` is an integer id present in ``records``."""
        return (
            isinstance(record_id, int) and not isinstance(record_id, bool) and record_id in records
        )

    # -- fetch or 404 -------------------------------------------------------------------------
    def user(self, user_id: int) -> User:
        return _get(self.users, user_id)

    def organization(self, organization_id: int) -> Organization:
        return _get(self.organizations, organization_id)

    def ticket(self, ticket_id: int) -> Ticket:
        return _get(self.tickets, ticket_id)

    def group(self, group_id: int) -> Group:
        return _get(self.groups, group_id)

    def brand(self, brand_id: int) -> Brand:
        return _get(self.brands, brand_id)

    def default_brand_id(self) -> int:
        return next(b.id for b in self.brands.values() if b.default)

    # -- users --------------------------------------------------------------------------------
    def user_by_email(self, email: object) -> User | None:
        key = fold(email)
        user_id = self._user_by_email.get(key) if key else None
        return self.users.get(user_id) if user_id is not None else None

    def user_by_external_id(self, external_id: object) -> User | None:
        key = fold(external_id)
        user_id = self._user_by_external_id.get(key) if key else None
        return self.users.get(user_id) if user_id is not None else None

    def index_user(self, user: User) -> None:
        """Store ``user`` and refresh its email / external-id index entries."""
        self.users[user.id] = user
        old_email, old_external = self._user_keys.pop(user.id, (None, None))
        _unlink(self._user_by_email, old_email, user.id)
        _unlink(self._user_by_external_id, old_external, user.id)
        email, external = fold(user.email), fold(user.external_id)
        if email:
            self._user_by_email[email] = user.id
        if external:
            self._user_by_external_id[external] = user.id
        self._user_keys[user.id] = (email, external)

    # -- organizations ------------------------------------------------------------------------
    def organization_by_external_id(self, external_id: object) -> Organization | None:
        key = fold(external_id)
        org_id = self._org_by_external_id.get(key) if key else None
        return self.organizations.get(org_id) if org_id is not None else None

    def organization_by_name(self, name: object) -> Organization | None:
        key = fold(name)
        org_id = self._org_by_name.get(key) if key else None
        return self.organizations.get(org_id) if org_id is not None else None

    def index_organization(self, organization: Organization) -> None:
        self.organizations[organization.id] = organization
        old_name, old_external = self._org_keys.pop(organization.id, (None, None))
        _unlink(self._org_by_name, old_name, organization.id)
        _unlink(self._org_by_external_id, old_external, organization.id)
        name, external = fold(organization.name), fold(organization.external_id)
        if name:
            self._org_by_name[name] = organization.id
        if external:
            self._org_by_external_id[external] = organization.id
        self._org_keys[organization.id] = (name, external)

    def remove_organization(self, organization: Organization) -> None:
        """Delete ``organization``; its members stay, without an organization."""
        del self.organizations[organization.id]
        name, external = self._org_keys.pop(organization.id, (None, None))
        _unlink(self._org_by_name, name, organization.id)
        _unlink(self._org_by_external_id, external, organization.id)
        for user in self.users.values():
            if user.organization_id == organization.id:
                user.organization_id = None
                user.updated_at = self.clock.now()

    # -- tickets ------------------------------------------------------------------------------
    def tickets_by_external_id(self, external_id: str) -> list[Ticket]:
        """Ticket external ids are free text and not unique: all matches, oldest first."""
        ids = sorted(self._tickets_by_external_id.get(external_id, ()))
        return [self.tickets[ticket_id] for ticket_id in ids]

    def index_ticket(self, ticket: Ticket) -> None:
        self.tickets[ticket.id] = ticket
        old = self._ticket_keys.pop(ticket.id, None)
        if old is not None:
            self._tickets_by_external_id[old].discard(ticket.id)
        if ticket.external_id:
            self._tickets_by_external_id[ticket.external_id].add(ticket.id)
        self._ticket_keys[ticket.id] = ticket.external_id

    def remove_ticket(self, ticket: Ticket) -> None:
        """Soft-delete ``ticket``: gone from reads, still in the exports as ``deleted``."""
        del self.tickets[ticket.id]
        old = self._ticket_keys.pop(ticket.id, None)
        if old is not None:
            self._tickets_by_external_id[old].discard(ticket.id)
        ticket.status = "deleted"
        self.touch(ticket)
        self.deleted_tickets[ticket.id] = ticket

    # -- custom fields ------------------------------------------------------------------------
    def active_fields(self, catalogue: dict[int, CustomField]) -> list[CustomField]:
        """Active custom (non-system) fields in position order."""
        return sorted(
            (f for f in catalogue.values() if f.active and not f.system),
            key=lambda f: (f.position, f.id),
        )

    def field_by_key(self, catalogue: dict[int, CustomField], key: str) -> CustomField | None:
        for definition in catalogue.values():
            if definition.key == key and definition.active:
                return definition
        return None


def _get(records: dict[int, _T], record_id: int) -> _T:
    try:
        return records[record_id]
    except KeyError:
        raise not_found() from None


def _unlink(index: dict[str, int], key: str | None, record_id: int) -> None:
    if key is not None and index.get(key) == record_id:
        del index[key]
