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

The steps live in the state store (:class:`sync.state.escalations.Escalations`); the work is in
three modules: :mod:`.plan` records the steps of a routing batch (the route stage calls it),
:mod:`.resolution` tells which originals are resolved, and :mod:`.fire` schedules completed
originals on the business-hours calendar (:mod:`sync.loop.calendar`) and fires the due steps (the
act stage calls it, with a renderer from the route stage that turns a step into an intent).
"""

from sync.loop.calendar import BusinessHours, deadline
from sync.loop.escalation.fire import (
    EscalationStats,
    RenderedStep,
    StepRenderer,
    escalate_due,
    lapsed_sla_steps,
    schedule_escalations,
)
from sync.loop.escalation.plan import ESCALATING_KINDS, plan_escalations
from sync.loop.escalation.resolution import (
    AnyResolution,
    Original,
    ResolutionCheck,
    TaskStatusCheck,
    TrackedTicketStatus,
    mark_resolved,
)

__all__ = [
    "ESCALATING_KINDS",
    "AnyResolution",
    "BusinessHours",
    "EscalationStats",
    "Original",
    "RenderedStep",
    "ResolutionCheck",
    "StepRenderer",
    "TaskStatusCheck",
    "TrackedTicketStatus",
    "deadline",
    "escalate_due",
    "lapsed_sla_steps",
    "mark_resolved",
    "plan_escalations",
    "schedule_escalations",
]
