"""Initial account content: the default catalogue and the seed book of business."""

from __future__ import annotations

from collections.abc import Mapping

from emulators.seed_model import Seed, SeedTicket

from . import fields, render
from .clock import epoch
from .records import (
    DEFAULT_BRAND_ID,
    Brand,
    Comment,
    Group,
    Organization,
    Ticket,
    User,
    normalize_tags,
)
from .store import Store

DEFAULT_GROUPS = ("Support", "Customer Success")
SEEDED_AGE_SECONDS = 365 * 24 * 3600
DEFAULT_BRAND_NAME = "Acme"


def install_defaults(store: Store) -> None:
    """Groups and custom fields every emulated account starts with."""
    now = store.clock.now()
    brand = Brand(DEFAULT_BRAND_ID, DEFAULT_BRAND_NAME, "acme", now, now, default=True)
    store.brands[brand.id] = brand
    for name in DEFAULT_GROUPS:
        group = Group(store.new_id(), name, now, now)
        store.groups[group.id] = group
    catalogues = (
        (store.ticket_fields, fields.SYSTEM_TICKET_FIELDS, True),
        (store.ticket_fields, fields.DEFAULT_TICKET_FIELDS, False),
        (store.user_fields, fields.DEFAULT_USER_FIELDS, False),
        (store.organization_fields, fields.DEFAULT_ORGANIZATION_FIELDS, False),
    )
    for catalogue, specs, system in catalogues:
        for definition in fields.build(specs, store.new_id, now, system=system):
            catalogue[definition.id] = definition


def add_staff(store: Store, email: str, name: str, role: str = "admin") -> User:
    now = store.clock.now()
    user = User(store.new_id(), name, email.strip().lower(), now, now, role=role, verified=True)
    store.index_user(user)
    return user


def load(store: Store, seed: Seed) -> None:
    """Groups, organizations, users and tickets of ``seed``, keeping their ids.

    A seeded group named like a default group replaces it. Raises ``ValueError`` when a seeded
    record would silently overwrite a different existing one.
    """
    # Seeded records existed long before the run (and are already in the search index).
    now = store.clock.now() - SEEDED_AGE_SECONDS
    for seed_group in seed.groups:
        for existing in [g for g in store.groups.values() if g.name == seed_group.name]:
            del store.groups[existing.id]
        _claim(store.groups, seed_group.id, "group")
        store.groups[seed_group.id] = Group(seed_group.id, seed_group.name, now, now)
        store.reserve(seed_group.id)
    for seed_org in seed.organizations:
        _claim(store.organizations, seed_org.id, "organization")
        store.index_organization(
            Organization(
                id=seed_org.id,
                name=seed_org.name,
                created_at=now,
                updated_at=now,
                external_id=seed_org.external_id,
                domain_names=[d.lower() for d in seed_org.domain_names],
            )
        )
        store.reserve(seed_org.id)
    for seed_user in seed.zendesk_users:
        _claim(store.users, seed_user.id, "user")
        store.index_user(
            User(
                id=seed_user.id,
                name=seed_user.name,
                email=seed_user.email.strip().lower() if seed_user.email else None,
                created_at=now,
                updated_at=now,
                role=seed_user.role,
                external_id=seed_user.external_id,
                organization_id=seed_user.organization_id,
                verified=True,
            )
        )
        store.reserve(seed_user.id)
    for seed_ticket in sorted(seed.tickets, key=lambda t: (epoch(t.updated_at), t.id)):
        _claim(store.tickets, seed_ticket.id, "ticket")
        store.index_ticket(_ticket(store, seed_ticket))
        store.reserve_ticket(seed_ticket.id)


def _ticket(store: Store, seed_ticket: SeedTicket) -> Ticket:
    created, updated = epoch(seed_ticket.created_at), epoch(seed_ticket.updated_at)
    ticket = Ticket(
        id=seed_ticket.id,
        subject=seed_ticket.subject,
        description=seed_ticket.description,
        requester_id=seed_ticket.requester_id,
        submitter_id=seed_ticket.requester_id,
        created_at=created,
        updated_at=updated,
        status=seed_ticket.status,
        priority=seed_ticket.priority or None,
        organization_id=seed_ticket.organization_id,
        tags=normalize_tags(list(seed_ticket.tags)),
        via_channel="web",
        sequence=store.next_sequence(),
    )
    first = Comment(
        id=store.new_id(),
        author_id=seed_ticket.requester_id,
        body=seed_ticket.description,
        public=True,
        created_at=created,
        audit_id=store.new_id(),
    )
    ticket.comments.append(first)
    ticket.audits.append(
        render.audit(
            ticket.id, first.audit_id, first.author_id, created, [render.comment_event(first)]
        )
    )
    return ticket


def _claim(records: Mapping[int, object], record_id: int, kind: str) -> None:
    if record_id in records:
        raise ValueError(f"seed {kind} id {record_id} is already taken in the emulator")
