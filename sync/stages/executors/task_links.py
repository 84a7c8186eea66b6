"""The link from a follow-up Task to the Zendesk ticket of the same response.

When one response asks for both, the Task is made first and the ticket names it
(:mod:`.zendesk`); the Task can only name the ticket afterwards. So before the ticket is made, its
executor queues a ``salesforce_task_link`` intent (:func:`link_intent`), keyed by the ticket and
Task actions: a crash between the two creates leaves it queued, and a retry of the ticket
queues nothing twice. This executor waits until the ticket action is done, then appends the
ticket's link to the Task's description unless the line is there already (an earlier attempt
wrote it, or the Task was made after the ticket): read first, written once, so the link is added
exactly once however often the intent runs.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from connectors.models import MAX_TASK_DESCRIPTION, FieldUpdate
from sync.core.ports import TaskLinkCrm
from sync.core.retry import RetryPolicy
from sync.stages.act import Outcome, guarded, outcome_of
from sync.stages.executors.customer_context import ticket_url
from sync.stages.executors.task_context import TICKET_LINE
from sync.state import ActionIntent, ActionRow, ClaimedAction, StateStore
from sync.state.outbox import DETRACTOR_FIRST

KIND = "salesforce_task_link"
#: Links per batch: a backlog's Task descriptions are then read, and written, in a few Bulk API
#: jobs once the batch passes the connector's thresholds (by default 5,000 records read and
#: 2,000 written), instead of 200 a request each way; a larger batch would hold more of them.
BATCH_SIZE = 6_000
#: The shortest wait of a link for its ticket: it is due again when the ticket is, and the
#: ticket executor runs first in a pass.
TICKET_WAIT = timedelta(seconds=1)


def with_lines(description: str, lines: Sequence[str]) -> str:
    """``description`` with ``lines`` appended. One too long to take them within Salesforce's
    limit (a Task made from a very long comment fills it) loses its end, marked with an
    ellipsis, so that the link always fits: Salesforce refuses a longer one outright."""
    tail = "\n".join(dict.fromkeys(lines))
    room = max(MAX_TASK_DESCRIPTION - len(tail) - 1, 1)
    body = description.rstrip()
    if len(body) > room:
        body = body[: room - 1].rstrip() + "\u2026"
    return "\n".join([body, tail]).lstrip()


def link_key(ticket_key: str, task_key: str) -> str:
    """The idempotency key of the link from the Task of ``task_key`` to the ticket of
    ``ticket_key``."""
    raw = f"link\x1f{ticket_key}\x1f{task_key}".encode()
    return hashlib.sha256(raw).hexdigest()[:40]


def link_intent(ticket: ClaimedAction, task: ActionRow) -> ActionIntent:
    """The intent that puts ``ticket``'s link on ``task`` (done), keyed by both actions."""
    return ActionIntent(
        key=link_key(ticket.key, task.key),
        source=ticket.source,
        response_id=ticket.response_id,
        rule=ticket.rule,
        action="link_task_to_ticket",
        kind=KIND,
        payload={"ticket_key": ticket.key, "task_key": task.key, "task_id": task.external_id},
        ruleset_hash="",
        priority=DETRACTOR_FIRST,
    )


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class TaskLinkExecutor:
    crm: TaskLinkCrm
    store: StateStore
    retry: RetryPolicy
    #: ``https://SUBDOMAIN.zendesk.com``.
    ticket_base_url: str
    clock: Callable[[], datetime] = field(default=_utcnow)
    kind: str = KIND
    batch_size: int = BATCH_SIZE

    def execute(self, actions: Sequence[ClaimedAction]) -> list[Outcome]:
        return guarded(actions, lambda: self._execute(actions))

    def _execute(self, actions: Sequence[ClaimedAction]) -> list[Outcome]:
        tickets = {
            row.key: row
            for row in self.store.outbox.actions(
                keys=[str(a.payload["ticket_key"]) for a in actions]
            )
        }
        now = self.clock()
        outcomes: dict[str, Outcome] = {}
        lines: dict[str, list[tuple[str, str]]] = defaultdict(list)  # task id -> (key, line)
        for action in actions:
            ticket = tickets.get(str(action.payload["ticket_key"]))
            if ticket is not None and ticket.unresolved:
                until = max(ticket.next_attempt_at, now + TICKET_WAIT)  # due with the ticket
                error = "waiting for the Zendesk ticket of the same response"
                outcomes[action.key] = Outcome(action.key, "defer", error=error, not_before=until)
            elif ticket is None or ticket.status != "done" or not ticket.external_id:
                outcomes[action.key] = Outcome(action.key, "done")  # no ticket to link to
            else:
                url = ticket_url(self.ticket_base_url, ticket.external_id)
                line = TICKET_LINE.format(url=url)
                lines[str(action.payload["task_id"])].append((action.key, line))
        outcomes.update(append_lines(self.crm, self.retry, lines))
        return [outcomes[a.key] for a in actions]


def append_lines(
    crm: TaskLinkCrm, retry: RetryPolicy, lines: Mapping[str, Sequence[tuple[str, str]]]
) -> dict[str, Outcome]:
    """Append each Task's lines (``task id -> [(action key, line)]``) that its description does
    not hold yet, in one collection: read first, written once, so a retry adds nothing twice.
    A Task deleted meanwhile is done with nothing to write."""
    if not lines:
        return {}
    ids = sorted(lines)
    current = retry.call(lambda: crm.read_fields("Task", ids, ["Description"]))
    outcomes: dict[str, Outcome] = {}
    updates: list[FieldUpdate] = []
    for task_id in ids:
        keys = [key for key, _ in lines[task_id]]
        record = current.get(task_id)
        description = str((record or {}).get("Description") or "")
        missing = [line for _, line in lines[task_id] if line not in description]
        if record is None or not missing:  # deleted, or written already
            outcomes.update({key: Outcome(key, "done", external_id=task_id) for key in keys})
            continue
        text = with_lines(description, missing)
        updates.append(FieldUpdate("Task", task_id, {"Description": text}))
    if updates:
        results = retry.call(lambda: crm.update_records(updates))
        for result in results:
            outcome = outcome_of(result)
            for key, _ in lines[result.record_id]:
                outcomes[key] = Outcome(
                    key,
                    outcome.result,
                    external_id=result.record_id if outcome.result == "done" else "",
                    error=outcome.error,
                )
    return outcomes
