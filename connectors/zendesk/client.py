"""The Zendesk connector: a thin, typed wrapper around zenpy.

Lookups are exact (users by external id in batches of 100, by email through ``email:`` queries of
validated addresses, never free text from a survey). Tickets are created in ``create_many`` jobs of
up to 100, each ticket carrying its idempotency key as ``external_id`` so an uncertain outcome is
resolved by looking the key up instead of creating again.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
from zenpy import Zenpy
from zenpy.lib.api_objects import Comment, CustomField, Organization, Ticket, User

from connectors.errors import ConfigError, RetryableError
from connectors.models import FieldUpdate, TicketSpec, WriteResult, ZendeskUser
from connectors.zendesk import errors

BATCH_SIZE = 100
T = TypeVar("T")

#: Addresses we are willing to put into an ``email:`` query: no spaces, quotes or search syntax.
_SAFE_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


@dataclass(frozen=True, slots=True)
class ZendeskCredentials:
    subdomain: str
    domain: str = "zendesk.com"
    email: str | None = None
    token: str | None = None
    oauth_token: str | None = None

    def __repr__(self) -> str:
        return f"ZendeskCredentials(subdomain={self.subdomain!r}, email={self.email!r})"


def connect(
    credentials: ZendeskCredentials,
    *,
    session: requests.Session | None = None,
    wait_budget_seconds: int = 10,
) -> Zenpy:
    """A zenpy client. It waits out a 429 at most ``wait_budget_seconds`` in all, then raises."""
    kwargs: dict[str, Any] = {
        "subdomain": credentials.subdomain,
        "domain": credentials.domain,
        "session": session,
        "disable_cache": True,
        "ratelimit_budget": wait_budget_seconds,
    }
    if credentials.oauth_token:
        kwargs["oauth_token"] = credentials.oauth_token
    elif credentials.email and credentials.token:
        kwargs["email"] = credentials.email
        kwargs["token"] = credentials.token
    else:
        raise ConfigError("give either email + API token or an OAuth token", system="zendesk")
    try:
        return Zenpy(**kwargs)
    except Exception as exc:
        raise errors.translate(exc) from exc


class ZendeskConnector:
    """Lookups and writes the engine needs, batched and translated."""

    def __init__(
        self, client: Zenpy, *, job_timeout: float = 120.0, poll_interval: float = 0.2
    ) -> None:
        self.client = client
        self.job_timeout = job_timeout
        self.poll_interval = poll_interval

    def _call(self, fn: Callable[..., T], *args: Any, record_id: str | None = None) -> T:
        try:
            return fn(*args)
        except Exception as exc:
            raise errors.translate(exc, record_id=record_id) from exc

    # -- lookups -------------------------------------------------------------------------------
    def find_users_by_external_id(self, external_ids: Iterable[str]) -> dict[str, ZendeskUser]:
        """Users whose ``external_id`` is one of these (case-insensitive), 100 per request."""
        ids = sorted({x for x in external_ids if x})
        found: dict[str, ZendeskUser] = {}
        for start in range(0, len(ids), BATCH_SIZE):
            chunk = ids[start : start + BATCH_SIZE]
            users = self._call(lambda ids: list(self.client.users(external_ids=ids)), chunk)
            for user in users:
                if user.external_id:
                    found[str(user.external_id).lower()] = _user(user)
        return found

    def find_user_by_email(self, email: str) -> ZendeskUser | None:
        """The user with exactly this email, or None. Unsafe addresses are never queried."""
        if not _SAFE_EMAIL.match(email):
            return None
        users = self._call(lambda: list(self.client.users.search(query=f'email:"{email}"')))
        for user in users:
            if (user.email or "").lower() == email.lower():
                return _user(user)
        return None

    def group_ids(self) -> dict[str, int]:
        """Group name -> id."""
        return self._call(lambda: {g.name: int(g.id) for g in self.client.groups()})

    def ticket_field_ids(self) -> dict[str, int]:
        """Custom ticket field title -> id."""
        return self._call(lambda: {f.title: int(f.id) for f in self.client.ticket_fields()})

    def find_tickets_by_key(self, keys: Iterable[str]) -> dict[str, int]:
        """Ticket id per idempotency key (``external_id``), for tickets we already created."""
        found: dict[str, int] = {}
        for key in keys:
            tickets = self._call(
                lambda k: list(self.client.tickets(external_id=k)), key, record_id=key
            )
            if tickets:
                found[key] = min(int(t.id) for t in tickets)
        return found

    # -- writes --------------------------------------------------------------------------------
    def create_tickets(self, specs: Sequence[TicketSpec]) -> list[WriteResult]:
        """Create tickets with ``create_many`` jobs of up to 100; one result per spec, in order."""
        results: list[WriteResult] = []
        for start in range(0, len(specs), BATCH_SIZE):
            chunk = specs[start : start + BATCH_SIZE]
            tickets = [_ticket(spec) for spec in chunk]
            if len(tickets) == 1:
                created = self._call(self.client.tickets.create, tickets[0], record_id=chunk[0].key)
                ticket = getattr(created, "ticket", created)
                results.append(WriteResult(chunk[0].key, True, external_id=str(ticket.id)))
                continue
            job = self._call(self.client.tickets.create, tickets)
            done = self._wait_for_job(job)
            results.extend(_job_results(done, [spec.key for spec in chunk]))
        return results

    def update_users(self, updates: Sequence[FieldUpdate]) -> list[WriteResult]:
        """Set ``user_fields`` on users, 100 per ``update_many`` job."""
        return self._update_many(
            updates, lambda u: User(id=int(u.record_id), user_fields=dict(u.values)), "users"
        )

    def update_organizations(self, updates: Sequence[FieldUpdate]) -> list[WriteResult]:
        """Set ``organization_fields`` on organizations, 100 per ``update_many`` job."""
        return self._update_many(
            updates,
            lambda u: Organization(id=int(u.record_id), organization_fields=dict(u.values)),
            "organizations",
        )

    def _update_many(
        self, updates: Sequence[FieldUpdate], build: Callable[[FieldUpdate], Any], api: str
    ) -> list[WriteResult]:
        endpoint = getattr(self.client, api)
        results: list[WriteResult] = []
        for start in range(0, len(updates), BATCH_SIZE):
            chunk = updates[start : start + BATCH_SIZE]
            objects = [build(u) for u in chunk]
            job = self._call(endpoint.update, objects)
            done = self._wait_for_job(job)
            results.extend(_job_results(done, [u.record_id for u in chunk], by_id=True))
        return results

    def _wait_for_job(self, job: Any) -> Any:
        deadline = time.monotonic() + self.job_timeout
        delay = self.poll_interval
        status = job
        while getattr(status, "status", None) in ("queued", "working"):
            if time.monotonic() > deadline:
                raise RetryableError(
                    f"job {job.id} still {status.status} after {self.job_timeout:.0f}s",
                    system=errors.SYSTEM,
                )
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
            status = self._call(lambda: self.client.job_status(id=job.id))
        if getattr(status, "status", None) != "completed":
            raise RetryableError(
                f"job {job.id} ended {getattr(status, 'status', '?')}: "
                f"{getattr(status, 'message', '')}",
                system=errors.SYSTEM,
            )
        return status


def _user(user: Any) -> ZendeskUser:
    org = user.organization_id
    return ZendeskUser(
        id=int(user.id),
        email=(user.email or "").lower(),
        name=user.name or "",
        organization_id=int(org) if org else None,
    )


def _ticket(spec: TicketSpec) -> Ticket:
    ticket = Ticket(
        subject=spec.subject[:250],
        comment=Comment(body=spec.body, public=False),
        priority=spec.priority,
        tags=list(spec.tags),
        external_id=spec.key,
    )
    if spec.requester_id:
        ticket.requester_id = spec.requester_id
    elif spec.requester_email:
        ticket.requester = User(email=spec.requester_email, name=spec.requester_name or None)
    if spec.organization_id:
        ticket.organization_id = spec.organization_id
    if spec.group_id:
        ticket.group_id = spec.group_id
    if spec.custom_fields:
        ticket.custom_fields = [CustomField(id=k, value=v) for k, v in spec.custom_fields.items()]
    return ticket


def _job_results(job: Any, keys: Sequence[str], *, by_id: bool = False) -> list[WriteResult]:
    """One result per key, from a finished job's ``results``.

    ``create_many`` results carry the ``index`` of each item; ``update_many`` results carry the
    record ``id`` instead, so updates are matched by id (``by_id``).
    """
    found: dict[str, Any] = {}
    for position, item in enumerate(job.results or []):
        index = getattr(item, "index", None)
        if by_id:
            found[str(getattr(item, "id", ""))] = item
        else:
            found[keys[int(index if index is not None else position)]] = item
    results: list[WriteResult] = []
    for key in keys:
        item = found.get(key)
        if item is None:
            results.append(WriteResult(key, False, error="no result in job status", code="missing"))
            continue
        error = getattr(item, "error", None) or getattr(item, "details", None)
        success = getattr(item, "success", None)
        if error or success is False:
            results.append(WriteResult(key, False, error=str(error or "failed"), code="job"))
        else:
            results.append(WriteResult(key, True, external_id=str(getattr(item, "id", "") or "")))
    return results
