"""The loop of a response, read from what people already do with its Tasks and tickets (pure).

A response whose rules made a Salesforce Task or a Zendesk ticket has a loop:

- ``open``: the Task or ticket exists; nobody has reached the customer yet;
- ``contacted``: someone did: an agent replied in public on the ticket, or the owner completed
  the Task (with any outcome but "Not reachable" or "No action needed"; a Task the status mirror
  completed because its ticket was solved is no contact of its own);
- ``resolved``: contacted, and every Task is completed and every ticket solved; it ended when
  the last of them was;
- ``closed``: every Task and ticket ended without anyone reaching the customer; ``reason`` says
  why: ``not_reachable`` or ``no_action_needed`` (the loop outcome field), or
  ``closed_without_contact`` (completed or solved with neither a reply nor an outcome).

The optional loop outcome field (a Task picklist, a Zendesk ticket dropdown) refines this:
``resolved`` and ``churn_risk`` count as contact, ``not_reachable`` and ``no_action_needed`` do
not. A ticket reopened after it was solved takes its loop back to ``contacted`` (or ``open``).

Every change is one :class:`~sync.state.loops.LoopEvent`, dated from the Task or ticket (a reply,
a completion), not from when nps-sync noticed it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from sync.state.loops import ENDED, Followup, Loop, LoopEvent

#: Loop outcomes, as stored: the Task picklist's labels and the ticket dropdown's tags map here.
OUTCOMES = ("resolved", "not_reachable", "no_action_needed", "churn_risk")
#: Outcomes that say nobody reached the customer.
NO_CONTACT = frozenset({"not_reachable", "no_action_needed"})
#: The Salesforce picklist labels and the Zendesk dropdown tags `fields setup` creates.
OUTCOME_LABELS = ("Resolved", "Not reachable", "No action needed", "Churn risk")
OUTCOME_TAGS = tuple(f"loop_{code}" for code in OUTCOMES)

_WORDS = re.compile(r"[^a-z]+")


def outcome_code(value: str | None) -> str | None:
    """``Not reachable`` (Salesforce) or ``loop_not_reachable`` (Zendesk) -> ``not_reachable``;
    None for an empty or unknown value."""
    if not value:
        return None
    code = _WORDS.sub("_", value.lower()).strip("_")
    code = code.removeprefix("loop_")
    return code if code in OUTCOMES else None


def origin(followup: Followup) -> str:
    return "zendesk_ticket" if followup.kind == "zendesk_ticket" else "salesforce_task"


def _contact(followup: Followup) -> datetime | None:
    """When this Task or ticket says the customer was reached, if it does."""
    outcome = outcome_code(followup.outcome)
    moments = []
    if followup.replied_at is not None:
        moments.append(followup.replied_at)
    owner_done = followup.closed and not followup.mirrored
    if followup.kind == "salesforce_task" and owner_done and outcome not in NO_CONTACT:
        moments.append(followup.closed_at or followup.created_at)
    if (
        followup.kind == "zendesk_ticket"
        and followup.closed
        and outcome in ("resolved", "churn_risk")
    ):
        moments.append(followup.closed_at or followup.created_at)
    return min(moments) if moments else None


def derive(source: str, response_id: str, followups: Sequence[Followup]) -> Loop:
    """The loop of a response from its Tasks and tickets (at least one)."""
    if not followups:
        raise ValueError("a loop needs a Task or a ticket")
    ordered = sorted(followups, key=lambda f: (f.created_at, f.key))
    opened_at = ordered[0].created_at
    contacts = [(moment, f) for f in ordered if (moment := _contact(f)) is not None]
    contacted_at = min(moment for moment, _f in contacts) if contacts else None
    ended = [f for f in ordered if f.closed and f.closed_at is not None]
    outcomes = [
        code
        for f in sorted(ended, key=lambda f: (f.closed_at or f.created_at, f.key))
        if (code := outcome_code(f.outcome)) is not None
    ]
    outcome = outcomes[-1] if outcomes else None
    owner = next((f.owner_id for f in ordered if f.owner_id), None)
    all_closed = all(f.closed for f in ordered)
    if all_closed:
        ended_at = max((f.closed_at or f.created_at) for f in ordered)
        if contacted_at is not None:
            return Loop(
                source,
                response_id,
                "resolved",
                opened_at,
                contacted_at,
                max(ended_at, contacted_at),
                None,
                outcome,
                owner,
            )
        reason = outcome if outcome in NO_CONTACT else "closed_without_contact"
        return Loop(
            source, response_id, "closed", opened_at, None, ended_at, reason, outcome, owner
        )
    state = "contacted" if contacted_at is not None else "open"
    return Loop(source, response_id, state, opened_at, contacted_at, None, None, outcome, owner)


def transitions(
    before: Loop | None, after: Loop, followups: Sequence[Followup], now: datetime
) -> list[LoopEvent]:
    """The events that take a loop from ``before`` (None: new) to ``after``."""
    events: list[LoopEvent] = []

    def add(state: str, at: datetime, told_by: str, reason: str | None = None) -> None:
        events.append(LoopEvent(after.source, after.response_id, state, at, told_by, reason))

    first = min(followups, key=lambda f: (f.created_at, f.key))
    if before is None:
        add("open", after.opened_at, origin(first))
    elif before.state in ENDED and after.state not in ENDED:
        add(after.state, now, "reopened")
    if after.contacted_at is not None and (before is None or before.contacted_at is None):
        add("contacted", after.contacted_at, _told_contact(after, followups))
    if after.state in ENDED and (before is None or before.state not in ENDED):
        assert after.ended_at is not None
        add(after.state, after.ended_at, _told_end(after, followups), after.reason)
    return events


def _told_contact(loop: Loop, followups: Sequence[Followup]) -> str:
    for f in followups:
        if _contact(f) == loop.contacted_at:
            return origin(f)
    return origin(followups[0])


def _told_end(loop: Loop, followups: Sequence[Followup]) -> str:
    for f in followups:
        if f.closed_at == loop.ended_at:
            return origin(f)
    return origin(followups[0])
