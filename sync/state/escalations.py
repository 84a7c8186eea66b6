"""Escalation steps: one row of ``nps_escalations`` per step of each task or ticket a rule
created, moving from ``waiting`` through ``scheduled`` to ``fired``, ``resolved`` or
``cancelled`` (the lifecycle is told in :mod:`sync.loop.escalation`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sync.state import schema as t
from sync.state.database import Database
from sync.state.dialect import chunks, insert_ignore


@dataclass(frozen=True, slots=True)
class PlannedStep:
    """A step to wait for: ``action`` runs ``after`` the original ``action_key`` completed."""

    action_key: str
    step: int
    source: str
    response_id: str
    rule: str
    action: str
    after: timedelta
    business_hours: bool


@dataclass(frozen=True, slots=True)
class CompletedStep:
    """A waiting step whose original action completed (``done``) or failed for good (``dead``)."""

    action_key: str
    step: int
    after: timedelta
    business_hours: bool
    action_status: str
    done_at: datetime


@dataclass(frozen=True, slots=True)
class DueStep:
    """A scheduled step whose deadline has passed, with what it watches."""

    action_key: str
    step: int
    source: str
    response_id: str
    rule: str
    action: str
    #: The original action's kind and the id of the task or ticket it created.
    kind: str
    external_id: str | None
    #: Set when something recorded the original as resolved before the deadline.
    resolved_at: datetime | None


@dataclass(frozen=True, slots=True)
class StepOutcome:
    """How a due step ended."""

    action_key: str
    step: int
    status: Literal["fired", "resolved", "cancelled"]
    resolved_at: datetime | None = None
    #: The key of the action a fired step put in the outbox.
    fired_key: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class FiredStep:
    """A step that fired: when it was due and when it fired."""

    action_key: str
    step: int
    source: str
    response_id: str
    due_at: datetime
    fired_at: datetime
    fired_key: str


class Escalations:
    """The ``nps_escalations`` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def plan(
        self, steps: Sequence[PlannedStep], now: datetime, conn: Connection | None = None
    ) -> None:
        """Store steps as ``waiting``; a step already planned is left as it is."""
        if not steps:
            return
        rows = [
            {
                "action_key": s.action_key,
                "step": s.step,
                "source": s.source,
                "response_id": s.response_id,
                "rule": s.rule,
                "action": s.action,
                "after_seconds": int(s.after.total_seconds()),
                "business_hours": s.business_hours,
                "status": "waiting",
                "created_at": now,
                "updated_at": now,
            }
            for s in steps
        ]
        with self._db.writing(conn) as db:
            db.execute(insert_ignore(db, t.escalations), rows)

    def schedule(self, deadline: Callable[[CompletedStep], datetime], now: datetime) -> int:
        """Set the deadline of each waiting step whose original completed (``deadline`` tells
        it), in one transaction; steps of an original that failed for good are cancelled.
        Returns the steps scheduled."""
        e, a = t.escalations, t.actions
        query = (
            sa.select(
                e.c.action_key,
                e.c.step,
                e.c.after_seconds,
                e.c.business_hours,
                a.c.status.label("action_status"),
                a.c.updated_at.label("done_at"),
            )
            .join(a, a.c.key == e.c.action_key)
            .where(e.c.status == "waiting", a.c.status.in_(["done", "dead"]))
        )
        scheduled = 0
        with self._db.writing() as conn:
            for row in conn.execute(query).all():
                where = sa.and_(e.c.action_key == row.action_key, e.c.step == row.step)
                if row.action_status == "dead":
                    values: dict[str, Any] = {
                        "status": "cancelled",
                        "note": "the original action failed for good",
                    }
                else:
                    completed = CompletedStep(
                        action_key=row.action_key,
                        step=row.step,
                        after=timedelta(seconds=row.after_seconds),
                        business_hours=row.business_hours,
                        action_status=row.action_status,
                        done_at=row.done_at,
                    )
                    values = {"status": "scheduled", "due_at": deadline(completed)}
                    scheduled += 1
                conn.execute(e.update().where(where).values(updated_at=now, **values))
        return scheduled

    def resolve(self, action_keys: Iterable[str], at: datetime) -> int:
        """Record that these originals are resolved; returns how many pending steps it settled."""
        e = t.escalations
        count = 0
        with self._db.writing() as conn:
            for chunk in chunks(sorted(set(action_keys))):
                result = conn.execute(
                    e.update()
                    .where(
                        e.c.action_key.in_(chunk),
                        e.c.status.in_(["waiting", "scheduled"]),
                        e.c.resolved_at.is_(None),
                    )
                    .values(resolved_at=at, updated_at=at)
                )
                count += result.rowcount
        return count

    def resolve_steps(self, steps: Iterable[tuple[str, int]], at: datetime) -> int:
        """Settle these steps (action key, step) as resolved at ``at`` unless they already
        fired, resolved or were cancelled; returns how many it settled."""
        e = t.escalations
        settled = {"status": "resolved", "resolved_at": at, "updated_at": at}
        return self._move(steps, e.c.status.in_(["waiting", "scheduled"]), settled)

    def reopen_steps(self, steps: Iterable[tuple[str, int]], at: datetime) -> int:
        """Take back the resolution of these steps (action key, step): the loop they watched
        opened again, so its deadline counts again (a step past it fires at the next pass).
        Steps that fired or were cancelled stay as they are; returns how many it reopened."""
        e = t.escalations
        again = {
            "status": sa.case((e.c.due_at.is_(None), "waiting"), else_="scheduled"),
            "resolved_at": None,
            "updated_at": at,
        }
        return self._move(steps, e.c.status == "resolved", again)

    def _move(
        self,
        steps: Iterable[tuple[str, int]],
        when: sa.ColumnElement[bool],
        values: Mapping[str, object],
    ) -> int:
        """Set ``values`` on each of ``steps`` whose row meets ``when``; how many changed."""
        e = t.escalations
        count = 0
        with self._db.writing() as conn:
            for action_key, step in sorted(set(steps)):
                result = conn.execute(
                    e.update()
                    .where(e.c.action_key == action_key, e.c.step == step, when)
                    .values(dict(values))
                )
                count += result.rowcount
        return count

    def fired(self) -> list[FiredStep]:
        """Every step that fired, oldest deadline first."""
        e = t.escalations
        query = sa.select(e).where(e.c.status == "fired").order_by(e.c.due_at, e.c.action_key)
        with self._db.reading() as conn:
            return [
                FiredStep(
                    row.action_key,
                    row.step,
                    row.source,
                    row.response_id,
                    row.due_at,
                    row.updated_at,
                    row.fired_key,
                )
                for row in conn.execute(query).all()
            ]

    def due(self, now: datetime) -> list[DueStep]:
        """Scheduled steps due by ``now``, oldest deadline first."""
        e, a = t.escalations, t.actions
        query = (
            sa.select(e, a.c.kind, a.c.external_id)
            .join(a, a.c.key == e.c.action_key)
            .where(e.c.status == "scheduled", e.c.due_at <= now)
            .order_by(e.c.due_at, e.c.action_key, e.c.step)
        )
        with self._db.reading() as conn:
            rows = conn.execute(query).all()
        return [
            DueStep(
                action_key=row.action_key,
                step=row.step,
                source=row.source,
                response_id=row.response_id,
                rule=row.rule,
                action=row.action,
                kind=row.kind,
                external_id=row.external_id,
                resolved_at=row.resolved_at,
            )
            for row in rows
        ]

    def settle(self, outcomes: Sequence[StepOutcome], now: datetime) -> None:
        """Record how due steps ended, in one transaction."""
        e = t.escalations
        with self._db.writing() as conn:
            for outcome in outcomes:
                values: dict[str, Any] = {"status": outcome.status}
                if outcome.resolved_at is not None:
                    values["resolved_at"] = outcome.resolved_at
                if outcome.fired_key is not None:
                    values["fired_key"] = outcome.fired_key
                if outcome.note is not None:
                    values["note"] = outcome.note
                conn.execute(
                    e.update()
                    .where(e.c.action_key == outcome.action_key, e.c.step == outcome.step)
                    .values(updated_at=now, **values)
                )
