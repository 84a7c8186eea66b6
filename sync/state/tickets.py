"""The ticket ledger: our Zendesk ticket actions and the statuses tracking saw them in.

Tracking (``sync/loop/tracking.py``) records statuses here; the Zendesk executor asks it for open
tickets of a requester to attach to and for a person's earlier answers; escalation asks it which
tickets were solved.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sync.state import schema as t
from sync.state.database import Database
from sync.state.dialect import chunks, upsert

TICKET_KIND = "zendesk_ticket"


@dataclass(frozen=True, slots=True)
class TicketStatus:
    """The tracked status of one ticket action."""

    action_key: str
    ticket_id: int
    status: str
    ticket_updated_at: datetime | None
    solved_at: datetime | None
    reopened: int
    #: When an agent first replied in public, and the ticket's loop outcome field (since v9).
    first_reply_at: datetime | None = None
    outcome: str | None = None


@dataclass(frozen=True, slots=True)
class TicketCandidate:
    """A ticket of ours a new response could be attached to (status may be unknown yet)."""

    ticket_id: int
    email: str
    organization_id: int | None
    created_at: datetime
    status: str | None


@dataclass(frozen=True, slots=True)
class UnresolvedTicketAction:
    """A ticket action of ours whose outcome is not recorded yet: waiting, retrying or leased.

    It may have opened its ticket already (an attempt cut short or still running), so a later
    response of the same requester must not open another one meanwhile.
    """

    key: str
    email: str
    organization_id: int | None
    created_at: datetime
    #: When the customer answered: a requester's ticket actions go in this order.
    answered_at: datetime
    #: When it is due again (its next attempt, or the end of the lease it is running under).
    due_at: datetime


@dataclass(frozen=True, slots=True)
class PastResponse:
    """An answer of a person, for the customer context of a ticket or Task."""

    source: str
    response_id: str
    created_at: datetime
    score: int
    comment: str


class TicketLedger:
    """Queries over our ticket actions and their tracked statuses."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # -- tracking ------------------------------------------------------------------------------
    def first_ticket_action_at(self) -> datetime | None:
        """When the oldest ticket action was routed (None: there is none)."""
        a = t.actions
        with self._db.reading() as conn:
            value: datetime | None = conn.execute(
                sa.select(sa.func.min(a.c.created_at)).where(a.c.kind == TICKET_KIND)
            ).scalar_one()
        return value

    def statuses(
        self, keys: Iterable[str] | None = None, conn: Connection | None = None
    ) -> dict[str, TicketStatus]:
        """Tracked statuses by action key (all of them when ``keys`` is None)."""
        s = t.ticket_status
        with self._db.reading(conn) as db:
            if keys is None:
                rows = list(db.execute(sa.select(s)).all())
            else:
                rows = []
                for chunk in chunks(sorted(set(keys))):
                    rows.extend(db.execute(sa.select(s).where(s.c.action_key.in_(chunk))).all())
        return {row.action_key: _status(row) for row in rows}

    def owners(
        self, tickets: Iterable[tuple[int, str | None]], conn: Connection | None = None
    ) -> dict[int, set[str]]:
        """Ticket id -> keys of our actions on it, for (ticket id, external id) pairs: the
        creating action (by external id) and any done action that commented on it (by id)."""
        tickets = list(tickets)
        a = t.actions
        owners: dict[int, set[str]] = defaultdict(set)
        by_key = {external_id: ticket_id for ticket_id, external_id in tickets if external_id}
        with self._db.reading(conn) as db:
            for chunk in chunks(sorted(by_key)):
                known = db.execute(
                    sa.select(a.c.key).where(a.c.key.in_(chunk), a.c.kind == TICKET_KIND)
                ).scalars()
                for key in known:
                    owners[by_key[key]].add(key)
            ids = sorted(str(ticket_id) for ticket_id, _ in tickets)
            for chunk in chunks(ids):
                rows = db.execute(
                    sa.select(a.c.key, a.c.external_id).where(
                        a.c.external_id.in_(chunk), a.c.kind == TICKET_KIND, a.c.status == "done"
                    )
                ).all()
                for row in rows:
                    owners[int(row.external_id)].add(row.key)
        return owners

    def last_told(self, ticket_ids: Iterable[int]) -> dict[int, str]:
        """Ticket id -> key of the done ticket action on it whose answer came last: the one
        that made it, or the last answer put on it (answers joined into one ticket in one
        routing batch share their actions' time, so the answers' own times decide)."""
        a, r = t.actions, t.responses
        last: dict[int, str] = {}
        joined = a.join(r, sa.and_(r.c.source == a.c.source, r.c.response_id == a.c.response_id))
        with self._db.reading() as db:
            for chunk in chunks(sorted({str(i) for i in ticket_ids})):
                rows = db.execute(
                    sa.select(a.c.key, a.c.external_id)
                    .select_from(joined)
                    .where(
                        a.c.external_id.in_(chunk), a.c.kind == TICKET_KIND, a.c.status == "done"
                    )
                    .order_by(r.c.created_at, a.c.created_at, a.c.key)
                ).all()
                for row in rows:
                    last[int(row.external_id)] = row.key
        return last

    def told_after(self, plans: Iterable[tuple[str, int]]) -> set[str]:
        """Of (action key, ticket id) pairs, the keys whose ticket already shows a later answer:
        a done ticket action on it whose response was given after the key's own. An answer
        put on a ticket after a later one (routed late, or kept waiting by a retry) must not
        set the ticket's score, category and link back to its own."""
        pairs = {key: int(ticket) for key, ticket in plans}
        if not pairs:
            return set()
        a, r = t.actions, t.responses
        joined = a.join(r, sa.and_(r.c.source == a.c.source, r.c.response_id == a.c.response_id))
        answered: dict[str, datetime] = {}
        latest: dict[int, datetime] = {}
        with self._db.reading() as db:
            for chunk in chunks(sorted(pairs)):
                rows = db.execute(
                    sa.select(a.c.key, r.c.created_at).select_from(joined).where(a.c.key.in_(chunk))
                ).all()
                answered.update((row.key, row.created_at) for row in rows)
            for chunk in chunks(sorted({str(ticket) for ticket in pairs.values()})):
                rows = db.execute(
                    sa.select(a.c.external_id, sa.func.max(r.c.created_at).label("last"))
                    .select_from(joined)
                    .where(
                        a.c.external_id.in_(chunk), a.c.kind == TICKET_KIND, a.c.status == "done"
                    )
                    .group_by(a.c.external_id)
                ).all()
                latest.update((int(row.external_id), row.last) for row in rows)
        return {
            key
            for key, ticket in pairs.items()
            if key in answered and ticket in latest and latest[ticket] > answered[key]
        }

    def save_statuses(
        self, statuses: Sequence[TicketStatus], now: datetime, conn: Connection | None = None
    ) -> None:
        """Store (insert or replace) the statuses of these ticket actions."""
        if not statuses:
            return
        rows = [
            {
                "action_key": s.action_key,
                "ticket_id": s.ticket_id,
                "status": s.status,
                "ticket_updated_at": s.ticket_updated_at,
                "solved_at": s.solved_at,
                "reopened": s.reopened,
                "first_reply_at": s.first_reply_at,
                "outcome": s.outcome,
                "recorded_at": now,
            }
            for s in statuses
        ]
        with self._db.writing(conn) as db:
            db.execute(upsert(db, t.ticket_status, ["action_key"]), rows)

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
        column: Any
        with self._db.reading() as conn:
            for column, values in (
                (sa.func.lower(r.c.email), emails),
                (r.c.zendesk_org_id, org_ids),
            ):
                for chunk in chunks(values):
                    for row in conn.execute(query.where(column.in_(chunk))).all():
                        _merge(found, row)
        return sorted(found.values(), key=lambda c: (c.created_at, c.ticket_id))

    def unresolved(
        self,
        *,
        emails: Iterable[str] = (),
        organization_ids: Iterable[int] = (),
        keys: Iterable[str] = (),
    ) -> list[UnresolvedTicketAction]:
        """Ticket actions not yet done nor dead for these requesters (by email) or organizations,
        and those of these keys, in the order their customers answered."""
        emails = sorted({e.lower() for e in emails if e})
        org_ids = sorted({int(o) for o in organization_ids})
        wanted = sorted(set(keys))
        a, r = t.actions, t.responses
        query = (
            sa.select(
                a.c.key,
                a.c.created_at,
                a.c.status,
                a.c.next_attempt_at,
                a.c.lease_until,
                r.c.email,
                r.c.zendesk_org_id,
                r.c.created_at.label("answered_at"),
            )
            .select_from(
                a.join(r, sa.and_(a.c.source == r.c.source, a.c.response_id == r.c.response_id))
            )
            .where(a.c.kind == TICKET_KIND, a.c.status.in_(["pending", "claimed"]))
        )
        found: dict[str, UnresolvedTicketAction] = {}
        column: Any
        with self._db.reading() as conn:
            for column, values in (
                (sa.func.lower(r.c.email), emails),
                (r.c.zendesk_org_id, org_ids),
                (a.c.key, wanted),
            ):
                for chunk in chunks(values):
                    for row in conn.execute(query.where(column.in_(chunk))).all():
                        leased = row.status == "claimed" and row.lease_until is not None
                        found[row.key] = UnresolvedTicketAction(
                            key=row.key,
                            email=(row.email or "").lower(),
                            organization_id=int(row.zendesk_org_id) if row.zendesk_org_id else None,
                            created_at=row.created_at,
                            answered_at=row.answered_at,
                            due_at=row.lease_until if leased else row.next_attempt_at,
                        )
        return sorted(found.values(), key=lambda u: (u.answered_at, u.created_at, u.key))

    def history(self, emails: Iterable[str]) -> dict[str, list[PastResponse]]:
        """Each person's responses, oldest first by when they answered (the caller picks the
        ones around the answer at hand)."""
        r = t.responses
        wanted = sorted({e.lower() for e in emails if e})
        found: dict[str, list[PastResponse]] = defaultdict(list)
        if not wanted:
            return {}
        with self._db.reading() as conn:
            for chunk in chunks(wanted):
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
                for source, response_id, email, created_at, score, comment in rows:
                    found[email.lower()].append(
                        PastResponse(source, response_id, created_at, score, comment)
                    )
        return {
            email: sorted(rows, key=lambda p: (p.created_at, p.source, p.response_id))
            for email, rows in found.items()
        }

    def answers_around(
        self, answers: Iterable[tuple[str, str, str]], limit: int
    ) -> dict[str, list[PastResponse]]:
        """For each ``(source, response_id, email)``: up to ``limit`` of that person's answers
        on either side of it and the answer itself, merged per lower-cased email, oldest first.

        What a customer context shows, read without the rest of a long history: each answer at
        hand reads its ``2 * limit + 1`` neighbours from the index of each person's answers in
        order (``ix_nps_responses_person_order``), however many answers the person gave. An
        answer not stored (yet), or stored under another email, gets the person's whole
        history, as :meth:`history` gives it, so it can be placed by its own time.
        """
        wanted = sorted({(s, r, e.lower()) for s, r, e in answers if e})
        found: dict[str, dict[tuple[str, str], PastResponse]] = defaultdict(dict)
        with self._db.reading() as conn:
            for chunk in chunks(wanted, AROUND_CHUNK):
                for row in conn.execute(self._around(len(chunk), limit), _bound(chunk)):
                    past = PastResponse(*row[1:])
                    found[row[0]][(past.source, past.response_id)] = past
        missing = sorted(
            {email for source, rid, email in wanted if (source, rid) not in found.get(email, {})}
        )
        merged = {
            email: sorted(rows.values(), key=lambda p: (p.created_at, p.source, p.response_id))
            for email, rows in found.items()
        }
        merged.update(self.history(missing))
        return merged

    def _around(self, count: int, limit: int) -> sa.TextualSelect:
        """For ``count`` answers at hand (``s0, i0, e0`` ...): the rows within ``limit`` of each
        among its person's answers, ordered as :meth:`history` sorts them (PostgreSQL told to
        compare ids byte by byte, as Python does, so ties on the time order the same whatever
        the database's collation). Each side is a short read of the index in order: SQLite by
        a correlated list of row ids, PostgreSQL by a lateral join."""
        r = t.responses
        sql = _AROUND_SQL[self._db.dialect].format(
            values=", ".join(f"(:s{n}, :i{n}, :e{n})" for n in range(count)),
            before=limit + 1,
            after=limit,
        )
        return sa.text(sql).columns(
            sa.column("email", sa.String),
            r.c.source,
            r.c.response_id,
            r.c.created_at,
            r.c.score,
            r.c.comment,
        )


#: Answers at hand per query of :meth:`TicketLedger.answers_around`: three parameters each.
AROUND_CHUNK = 200

_HERE = """WITH h(s, i, e) AS (VALUES {values}),
here AS (SELECT h.e AS e, r.created_at AS c, r.source AS s, r.response_id AS i
         FROM h JOIN nps_responses r ON r.source = h.s AND r.response_id = h.i)
"""
_SQLITE_SIDE = """SELECT here.e, x.source, x.response_id, x.created_at, x.score, x.comment
FROM here JOIN nps_responses x ON x.rowid IN (
  SELECT y.rowid FROM nps_responses y
  WHERE lower(y.email) = here.e
    AND (y.created_at, y.source, y.response_id) {op} (here.c, here.s, here.i)
  ORDER BY y.created_at {order}, y.source {order}, y.response_id {order} LIMIT {limit})
"""
_POSTGRES_SIDE = """(SELECT y.source, y.response_id, y.created_at, y.score, y.comment
   FROM nps_responses y
   WHERE lower(y.email) = here.e
     AND (y.created_at, y.source COLLATE "C", y.response_id COLLATE "C")
         {op} (here.c, here.s COLLATE "C", here.i COLLATE "C")
   ORDER BY y.created_at {order}, y.source COLLATE "C" {order},
            y.response_id COLLATE "C" {order} LIMIT {limit})"""
_AROUND_SQL = {
    "sqlite": _HERE
    + _SQLITE_SIDE.format(op="<=", order="DESC", limit="{before}")
    + "UNION ALL\n"
    + _SQLITE_SIDE.format(op=">", order="ASC", limit="{after}"),
    "postgresql": _HERE
    + "SELECT here.e, n.source, n.response_id, n.created_at, n.score, n.comment\n"
    + "FROM here CROSS JOIN LATERAL (\n  "
    + _POSTGRES_SIDE.format(op="<=", order="DESC", limit="{before}")
    + "\n  UNION ALL\n  "
    + _POSTGRES_SIDE.format(op=">", order="ASC", limit="{after}")
    + "\n) n",
}


def _bound(answers: Sequence[tuple[str, str, str]]) -> dict[str, str]:
    """The parameters of :meth:`TicketLedger._around` for these answers at hand."""
    bound: dict[str, str] = {}
    for n, (source, response_id, email) in enumerate(answers):
        bound.update({f"s{n}": source, f"i{n}": response_id, f"e{n}": email})
    return bound


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
        first_reply_at=row.first_reply_at,
        outcome=row.outcome,
    )
