"""The notes telling a Task or ticket that its answer changed (:mod:`sync.stages.amend` queues
them).

Each waits for its original: while the Task or ticket is still to be made, the note is due again
with it; once it exists, the note is appended to the Task's description (read first, written only
if not there yet) or added to the ticket as an internal note (looked for by its marker after an
attempt that may have landed, a submit that got no answer held for the settle window), so it
is told once. A new score also goes in the ticket's fields when the answer is the last one put
on that ticket. An original that was never made (given up) has nothing to tell: the note is
done without a call.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from sync.core.ports import TaskLinkCrm
from sync.core.retry import RetryPolicy
from sync.stages.act import Outcome, guarded
from sync.stages.amend import AMEND_TASK, AMEND_TICKET
from sync.stages.executors.loop_mirror import TicketNoteExecutor, note_marker
from sync.stages.executors.task_links import append_lines
from sync.stages.executors.zendesk import ticket_fields
from sync.state import ClaimedAction, StateStore

#: The shortest wait of a note for its original: it is due again when the original is.
ORIGINAL_WAIT = timedelta(seconds=1)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def with_originals(
    store: StateStore, actions: Sequence[ClaimedAction], now: datetime
) -> tuple[dict[str, Outcome], list[tuple[ClaimedAction, str]]]:
    """The notes that wait (or have nothing to tell), as outcomes, and those whose original
    exists, with its record id."""
    keys = [str(a.payload["original_key"]) for a in actions]
    originals = {row.key: row for row in store.outbox.actions(keys=keys)}
    waiting: dict[str, Outcome] = {}
    ready: list[tuple[ClaimedAction, str]] = []
    for action in actions:
        original = originals.get(str(action.payload["original_key"]))
        if original is not None and original.unresolved:
            until = max(original.next_attempt_at, now + ORIGINAL_WAIT)
            error = "waiting for the Task or ticket it is a note on"
            waiting[action.key] = Outcome(action.key, "defer", error=error, not_before=until)
        elif original is None or original.status != "done" or not original.external_id:
            waiting[action.key] = Outcome(action.key, "done")  # never made: nothing to tell
        else:
            ready.append((action, original.external_id))
    return waiting, ready


@dataclass
class TaskAmendExecutor:
    crm: TaskLinkCrm
    store: StateStore
    retry: RetryPolicy
    clock: Callable[[], datetime] = field(default=_utcnow)
    kind: str = AMEND_TASK
    batch_size: int = 200

    def execute(self, actions: Sequence[ClaimedAction]) -> list[Outcome]:
        return guarded(actions, lambda: self._execute(actions))

    def _execute(self, actions: Sequence[ClaimedAction]) -> list[Outcome]:
        outcomes, ready = with_originals(self.store, actions, self.clock())
        lines: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for action, task_id in ready:
            # A blank line apart from what is above; the marker makes each note its own line.
            note = f"\n{action.payload['note']}\n{note_marker(action.key)}"
            lines[task_id].append((action.key, note))
        outcomes.update(append_lines(self.crm, self.retry, lines))
        return [outcomes[a.key] for a in actions]


def _no_fields() -> Mapping[str, int]:
    return {}


@dataclass
class TicketAmendExecutor:
    store: StateStore
    #: Writes the notes, each once (see :class:`TicketNoteExecutor`).
    notes: TicketNoteExecutor
    clock: Callable[[], datetime] = field(default=_utcnow)
    #: The custom ticket fields' ids by name (``score``, ``category``), asked for when a note
    #: changes them.
    field_ids: Callable[[], Mapping[str, int]] = _no_fields
    kind: str = AMEND_TICKET
    batch_size: int = 100

    def execute(self, actions: Sequence[ClaimedAction]) -> list[Outcome]:
        return guarded(actions, lambda: self._execute(actions))

    def _execute(self, actions: Sequence[ClaimedAction]) -> list[Outcome]:
        outcomes, ready = with_originals(self.store, actions, self.clock())
        rescored = [(a, ticket) for a, ticket in ready if a.payload.get("fields")]
        # A ticket that took a later answer since shows that one's score: left as it is.
        last = self.store.tickets.last_told(int(t) for _, t in rescored) if rescored else {}
        notes = []
        for action, ticket_id in ready:
            payload: dict[str, object] = {"ticket_id": ticket_id, "body": action.payload["note"]}
            if last.get(int(ticket_id)) == action.payload["original_key"]:
                fields = ticket_fields(action.payload, self.field_ids())
                payload["fields"] = {str(k): v for k, v in fields.items()}
            notes.append(replace(action, payload=payload))
        if notes:
            outcomes.update((o.key, o) for o in self.notes.execute(notes))
        return [outcomes[a.key] for a in actions]
