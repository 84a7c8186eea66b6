"""Ticket status tracking: which of our Zendesk tickets were solved, and which were reopened.

``track_tickets`` follows Zendesk's cursor-based incremental ticket export. Every ticket we
created carries its action key as ``external_id``, and a ticket we commented on is the
``external_id`` of the commenting action, so the export's tickets map back to our actions
without a lookup per ticket. The status of each ticket action lands in ``nps_ticket_status``
together with the export cursor (source ``zendesk:tickets``) in one transaction: a crash re-reads
at most one page, and re-reading a page changes nothing.

:class:`TicketLedger` holds the queries over our own ticket actions that tracking and the
Zendesk executor share (open NPS tickets of a requester, a person's earlier answers).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from connectors.zendesk.records import ExportPage, TicketState
from sync.state import StateStore
from sync.state import schema as t

log = logging.getLogger(__name__)

CURSOR_SOURCE = "zendesk:tickets"
TICKET_KIND = "zendesk_ticket"
#: The first export starts this long before our first ticket action was routed.
START_MARGIN = timedelta(minutes=5)
#: Zendesk refuses a ``start_time`` less than a minute old.
MIN_START_AGE = timedelta(seconds=61)
SOLVED = frozenset({"solved", "closed"})
_CHUNK = 500


class TicketExport(Protocol):
    """What tracking needs from Zendesk."""

    def export_tickets(
        self, *, cursor: str | None = None, start_time: int | None = None
    ) -> ExportPage: ...


@dataclass
class TrackingStats:
    pages: int = 0
    #: Tickets in the pages read (everyone's), and those that belong to our actions.
    seen: int = 0
    tracked: int = 0
    #: Ticket actions whose ticket became solved (or closed), or was reopened after that.
    solved: int = 0
    reopened: int = 0
    #: True when the export had nothing more to give this pass.
    caught_up: bool = False


@dataclass(frozen=True, slots=True)
class TicketStatus:
    """The tracked status of one ticket action."""

    action_key: str
    ticket_id: int
    status: str
    ticket_updated_at: datetime | None
    solved_at: datetime | None
    reopened: int


@dataclass(frozen=True, slots=True)
class TicketCandidate:
    """A ticket of ours a new response could be attached to (status may be unknown yet)."""

    ticket_id: int
    email: str
    organization_id: int | None
    created_at: datetime
    status: str | None


@dataclass(frozen=True, slots=True)
class PastResponse:
    """An earlier answer of a person, for the context of a ticket."""

    source: str
    response_id: str
    created_at: datetime
    score: int
    comment: str


class TicketLedger:
    """Queries over our ticket actions and their tracked statuses, on the state store's tables."""

    def __init__(self, store: StateStore) -> None:
        self.store = store

    # -- tracking ------------------------------------------------------------------------------
    def first_ticket_action_at(self) -> datetime | None:
        """When the oldest ticket action was routed (None: there is none)."""
        a = t.actions
        with self.store.engine.connect() as conn:
            value: datetime | None = conn.execute(
                sa.select(sa.func.min(a.c.created_at)).where(a.c.kind == TICKET_KIND)
            ).scalar_one()
        return value

    def statuses(self, keys: Iterable[str] | None = None) -> dict[str, TicketStatus]:
        """Tracked statuses by action key (all of them when ``keys`` is None)."""
        s = t.ticket_status
        with self.store.engine.connect() as conn:
            if keys is None:
                rows = list(conn.execute(sa.select(s)).all())
            else:
                rows = []
                for chunk in _chunks(sorted(set(keys))):
                    rows.extend(conn.execute(sa.select(s).where(s.c.action_key.in_(chunk))).all())
        return {row.action_key: _status(row) for row in rows}

    def record_page(self, page: ExportPage, now: datetime, stats: TrackingStats) -> None:
        """Store the statuses of our tickets on ``page`` and the cursor after it, atomically."""
        tickets = {ticket.id: ticket for ticket in page.tickets}
        with self.store.transaction() as conn:
            owners = self._owners(conn, tickets.values())
            keys = [key for ticket_keys in owners.values() for key in ticket_keys]
            s = t.ticket_status
            before: dict[str, Any] = {}
            for chunk in _chunks(sorted(keys)):
                rows = conn.execute(sa.select(s).where(s.c.action_key.in_(chunk))).all()
                before.update({row.action_key: row for row in rows})
            rows_out: list[dict[str, Any]] = []
            for ticket_id, ticket_keys in owners.items():
                ticket = tickets[ticket_id]
                stats.tracked += 1
                for key in ticket_keys:
                    rows_out.append(_next_row(key, ticket, before.get(key), now, stats))
            if rows_out:
                conn.execute(*self._upsert(s, ["action_key"], rows_out))
            if page.after_cursor:
                cursor = {"source": CURSOR_SOURCE, "value": page.after_cursor, "updated_at": now}
                conn.execute(*self._upsert(t.cursors, ["source"], [cursor]))

    def _owners(self, conn: Connection, tickets: Iterable[TicketState]) -> dict[int, set[str]]:
        """Ticket id -> keys of our actions on it (the creating key and any commenting ones)."""
        tickets = list(tickets)
        a = t.actions
        owners: dict[int, set[str]] = defaultdict(set)
        by_key = {ticket.external_id: ticket.id for ticket in tickets if ticket.external_id}
        for chunk in _chunks(sorted(by_key)):
            known = conn.execute(
                sa.select(a.c.key).where(a.c.key.in_(chunk), a.c.kind == TICKET_KIND)
            ).scalars()
            for key in known:
                owners[by_key[key]].add(key)
        ids = sorted(str(ticket.id) for ticket in tickets)
        for chunk in _chunks(ids):
            rows = conn.execute(
                sa.select(a.c.key, a.c.external_id).where(
                    a.c.external_id.in_(chunk), a.c.kind == TICKET_KIND, a.c.status == "done"
                )
            ).all()
            for row in rows:
                owners[int(row.external_id)].add(row.key)
        return owners

    def _upsert(
        self, table: sa.Table, keys: Sequence[str], rows: list[dict[str, Any]]
    ) -> tuple[Any, list[dict[str, Any]]]:
        module: Any = postgresql if self.store.dialect == "postgresql" else sqlite
        stmt = module.insert(table)
        update = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
        return stmt.on_conflict_do_update(index_elements=list(keys), set_=update), rows

    # -- attaching and context -----------------------------------------------------------------
    def ticket_candidates(
        self,
        *,
        emails: Iterable[str] = (),
        organization_ids: Iterable[int] = (),
        since: datetime,
    ) -> list[TicketCandidate]:
        """Tickets our actions created or commented on since ``since``, for these requesters
        (by email) or organizations; one per ticket, with its tracked status if known."""
        emails = sorted({e.lower() for e in emails if e})
        org_ids = sorted({int(o) for o in organization_ids})
        if not emails and not org_ids:
            return []
        a, r, s = t.actions, t.responses, t.ticket_status
        query = (
            sa.select(
                a.c.external_id,
                a.c.created_at,
                r.c.email,
                r.c.zendesk_org_id,
                s.c.status,
            )
            .select_from(
                a.join(
                    r, sa.and_(a.c.source == r.c.source, a.c.response_id == r.c.response_id)
                ).outerjoin(s, s.c.action_key == a.c.key)
            )
            .where(
                a.c.kind == TICKET_KIND,
                a.c.status == "done",
                a.c.external_id.is_not(None),
                a.c.created_at >= since,
            )
        )
        found: dict[int, TicketCandidate] = {}
        with self.store.engine.connect() as conn:
            for column, values in (
                (sa.func.lower(r.c.email), emails),
                (r.c.zendesk_org_id, org_ids),
            ):
                for chunk in _chunks(list(values)):
                    for row in conn.execute(query.where(column.in_(chunk))).all():
                        _merge(found, row)
        return sorted(found.values(), key=lambda c: (c.created_at, c.ticket_id))

    def history(self, emails: Iterable[str], limit: int) -> dict[str, list[PastResponse]]:
        """Each person's responses, newest first, at most ``limit + 1`` (the caller drops the one
        at hand)."""
        r = t.responses
        wanted = sorted({e.lower() for e in emails if e})
        found: dict[str, list[PastResponse]] = defaultdict(list)
        if limit < 0 or not wanted:
            return {}
        with self.store.engine.connect() as conn:
            for chunk in _chunks(wanted):
                rows = conn.execute(
                    sa.select(
                        r.c.source,
                        r.c.response_id,
                        r.c.email,
                        r.c.created_at,
                        r.c.score,
                        r.c.comment,
                    ).where(sa.func.lower(r.c.email).in_(chunk))
                ).all()
                for row in rows:
                    found[row.email.lower()].append(
                        PastResponse(
                            row.source, row.response_id, row.created_at, row.score, row.comment
                        )
                    )
        return {
            email: sorted(rows, key=lambda p: p.created_at, reverse=True)[: limit + 1]
            for email, rows in found.items()
        }


def track_tickets(
    store: StateStore, helpdesk: TicketExport, now: datetime, *, max_pages: int = 5
) -> TrackingStats:
    """Read the incremental export from the stored cursor; record our tickets' statuses.

    Without a cursor, the export starts shortly before our first ticket action; with no ticket
    action yet there is nothing to follow and no request is made.
    """
    ledger = TicketLedger(store)
    stats = TrackingStats()
    cursor = store.get_cursor(CURSOR_SOURCE)
    start_time: int | None = None
    if cursor is None:
        first = ledger.first_ticket_action_at()
        if first is None:
            stats.caught_up = True
            return stats
        start_time = int(min(first - START_MARGIN, now - MIN_START_AGE).timestamp())
    while stats.pages < max_pages:
        if cursor is not None:
            page = helpdesk.export_tickets(cursor=cursor)
        else:
            page = helpdesk.export_tickets(start_time=start_time)
        stats.pages += 1
        stats.seen += len(page.tickets)
        ledger.record_page(page, now, stats)
        cursor = page.after_cursor or cursor
        if page.end_of_stream or not page.after_cursor:
            stats.caught_up = True
            break
    log.info(
        "ticket tracking: %d pages, %d of our tickets, %d solved, %d reopened",
        stats.pages,
        stats.tracked,
        stats.solved,
        stats.reopened,
    )
    return stats


def _next_row(
    key: str, ticket: TicketState, before: Any, now: datetime, stats: TrackingStats
) -> dict[str, Any]:
    solved = ticket.status in SOLVED
    was_solved = before is not None and before.status in SOLVED
    solved_at = before.solved_at if before is not None else None
    reopened = int(before.reopened) if before is not None else 0
    if solved and not was_solved:
        solved_at = ticket.updated_at or now
        stats.solved += 1
    elif not solved and was_solved:
        solved_at = None
        reopened += 1
        stats.reopened += 1
    return {
        "action_key": key,
        "ticket_id": ticket.id,
        "status": ticket.status,
        "ticket_updated_at": ticket.updated_at,
        "solved_at": solved_at,
        "reopened": reopened,
        "recorded_at": now,
    }


def _merge(found: dict[int, TicketCandidate], row: Any) -> None:
    """Fold one action row into the candidate of its ticket: first creation, any known status."""
    try:
        ticket_id = int(row.external_id)
    except ValueError:
        return
    candidate = TicketCandidate(
        ticket_id=ticket_id,
        email=(row.email or "").lower(),
        organization_id=int(row.zendesk_org_id) if row.zendesk_org_id else None,
        created_at=row.created_at,
        status=row.status,
    )
    known = found.get(ticket_id)
    if known is not None:
        first = known if known.created_at <= candidate.created_at else candidate
        candidate = replace(first, status=known.status or candidate.status)
    found[ticket_id] = candidate


def _status(row: Any) -> TicketStatus:
    return TicketStatus(
        action_key=row.action_key,
        ticket_id=int(row.ticket_id),
        status=row.status,
        ticket_updated_at=row.ticket_updated_at,
        solved_at=row.solved_at,
        reopened=int(row.reopened),
    )


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]
