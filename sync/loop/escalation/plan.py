"""Planning escalation steps when responses are routed (called by the route stage)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from rules import Ruleset
from sync.state import RoutingOutcome, StateStore
from sync.state.escalations import PlannedStep

#: Step numbers from here on are a loop's SLA deadlines (:mod:`sync.loop.follow`): a loop
#: reached or ended in time settles them; a rule's own steps count from 0.
SLA_STEPS_FROM = 1000
SLA_FIRST_CONTACT_STEP = SLA_STEPS_FROM
SLA_RESOLUTION_STEP = SLA_STEPS_FROM + 1
#: Action types whose outcome can stay open; only these are escalated.
ESCALATING_KINDS = frozenset({"salesforce_task", "zendesk_ticket"})


def planned_steps(ruleset: Ruleset, outcomes: Sequence[RoutingOutcome]) -> list[PlannedStep]:
    """The escalation steps of the outcomes' tasks and tickets, under their rules (pure)."""
    steps = {rule.name: rule.match.escalations for rule in ruleset.rules}
    planned: list[PlannedStep] = []
    for outcome in outcomes:
        for intent in outcome.intents:
            if intent.kind not in ESCALATING_KINDS:
                continue
            for step, escalation in enumerate(steps.get(intent.rule, ())):
                planned.append(
                    PlannedStep(
                        action_key=intent.key,
                        step=step,
                        source=intent.source,
                        response_id=intent.response_id,
                        rule=intent.rule,
                        action=escalation.action,
                        after=escalation.after,
                        business_hours=escalation.business_hours,
                    )
                )
    return planned


def plan_escalations(
    store: StateStore, ruleset: Ruleset, outcomes: Sequence[RoutingOutcome], now: datetime
) -> int:
    """Record the escalation steps of the outcomes' tasks and tickets; returns rows planned.

    Call it before the outcomes are recorded: a step planned for a decision that then never got
    stored is harmless (its action never completes), a decision without its steps would be a
    silent gap. Steps already planned (an edited response routed again) are left alone.
    """
    planned = planned_steps(ruleset, outcomes)
    store.escalations.plan(planned, now)
    return len(planned)
