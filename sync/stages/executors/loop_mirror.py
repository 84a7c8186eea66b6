"""The status mirror's two actions (:mod:`sync.loop.mirror` queues them).

- ``salesforce_task_complete``: complete a Task and append a note naming the solved ticket.
  The Task is read first: one already closed (by its owner, or an earlier attempt) is left as
  it is, and the note is appended only if it is not there yet, so a retry writes nothing twice.
- ``zendesk_ticket_note``: add an internal note to a ticket, once, as the attach path adds its
  comments (:mod:`.zendesk_comments`): the note carries the action's key, which an attempt that
  may have run before looks for first, and a bulk submit that got no answer is held for the
  settle window before that.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from connectors.models import FieldUpdate
from connectors.zendesk.records import CommentSpec
from sync.core.ports import TaskLinkCrm, TicketDesk
from sync.core.retry import RetryPolicy
from sync.loop.mirror import TASK_KIND, TICKET_KIND
from sync.stages.act import Outcome, guarded, outcome_of
from sync.stages.executors.bulk_jobs import JobWatch
from sync.stages.executors.zendesk_comments import guarded_comments, marker
from sync.stages.settle import DEFAULT_WINDOW, SettleWindow
from sync.state import ClaimedAction, StateStore


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


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class TicketNoteExecutor:
    """Internal notes on tickets, each added once (:func:`guarded_comments`): it carries its
    action's marker, the bulk job that took it is noted, and a submit that got no answer is
    held for the settle window before the note is looked for and sent again."""

    helpdesk: TicketDesk
    retry: RetryPolicy
    store: StateStore | None = None
    clock: Callable[[], datetime] = field(default=_utcnow)
    #: ``zendesk.tickets.settle_seconds``: how long an unanswered submit may still land.
    settle_window: timedelta = DEFAULT_WINDOW
    max_attempts: int = 8
    kind: str = TICKET_KIND
    batch_size: int = 100

    def execute(self, actions: Sequence[ClaimedAction]) -> list[Outcome]:
        return guarded(actions, lambda: self._execute(actions))

    def _execute(self, actions: Sequence[ClaimedAction]) -> list[Outcome]:
        notes = [
            CommentSpec(
                action.key,
                int(str(action.payload["ticket_id"])),
                f"{action.payload['body']}\n{marker(action.key)}",
                public=False,
                fields={int(k): v for k, v in (action.payload.get("fields") or {}).items()},
            )
            for action in actions
        ]
        watch = JobWatch.of(actions, self.helpdesk, self.retry, self.store, self.clock)
        settle = SettleWindow(
            self.clock,
            self.settle_window,
            self.store.outbox.note_sent if self.store is not None else None,
            2,  # a bulk job: noted before it leaves
            system="Zendesk",
            max_failures=self.max_attempts,
        )
        outcomes = guarded_comments(notes, actions, self.helpdesk, self.retry, watch, settle)
        return [outcomes[a.key] for a in actions]
