"""The status mirror's two actions (:mod:`sync.loop.mirror` queues them).

- ``salesforce_task_complete``: complete a Task and append a note naming the solved ticket.
  The Task is read first: one already closed (by its owner, or an earlier attempt) is left as
  it is, and the note is appended only if it is not there yet, so a retry writes nothing twice.
- ``zendesk_ticket_note``: add an internal note to a ticket. The note carries the action's key;
  an attempt that may have run before (a crash after Zendesk took it) first looks for the key
  among the ticket's comments, so the note is added once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from connectors.models import FieldUpdate
from connectors.zendesk.records import CommentSpec
from sync.core.ports import TaskLinkCrm, TicketNotes
from sync.core.retry import RetryPolicy
from sync.loop.mirror import TASK_KIND, TICKET_KIND
from sync.stages.act import Outcome, guarded, outcome_of
from sync.state import ClaimedAction


@dataclass
class TaskCompletionExecutor:
    crm: TaskLinkCrm
    retry: RetryPolicy
    kind: str = TASK_KIND
    batch_size: int = 200

    def execute(self, actions: Sequence[ClaimedAction]) -> list[Outcome]:
        return guarded(actions, lambda: self._execute(actions))

    def _execute(self, actions: Sequence[ClaimedAction]) -> list[Outcome]:
        ids = sorted({str(a.payload["task_id"]) for a in actions})
        current = self.retry.call(
            lambda: self.crm.read_fields("Task", ids, ["IsClosed", "Description"])
        )
        outcomes: dict[str, Outcome] = {}
        updates: dict[str, FieldUpdate] = {}
        keys_of: dict[str, list[str]] = {}
        for action in actions:
            task_id = str(action.payload["task_id"])
            record = current.get(task_id)
            if record is None or record.get("IsClosed") or task_id in updates:
                outcomes[action.key] = Outcome(action.key, "done", external_id=task_id)
                continue
            description = str(record.get("Description") or "")
            note = str(action.payload["note"])
            text = description if note in description else f"{description.rstrip()}\n{note}"
            values: dict[str, object] = {"Status": "Completed", "Description": text.lstrip()}
            updates[task_id] = FieldUpdate("Task", task_id, values)
            keys_of.setdefault(task_id, []).append(action.key)
        if updates:
            results = self.retry.call(lambda: self.crm.update_records(list(updates.values())))
            for result in results:
                outcome = outcome_of(result)
                for key in keys_of[result.record_id]:
                    done = outcome.result == "done"
                    outcomes[key] = Outcome(
                        key,
                        outcome.result,
                        error=outcome.error,
                        external_id=result.record_id if done else "",
                    )
        return [outcomes[a.key] for a in actions]


def note_marker(key: str) -> str:
    return f"[nps-sync {key[:12]}]"


@dataclass
class TicketNoteExecutor:
    helpdesk: TicketNotes
    retry: RetryPolicy
    kind: str = TICKET_KIND
    batch_size: int = 100

    def execute(self, actions: Sequence[ClaimedAction]) -> list[Outcome]:
        return guarded(actions, lambda: self._execute(actions))

    def _execute(self, actions: Sequence[ClaimedAction]) -> list[Outcome]:
        outcomes: dict[str, Outcome] = {}
        notes: list[CommentSpec] = []
        for action in actions:
            ticket_id = int(str(action.payload["ticket_id"]))
            body = f"{action.payload['body']}\n{note_marker(action.key)}"
            if action.attempts > 1:  # it may have been added before a crash
                bodies = self.retry.call(partial(self.helpdesk.comment_bodies, ticket_id))
                if any(note_marker(action.key) in b for b in bodies):
                    outcomes[action.key] = Outcome(action.key, "done", external_id=str(ticket_id))
                    continue
            notes.append(CommentSpec(action.key, ticket_id, body, public=False))
        if notes:
            for result in self.retry.call(lambda: self.helpdesk.add_comments(notes)):
                outcome = outcome_of(result)
                outcomes[result.record_id] = outcome
        return [outcomes[a.key] for a in actions]
