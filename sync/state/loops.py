"""Closed loops: the Tasks and tickets of each response as last seen, the loop state derived from
them (``nps_loops``) and every transition of it (``nps_loop_events``).

The states and how they are read from the Tasks and tickets are told in :mod:`sync.loop.states`;
this module only stores and reads them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from sync.state import schema as t
from sync.state.batched import BatchStatement
from sync.state.database import Database
from sync.state.dialect import chunks, upsert

TASK_KIND = "salesforce_task"
TICKET_KIND = "zendesk_ticket"
#: States a loop ends in; the others may still change.
ENDED = frozenset({"resolved", "closed"})


@dataclass(frozen=True, slots=True)
class TaskStatusRow:
    """Where the Task of one Task action stood when it was last read."""

    action_key: str
    task_id: str
    status: str
    closed: bool
    completed_at: datetime | None
    owner_id: str | None
    outcome: str | None


@dataclass(frozen=True, slots=True)
class Followup:
    """One Task or ticket a rule made for a response, with what is known of where it stands."""

    key: str
    kind: str
    external_id: str
    #: When the Task or ticket was made (its action done).
    created_at: datetime
    closed: bool = False
    closed_at: datetime | None = None
    #: Tickets: when an agent first replied in public.
    replied_at: datetime | None = None
    #: The loop outcome field as written (Salesforce picklist label or Zendesk tag).
    outcome: str | None = None
    owner_id: str | None = None
    #: The rule and action that made it.
    rule: str = ""
    action: str = ""
    #: A Task completed by the status mirror (its ticket was solved), not by its owner.
    mirrored: bool = False


@dataclass(frozen=True, slots=True)
class Loop:
    """The loop of one response now."""

    source: str
    response_id: str
    state: str
    opened_at: datetime
    contacted_at: datetime | None = None
    ended_at: datetime | None = None
    reason: str | None = None
    outcome: str | None = None
    owner_id: str | None = None


@dataclass(frozen=True, slots=True)
class LoopEvent:
    """A transition of a loop: the state reached, when, and what told it."""

    source: str
    response_id: str
    state: str
    at: datetime
    origin: str
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class LoopFacts:
    """A response with its loop (None when no Task or ticket was made for it), for reports."""

    source: str
    response_id: str
    email: str
    score: int
    answered_at: datetime
    account_id: str | None
    rules: tuple[str, ...]
    loop: Loop | None
    #: The matched account's owner (name, else email) and tier, as routing saw them.
    owner: str | None = None
    tier: str | None = None
    #: A resurvey of this response's loop was sent to the survey tool.
    resurveyed: bool = False
    #: The loop this answer is a resurvey of (``source:response id``), from its properties.
    follows: str | None = None


class Loops:
    """The loop tables and the Task statuses they are read from."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # -- Tasks ---------------------------------------------------------------------------------
    def tasks_to_read(self, since: datetime, before: datetime) -> dict[str, str]:
        """Task id -> action key of the Tasks made from ``since`` to ``before`` not yet seen
        closed."""
        a, s = t.actions, t.task_status
        query = (
            sa.select(a.c.key, a.c.external_id)
            .select_from(a.outerjoin(s, s.c.action_key == a.c.key))
            .where(
                a.c.kind == TASK_KIND,
                a.c.status == "done",
                a.c.external_id.is_not(None),
                a.c.created_at >= since,
                a.c.updated_at < before,
                sa.or_(s.c.closed.is_(None), s.c.closed.is_(False)),
                a.c.key.not_in(_escalation_keys()),
            )
        )
        with self._db.reading() as conn:
            return {str(row.external_id): row.key for row in conn.execute(query).all()}

    def save_task_statuses(self, rows: Sequence[TaskStatusRow], now: datetime) -> None:
        if not rows:
            return
        values = [
            {
                "action_key": r.action_key,
                "task_id": r.task_id,
                "status": r.status,
                "closed": r.closed,
                "completed_at": r.completed_at,
                "owner_id": r.owner_id,
                "outcome": r.outcome,
                "recorded_at": now,
            }
            for r in rows
        ]
        with self._db.writing() as db:
            db.execute(upsert(db, t.task_status, ["action_key"]), values)

    # -- loops ---------------------------------------------------------------------------------
    def followups(self, since: datetime) -> dict[tuple[str, str], list[Followup]]:
        """The Tasks and tickets made since ``since`` (not those of escalation steps), by
        response."""
        a, ts, ks = t.actions, t.task_status, t.ticket_status
        query = (
            sa.select(
                a.c.key,
                a.c.kind,
                a.c.source,
                a.c.response_id,
                a.c.external_id,
                a.c.rule,
                a.c.action,
                a.c.updated_at.label("made_at"),
                ts.c.closed.label("task_closed"),
                ts.c.completed_at,
                ts.c.owner_id,
                ts.c.outcome.label("task_outcome"),
                ks.c.status.label("ticket_status"),
                ks.c.solved_at,
                ks.c.first_reply_at,
                ks.c.outcome.label("ticket_outcome"),
            )
            .select_from(
                a.outerjoin(ts, ts.c.action_key == a.c.key).outerjoin(
                    ks, ks.c.action_key == a.c.key
                )
            )
            .where(
                a.c.kind.in_([TASK_KIND, TICKET_KIND]),
                a.c.status == "done",
                a.c.external_id.is_not(None),
                a.c.created_at >= since,
                # the Tasks and tickets escalation steps made are not the loop's own
                a.c.key.not_in(_escalation_keys()),
            )
        )
        found: dict[tuple[str, str], list[Followup]] = defaultdict(list)
        with self._db.reading() as conn:
            for row in conn.execute(query).all():
                found[(row.source, row.response_id)].append(_followup(row))
        return dict(found)

    def current(self, keys: Iterable[tuple[str, str]] | None = None) -> dict[tuple[str, str], Loop]:
        """The stored loops of these responses (all of them when ``keys`` is None)."""
        lp = t.loops
        found: dict[tuple[str, str], Loop] = {}
        with self._db.reading() as conn:
            if keys is None:
                rows = conn.execute(sa.select(lp)).all()
            else:
                wanted = sorted(set(keys))
                rows = []
                for chunk in chunks([r for _s, r in wanted]):
                    rows.extend(conn.execute(sa.select(lp).where(lp.c.response_id.in_(chunk))))
                rows = [row for row in rows if (row.source, row.response_id) in set(wanted)]
        for row in rows:
            found[(row.source, row.response_id)] = _loop(row)
        return found

    def save(self, loops: Sequence[Loop], events: Sequence[LoopEvent], now: datetime) -> None:
        """Store new loop states and their transitions in one transaction."""
        if not loops and not events:
            return
        with self._db.writing() as db:
            if loops:
                db.execute(
                    upsert(db, t.loops, ["source", "response_id"]),
                    [
                        {
                            "source": lp.source,
                            "response_id": lp.response_id,
                            "state": lp.state,
                            "opened_at": lp.opened_at,
                            "contacted_at": lp.contacted_at,
                            "ended_at": lp.ended_at,
                            "reason": lp.reason,
                            "outcome": lp.outcome,
                            "owner_id": lp.owner_id,
                            "updated_at": now,
                        }
                        for lp in loops
                    ],
                )
            if events:
                _INSERT_EVENTS.execute(
                    db,
                    [
                        {
                            "source": e.source,
                            "response_id": e.response_id,
                            "state": e.state,
                            "at": e.at,
                            "origin": e.origin,
                            "reason": e.reason,
                            "recorded_at": now,
                        }
                        for e in events
                    ],
                )

    def events(self, source: str, response_id: str) -> list[LoopEvent]:
        """A loop's transitions in the order they were recorded."""
        e = t.loop_events
        query = (
            sa.select(e)
            .where(e.c.source == source, e.c.response_id == response_id)
            .order_by(e.c.id)
        )
        with self._db.reading() as conn:
            return [
                LoopEvent(row.source, row.response_id, row.state, row.at, row.origin, row.reason)
                for row in conn.execute(query).all()
            ]

    def facts(
        self,
        since: datetime | None = None,
        keys: Iterable[tuple[str, str]] | None = None,
        *,
        account_ids: Iterable[str] | None = None,
    ) -> list[LoopFacts]:
        """Every response answered since ``since`` (or these responses, or those matched to
        these accounts) with its loop, oldest first."""
        r, lp = t.responses, t.loops
        query = (
            sa.select(
                r.c.source,
                r.c.response_id,
                r.c.email,
                r.c.score,
                r.c.created_at,
                r.c.account_id,
                r.c.decision,
                r.c.match,
                r.c.data,
                lp.c.state,
                lp.c.opened_at,
                lp.c.contacted_at,
                lp.c.ended_at,
                lp.c.reason,
                lp.c.outcome,
                lp.c.owner_id,
            )
            .select_from(
                r.outerjoin(
                    lp, sa.and_(lp.c.source == r.c.source, lp.c.response_id == r.c.response_id)
                )
            )
            .order_by(r.c.created_at, r.c.source, r.c.response_id)
        )
        if since is not None:
            query = query.where(r.c.created_at >= since)
        rows: list[Any] = []
        with self._db.reading() as conn:
            if account_ids is not None:
                for chunk in chunks(sorted(set(account_ids))):
                    rows += conn.execute(query.where(r.c.account_id.in_(chunk))).all()
            elif keys is None:
                rows = list(conn.execute(query).all())
            else:
                wanted = set(keys)
                for chunk in chunks(sorted({rid for _s, rid in wanted})):
                    found = conn.execute(query.where(r.c.response_id.in_(chunk))).all()
                    rows += [row for row in found if (row.source, row.response_id) in wanted]
        resurveyed = self._resurveyed({(row.source, row.response_id) for row in rows})
        out: list[LoopFacts] = []
        for row in rows:
            loop = _loop(row) if row.state is not None else None
            out.append(
                LoopFacts(
                    source=row.source,
                    response_id=row.response_id,
                    email=(row.email or "").lower(),
                    score=int(row.score),
                    answered_at=row.created_at,
                    account_id=row.account_id,
                    rules=_matched_rules(row.decision),
                    loop=loop,
                    owner=_account_text(row.match, "owner_name", "owner_email"),
                    tier=_account_text(row.match, "tier"),
                    resurveyed=(row.source, row.response_id) in resurveyed,
                    follows=_follows(row.data),
                )
            )
        return out

    def last_answers(self, account_ids: Iterable[str]) -> dict[str, datetime]:
        """When anyone of each account last answered (accounts without an answer are absent)."""
        r = t.responses
        found: dict[str, datetime] = {}
        with self._db.reading() as conn:
            for chunk in chunks(sorted(set(account_ids))):
                rows = conn.execute(
                    sa.select(r.c.account_id, sa.func.max(r.c.created_at).label("last"))
                    .where(r.c.account_id.in_(chunk))
                    .group_by(r.c.account_id)
                ).all()
                found.update({row.account_id: row.last for row in rows if row.last is not None})
        return found

    def respondents(
        self, account_ids: Iterable[str], since: datetime
    ) -> list[tuple[str, str, datetime]]:
        """(account id, email in lower case, answered at) of every answer of these accounts
        since ``since``."""
        r = t.responses
        found: list[tuple[str, str, datetime]] = []
        with self._db.reading() as conn:
            for chunk in chunks(sorted(set(account_ids))):
                rows = conn.execute(
                    sa.select(r.c.account_id, r.c.email, r.c.created_at).where(
                        r.c.account_id.in_(chunk), r.c.created_at > since
                    )
                ).all()
                found += [
                    (row.account_id, (row.email or "").lower(), row.created_at)
                    for row in rows
                    if row.email
                ]
        return found

    def _resurveyed(self, responses: set[tuple[str, str]]) -> set[tuple[str, str]]:
        """Those of ``responses`` whose resurvey was sent (done with the tool's person id)."""
        a = t.actions
        found: set[tuple[str, str]] = set()
        with self._db.reading() as conn:
            for chunk in chunks(sorted({rid for _s, rid in responses})):
                rows = conn.execute(
                    sa.select(a.c.source, a.c.response_id).where(
                        a.c.response_id.in_(chunk),
                        a.c.kind == RESURVEY_KIND,
                        a.c.status == "done",
                        a.c.external_id.is_not(None),
                        a.c.external_id != "",
                    )
                ).all()
                found.update((r.source, r.response_id) for r in rows)
        return found & responses


#: The outbox kind of resurvey actions, and the survey property that names the loop an answer
#: follows (:mod:`sync.stages.executors.resurvey`).
RESURVEY_KIND = "resurvey"
LOOP_PROPERTY = "NPS Loop"


def _follows(data: Any) -> str | None:
    properties = data.get("properties") if isinstance(data, dict) else None
    value = properties.get(LOOP_PROPERTY) if isinstance(properties, dict) else None
    return str(value) if value else None


def _escalation_keys() -> Any:
    """The keys of the actions escalation steps fired."""
    e = t.escalations
    return sa.select(e.c.fired_key).where(e.c.fired_key.is_not(None))


def _account_text(match: Any, *keys: str) -> str | None:
    account = match.get("account") if isinstance(match, dict) else None
    if not isinstance(account, dict):
        return None
    return next((str(account[k]) for k in keys if account.get(k)), None)


def _matched_rules(decision: Any) -> tuple[str, ...]:
    if not isinstance(decision, dict):
        return ()
    return tuple(name for name in decision.get("rules") or () if isinstance(name, str))


def _followup(row: Any) -> Followup:
    if row.kind == TASK_KIND:
        closed = bool(row.task_closed)
        return Followup(
            key=row.key,
            kind=row.kind,
            external_id=str(row.external_id),
            created_at=row.made_at,
            closed=closed,
            closed_at=row.completed_at if closed else None,
            outcome=row.task_outcome,
            owner_id=row.owner_id,
            rule=row.rule,
            action=row.action,
        )
    solved = row.ticket_status in ("solved", "closed")
    return Followup(
        key=row.key,
        kind=row.kind,
        external_id=str(row.external_id),
        created_at=row.made_at,
        closed=solved,
        closed_at=row.solved_at if solved else None,
        replied_at=row.first_reply_at,
        outcome=row.ticket_outcome,
        rule=row.rule,
        action=row.action,
    )


def _loop(row: Any) -> Loop:
    return Loop(
        source=row.source,
        response_id=row.response_id,
        state=row.state,
        opened_at=row.opened_at,
        contacted_at=row.contacted_at,
        ended_at=row.ended_at,
        reason=row.reason,
        outcome=row.outcome,
        owner_id=row.owner_id,
    )


_INSERT_EVENTS = BatchStatement(lambda _backend: t.loop_events.insert())
