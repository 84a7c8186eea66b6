"""Firing escalation steps (called by the act stage, before it drains the outbox).

Steps whose original completed get their deadline on the business-hours calendar; every step due
by now whose original is still open is rendered into an intent and put in the outbox, keyed
``(source, response, rule, "escalate:<step>:<action>")``, so the act stage runs it at once like any
other intent and a repeated pass never fires it twice.

Rendering an action needs the route stage (its fields and payloads); the caller passes it in as a
:data:`StepRenderer`, so this floor does not depend on the stages above it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from connectors.errors import ConnectorError
from sync.core.config import LoopSla
from sync.loop.calendar import BusinessHours, deadline
from sync.loop.escalation.plan import SLA_STEPS_FROM
from sync.loop.escalation.resolution import Original, ResolutionCheck
from sync.loop.sla import applies
from sync.state import ActionIntent, StateStore
from sync.state.escalations import CompletedStep, DueStep, StepOutcome

log = logging.getLogger(__name__)

#: A due step's intent, or None and why there is none (the action left the rules, the response
#: is no longer stored, a template failed).
RenderedStep = tuple[DueStep, ActionIntent | None, str]
#: Renders the actions of due steps from their stored responses under the rules in force. It is
#: called only when some step fires, and may raise ConnectorError (resolving names in the rules).
StepRenderer = Callable[[Sequence[DueStep]], list[RenderedStep]]
#: The due SLA steps, as ``(action_key, step)``, whose SLA no longer applies to their answer.
LapsedCheck = Callable[[Sequence[DueStep]], set[tuple[str, int]]]


def lapsed_sla_steps(store: StateStore, slas: Sequence[LoopSla]) -> LapsedCheck:
    """The check :func:`escalate_due` makes of due SLA steps: an answer edited since its loop
    began (a detractor now a promoter) or an account moved to another tier may no longer be
    under the SLA that planned the step, or under one escalating to that action."""

    def lapsed(steps: Sequence[DueStep]) -> set[tuple[str, int]]:
        keys = {(s.source, s.response_id) for s in steps}
        facts = {(f.source, f.response_id): f for f in store.loops.facts(keys=keys)}
        out: set[tuple[str, int]] = set()
        for step in steps:
            found = facts.get((step.source, step.response_id))
            sla = None
            if found is not None:
                sla = next(
                    (x for x in slas if applies(x, found.rules, found.tier, found.score)), None
                )
            if sla is None or sla.escalate != step.action:
                out.add((step.action_key, step.step))
        return out

    return lapsed


@dataclass
class EscalationStats:
    scheduled: int = 0
    fired: int = 0
    resolved: int = 0
    cancelled: int = 0
    errors: list[str] = field(default_factory=list)


def schedule_escalations(store: StateStore, hours: BusinessHours, now: datetime) -> int:
    """Set the deadlines of steps whose original action has completed; returns steps scheduled.

    Steps of an original that failed for good are cancelled.
    """

    def due_at(step: CompletedStep) -> datetime:
        return deadline(step.done_at, step.after, step.business_hours, hours)

    return store.escalations.schedule(due_at, now)


def escalate_due(
    store: StateStore,
    now: datetime,
    *,
    render: StepRenderer,
    resolution: ResolutionCheck | None = None,
    hours: BusinessHours | None = None,
    lapsed: LapsedCheck | None = None,
) -> EscalationStats:
    """Schedule completed originals, then fire every step due by ``now`` whose original is open.

    The step's action is rendered by ``render`` and enqueued; the act stage then runs it like any
    other intent. An SLA step that ``lapsed`` says no longer applies is cancelled.
    """
    stats = EscalationStats()
    stats.scheduled = schedule_escalations(store, hours or BusinessHours(), now)
    due = store.escalations.due(now)
    if not due:
        return stats
    originals = {
        row.action_key: Original(
            row.action_key, row.kind, row.external_id, row.rule, row.source, row.response_id
        )
        for row in due
        if row.resolved_at is None and row.step < SLA_STEPS_FROM
    }
    closed: set[str] = set()
    if resolution is not None and originals:
        try:
            closed = resolution.resolved(list(originals.values()))
        except ConnectorError as exc:
            stats.errors.append(f"escalations: cannot tell which originals are resolved: {exc}")
            return stats

    def resolved(row: DueStep) -> bool:
        # An SLA step is settled by the loop it watches (sync.loop.follow), not by its original.
        if row.resolved_at is not None:
            return True
        return row.step < SLA_STEPS_FROM and row.action_key in closed

    firing = [row for row in due if not resolved(row)]
    outcomes = [
        StepOutcome(row.action_key, row.step, "resolved", resolved_at=row.resolved_at or now)
        for row in due
        if resolved(row)
    ]
    stats.resolved = len(outcomes)
    sla_steps = [row for row in firing if row.step >= SLA_STEPS_FROM]
    gone = lapsed(sla_steps) if lapsed is not None and sla_steps else set()
    if gone:
        firing = [row for row in firing if (row.action_key, row.step) not in gone]
        outcomes += [
            StepOutcome(key, step, "cancelled", note="the SLA no longer applies to the answer")
            for key, step in sorted(gone)
        ]
        stats.cancelled += len(gone)
    try:
        rendered = render(firing) if firing else []
    except ConnectorError as exc:
        stats.errors.append(f"escalations: cannot resolve names in the rules: {exc}")
        return EscalationStats(scheduled=stats.scheduled, errors=stats.errors)
    intents: dict[str, ActionIntent] = {}
    for row, intent, why in rendered:
        if intent is None:
            outcomes.append(StepOutcome(row.action_key, row.step, "cancelled", note=why))
            stats.cancelled += 1
            log.warning("escalation %s/%s not run: %s", row.rule, row.action, why)
            continue
        intents[intent.key] = intent
        outcomes.append(StepOutcome(row.action_key, row.step, "fired", fired_key=intent.key))
    stats.fired = store.outbox.enqueue(list(intents.values()), now)
    store.escalations.settle(outcomes, now)
    return stats
