"""Status mirrored between a response's Task and ticket (``loop.mirror`` in the config).

- **ticket solved -> Task completed**: the open Task of the same response is completed, with a
  note naming the ticket (``salesforce_task_complete`` intents);
- **Task completed -> ticket note**: the open ticket of the same response gets an internal note
  saying so (``zendesk_ticket_note`` intents).

Each mirror is an outbox intent keyed by its direction and the two actions, so it runs once
however often a pass sees the same facts. It never loops: a Task is completed only while it is
open and a note added only while the ticket is open, and a note does not solve a ticket; a Task
this mirror completed adds no note (its ticket is solved) and counts as no contact in its loop.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from sync.core.config import LoopMirror
from sync.state import ActionIntent
from sync.state.loops import Followup
from sync.state.outbox import DETRACTOR_FIRST

TASK_KIND = "salesforce_task_complete"
TICKET_KIND = "zendesk_ticket_note"
KINDS = (TASK_KIND, TICKET_KIND)
#: The line a mirrored completion appends to the Task, and the start of a ticket's note.
TASK_NOTE = "Zendesk ticket #{ticket} was solved on {when} UTC; nps-sync completed this Task."
TICKET_NOTE = "The Salesforce Task of this NPS response was completed on {when} UTC{outcome}."


def mirror_key(kind: str, source_key: str, target_key: str) -> str:
    raw = f"mirror\x1f{kind}\x1f{source_key}\x1f{target_key}".encode()
    return hashlib.sha256(raw).hexdigest()[:40]


def mirror_intents(
    source: str,
    response_id: str,
    followups: Sequence[Followup],
    mirror: LoopMirror,
    mirrored: frozenset[str] = frozenset(),
) -> list[ActionIntent]:
    """The mirrors the Tasks and tickets of one response call for now; ``mirrored`` holds the
    keys of Task actions this mirror completed."""
    tasks = [f for f in followups if f.kind == "salesforce_task"]
    tickets = [f for f in followups if f.kind == "zendesk_ticket"]
    intents: list[ActionIntent] = []

    def intent(kind: str, origin: Followup, target: Followup, payload: dict[str, str]) -> None:
        intents.append(
            ActionIntent(
                key=mirror_key(kind, origin.key, target.key),
                source=source,
                response_id=response_id,
                rule=target.rule,
                action=f"mirror_{kind}",
                kind=kind,
                payload=payload,
                ruleset_hash="",
                priority=DETRACTOR_FIRST,
            )
        )

    if mirror.ticket_solved_completes_task:
        for ticket in tickets:
            if not ticket.closed or ticket.closed_at is None:
                continue
            when = ticket.closed_at.strftime("%Y-%m-%d %H:%M")
            note = TASK_NOTE.format(ticket=ticket.external_id, when=when)
            for task in tasks:
                if not task.closed:
                    payload = {"task_key": task.key, "task_id": task.external_id, "note": note}
                    intent(TASK_KIND, ticket, task, payload)
    if mirror.task_completed_notes_ticket:
        for task in tasks:
            if not task.closed or task.closed_at is None or task.key in mirrored:
                continue
            outcome = f" (outcome: {task.outcome.replace('_', ' ')})" if task.outcome else ""
            when = task.closed_at.strftime("%Y-%m-%d %H:%M")
            body = TICKET_NOTE.format(when=when, outcome=outcome)
            for ticket in tickets:
                if not ticket.closed:
                    payload = {"ticket_key": ticket.key, "ticket_id": ticket.external_id,
                               "body": body}  # fmt: skip
                    intent(TICKET_KIND, task, ticket, payload)
    return intents
