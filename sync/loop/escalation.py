"""Escalation steps: when a rule's task or ticket is still open some (business) hours after it was
created, run another action (``escalate: [{after: 4h, business_hours: true, action: cx_channel}]``).

Each step of each Salesforce Task or Zendesk ticket a rule creates is one row of
``nps_escalations``, which moves through:

- ``waiting``: planned when the response is routed (before its decision is recorded, so a crash
  cannot lose it), until the original action is done;
- ``scheduled``: the original was created; ``due_at`` is its completion time plus the step's
  delay, counted in business hours (Monday to Friday, in the configured time zone) when asked;
- ``fired``: at the deadline the original was still open, so the step's action was put in the
  outbox, keyed ``(source, response, rule, "escalate:<step>:<action>")``: a rule whose task *and*
  ticket are both open escalates once, and a repeated pass never twice;
- ``resolved``: the original was closed by the deadline;
- ``cancelled``: the original failed for good, or the action left the rules.

Whether an original is resolved is a seam (:class:`ResolutionCheck`): a Task is asked of Salesforce
(``IsClosed``) by :class:`TaskStatusCheck`; a ticket is resolved once ticket tracking
(:mod:`sync.loop.tracking`) has seen it solved or closed (:class:`TrackedTicketStatus`). Anything
else may record a resolution with :func:`mark_resolved`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from functools import partial
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from connectors.errors import ConnectorError
from rules import Ruleset
from sync.core.ports import TaskStatus
from sync.core.retry import RetryPolicy
from sync.loop.tracking import SOLVED
from sync.ops.replay import rebuild_fields
from sync.stages.route import RoutingContext, build_intent
from sync.state import ActionIntent, RoutingOutcome, StateStore, StoredResponse
from sync.state import schema as t
from sync.state.dialect import insert_ignore

log = logging.getLogger(__name__)

#: Action types whose outcome can stay open; only these are escalated.
ESCALATING_KINDS = frozenset({"salesforce_task", "zendesk_ticket"})


@dataclass(frozen=True, slots=True)
class BusinessHours:
    """Monday to Friday, ``start_hour`` to ``end_hour`` local time in ``timezone``."""

    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    start_hour: int = 9
    end_hour: int = 17

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """``start`` plus ``duration`` of business time, in UTC.

        Time outside business hours does not count: 2 business hours from Friday 16:00 is
        Monday 10:00. Clock changes happen at night, so wall-clock arithmetic within a working
        day is exact.
        """
        tz = self.timezone
        remaining = duration
        cursor = start.astimezone(tz)
        day = cursor.date()
        while True:
            midnight = datetime.combine(day, time(0), tz)
            opens = midnight + timedelta(hours=self.start_hour)
            closes = midnight + timedelta(hours=self.end_hour)
            begin = max(cursor, opens)
            if day.weekday() < 5 and begin < closes:
                available = closes - begin
                if remaining <= available:
                    return (begin + remaining).astimezone(UTC)
                remaining -= available
            day += timedelta(days=1)
            cursor = datetime.combine(day, time(0), tz)


def deadline(
    done_at: datetime, after: timedelta, business_hours: bool, hours: BusinessHours
) -> datetime:
    """When a step falls due for an action completed at ``done_at``."""
    return hours.add(done_at, after) if business_hours else done_at + after


# -- planning and scheduling ---------------------------------------------------------------------


def plan_escalations(
    store: StateStore, ruleset: Ruleset, outcomes: Sequence[RoutingOutcome], now: datetime
) -> int:
    """Record the escalation steps of the outcomes' tasks and tickets; returns rows planned.

    Call it before the outcomes are recorded: a step planned for a decision that then never got
    stored is harmless (its action never completes), a decision without its steps would be a
    silent gap. Steps already planned (an edited response routed again) are left alone.
    """
    steps = {rule.name: rule.match.escalations for rule in ruleset.rules}
    rows: list[dict[str, Any]] = []
    for outcome in outcomes:
        for intent in outcome.intents:
            if intent.kind not in ESCALATING_KINDS:
                continue
            for step, escalation in enumerate(steps.get(intent.rule, ())):
                rows.append(
                    {
                        "action_key": intent.key,
                        "step": step,
                        "source": intent.source,
                        "response_id": intent.response_id,
                        "rule": intent.rule,
                        "action": escalation.action,
                        "after_seconds": int(escalation.after.total_seconds()),
                        "business_hours": escalation.business_hours,
                        "status": "waiting",
                        "created_at": now,
                        "updated_at": now,
                    }
                )
    if rows:
        with store.engine.begin() as conn:
            conn.execute(insert_ignore(store, t.escalations), rows)
    return len(rows)


def schedule_escalations(store: StateStore, hours: BusinessHours, now: datetime) -> int:
    """Set the deadlines of steps whose original action has completed; returns steps scheduled.

    Steps of an original that failed for good are cancelled.
    """
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
    with store.engine.begin() as conn:
        for row in conn.execute(query).all():
            where = sa.and_(e.c.action_key == row.action_key, e.c.step == row.step)
            if row.action_status == "dead":
                values: dict[str, Any] = {
                    "status": "cancelled",
                    "note": "the original action failed for good",
                }
            else:
                after = timedelta(seconds=row.after_seconds)
                due = deadline(row.done_at, after, row.business_hours, hours)
                values = {"status": "scheduled", "due_at": due}
                scheduled += 1
            conn.execute(e.update().where(where).values(updated_at=now, **values))
    return scheduled


def mark_resolved(store: StateStore, action_keys: Iterable[str], at: datetime) -> int:
    """Record that these actions' tasks or tickets are resolved: their steps will not fire.

    The seam for status tracking; returns how many pending steps it settled.
    """
    e = t.escalations
    keys = sorted(set(action_keys))
    count = 0
    with store.engine.begin() as conn:
        for start in range(0, len(keys), 500):
            result = conn.execute(
                e.update()
                .where(
                    e.c.action_key.in_(keys[start : start + 500]),
                    e.c.status.in_(["waiting", "scheduled"]),
                    e.c.resolved_at.is_(None),
                )
                .values(resolved_at=at, updated_at=at)
            )
            count += result.rowcount
    return count


# -- resolution ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Original:
    """A task or ticket an escalation step watches."""

    key: str
    kind: str
    external_id: str | None
    rule: str
    source: str
    response_id: str


class ResolutionCheck(Protocol):
    """Tells which originals are resolved now (closed task, solved ticket)."""

    def resolved(self, originals: Sequence[Original]) -> set[str]:
        """Keys of the resolved ones; may raise :class:`connectors.errors.ConnectorError`."""
        ...


@dataclass
class TaskStatusCheck:
    """A Salesforce Task is resolved once closed (``IsClosed``), or when it was deleted."""

    crm: TaskStatus
    retry: RetryPolicy

    def resolved(self, originals: Sequence[Original]) -> set[str]:
        tasks = {
            o.external_id[:15]: o.key
            for o in originals
            if o.kind == "salesforce_task" and o.external_id
        }
        still_open = (
            self.retry.call(partial(self.crm.open_tasks, sorted(tasks))) if tasks else set()
        )
        return {key for task_id, key in tasks.items() if task_id not in still_open}


@dataclass
class TrackedTicketStatus:
    """A Zendesk ticket is resolved once ticket tracking last saw it solved or closed."""

    store: StateStore

    def resolved(self, originals: Sequence[Original]) -> set[str]:
        keys = [o.key for o in originals if o.kind == "zendesk_ticket"]
        if not keys:
            return set()
        statuses = self.store.tickets.statuses(keys)
        return {key for key, status in statuses.items() if status.status in SOLVED}


@dataclass
class AnyResolution:
    """Resolved when any of the checks says so; later checks see only what is still open."""

    checks: Sequence[ResolutionCheck]

    def resolved(self, originals: Sequence[Original]) -> set[str]:
        found: set[str] = set()
        for check in self.checks:
            still_open = [o for o in originals if o.key not in found]
            if still_open:
                found |= check.resolved(still_open)
        return found


# -- firing --------------------------------------------------------------------------------------


@dataclass
class EscalationStats:
    scheduled: int = 0
    fired: int = 0
    resolved: int = 0
    cancelled: int = 0
    errors: list[str] = field(default_factory=list)


def escalate_due(
    store: StateStore,
    ruleset: Ruleset,
    now: datetime,
    *,
    routing: Callable[[], RoutingContext],
    resolution: ResolutionCheck | None = None,
    hours: BusinessHours | None = None,
) -> EscalationStats:
    """Schedule completed originals, then fire every step due by ``now`` whose original is open.

    The step's action is rendered from the stored response under ``ruleset`` (the rules in force)
    and enqueued; the act stage then runs it like any other intent. ``routing`` is asked for only
    when a step fires (it may call Zendesk the first time).
    """
    stats = EscalationStats()
    stats.scheduled = schedule_escalations(store, hours or BusinessHours(), now)
    due = _due_steps(store, now)
    if not due:
        return stats
    originals = {
        row.action_key: Original(
            row.action_key, row.kind, row.external_id, row.rule, row.source, row.response_id
        )
        for row in due
        if row.resolved_at is None
    }
    resolved = {row.action_key for row in due if row.resolved_at is not None}
    if resolution is not None and originals:
        try:
            resolved |= resolution.resolved(list(originals.values()))
        except ConnectorError as exc:
            stats.errors.append(f"escalations: cannot tell which originals are resolved: {exc}")
            return stats
    firing = [row for row in due if row.action_key not in resolved]
    updates: list[tuple[Any, dict[str, Any]]] = [
        (row, {"status": "resolved", "resolved_at": row.resolved_at or now})
        for row in due
        if row.action_key in resolved
    ]
    stats.resolved = len(updates)
    intents: dict[str, ActionIntent] = {}
    try:
        context = routing() if firing else None
    except ConnectorError as exc:
        stats.errors.append(f"escalations: cannot resolve names in the rules: {exc}")
        return EscalationStats(scheduled=stats.scheduled, errors=stats.errors)
    for row, intent, why in _render_steps(store, ruleset, firing, context, now):
        if intent is None:
            updates.append((row, {"status": "cancelled", "note": why}))
            stats.cancelled += 1
            log.warning("escalation %s/%s not run: %s", row.rule, row.action, why)
            continue
        intents[intent.key] = intent
        updates.append((row, {"status": "fired", "fired_key": intent.key}))
    stats.fired = store.enqueue_intents(list(intents.values()), now)
    e = t.escalations
    with store.engine.begin() as conn:
        for row, values in updates:
            conn.execute(
                e.update()
                .where(e.c.action_key == row.action_key, e.c.step == row.step)
                .values(updated_at=now, **values)
            )
    return stats


def _due_steps(store: StateStore, now: datetime) -> list[Any]:
    e, a = t.escalations, t.actions
    query = (
        sa.select(e, a.c.kind, a.c.external_id)
        .join(a, a.c.key == e.c.action_key)
        .where(e.c.status == "scheduled", e.c.due_at <= now)
        .order_by(e.c.due_at, e.c.action_key, e.c.step)
    )
    with store.engine.connect() as conn:
        return list(conn.execute(query).all())


def _render_steps(
    store: StateStore,
    ruleset: Ruleset,
    rows: Sequence[Any],
    routing: RoutingContext | None,
    now: datetime,
) -> list[tuple[Any, ActionIntent | None, str]]:
    """The escalation intent of each row, or why there is none."""
    responses: dict[tuple[str, str], StoredResponse] = {}
    for row in rows:
        stored = store.get_response(row.source, row.response_id)
        if stored is not None:
            responses[(row.source, row.response_id)] = stored
    rebuilt = {
        (s.response.source, s.response.response_id): (s, match, fields)
        for s, match, fields in rebuild_fields(store, list(responses.values()), now)
    }
    out: list[tuple[Any, ActionIntent | None, str]] = []
    for row in rows:
        found = rebuilt.get((row.source, row.response_id))
        assert routing is not None, "a routing context is given whenever a step fires"
        if row.action not in ruleset.actions:
            out.append((row, None, f"action {row.action!r} is no longer in the rules"))
        elif found is None:
            out.append((row, None, "the response is no longer stored"))
        else:
            stored, match, fields = found
            intent, why = build_intent(
                ruleset,
                row.rule,
                row.action,
                fields,
                stored,
                match,
                routing,
                now,
                key_name=f"escalate:{row.step}:{row.action}",
            )
            out.append((row, intent, why))
    return out
