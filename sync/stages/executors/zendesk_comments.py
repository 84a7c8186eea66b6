"""Comments on open tickets, added exactly once: each carries a marker line that a retry looks for.

The attach-to-open path of :mod:`sync.stages.executors.zendesk` comments on a requester's open NPS
ticket instead of opening a second one; a comment is an effect like a ticket, so a retry first reads
the ticket's comments for the action's marker before adding it again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from connectors.errors import RetryableError
from connectors.zendesk.records import CommentSpec
from sync.core.ports import TicketDesk
from sync.core.retry import RetryPolicy
from sync.stages.act import Outcome, guarded, outcome_of, unresolved_outcome
from sync.stages.executors.bulk_jobs import JobWatch
from sync.state import ClaimedAction


def marker(key: str) -> str:
    """The line that identifies the comment of one action on a ticket."""
    return f"[nps-sync {key}]"


def guarded_comments(
    comments: Sequence[CommentSpec],
    actions: Sequence[ClaimedAction],
    helpdesk: TicketDesk,
    retry: RetryPolicy,
    watch: JobWatch | None = None,
) -> dict[str, Outcome]:
    """Add comments exactly once: before adding one that may exist, look for its marker.

    Like :func:`create_missing` for tickets: the first try checks only comments of actions
    claimed before; a retry after a failure checks all of them, since the failed request may
    have landed. Each ticket's comments are read in a call retried on its own; a comment whose
    ticket cannot be read is retried later, alone. With ``watch``, the bulk jobs that carried
    them are noted, and none is looked for while a job that carried it may still add it.
    """
    pending = {a.key for a in actions if a.attempts > 1}
    unresolved: dict[str, str] = {}
    bodies: dict[int, list[str]] = {}

    def read(ticket_id: int) -> list[str] | None:
        if ticket_id not in bodies:
            try:
                bodies[ticket_id] = retry.call(lambda: helpdesk.comment_bodies(ticket_id))
            except RetryableError as exc:
                for comment in comments:
                    if comment.ticket_id == ticket_id and comment.key in pending:
                        unresolved[comment.key] = str(exc)
                return None
        return bodies[ticket_id]

    def attempt() -> list[Outcome]:
        present: list[Outcome] = []
        todo: list[CommentSpec] = []
        if watch is not None:
            watch.settle(c.key for c in comments if c.key in pending)
        for comment in comments:
            if comment.key in unresolved:
                continue
            if comment.key in pending:
                seen = read(comment.ticket_id)
                if seen is None:
                    continue
                if any(marker(comment.key) in b for b in seen):
                    present.append(
                        Outcome(
                            comment.key,
                            "done",
                            external_id=str(comment.ticket_id),
                            found_existing=True,
                            attached=True,
                        )
                    )
                    continue
            todo.append(comment)
        pending.update(c.key for c in todo)
        # What a failed attempt may have added is read again, not from before it.
        for ticket_id in {c.ticket_id for c in todo}:
            bodies.pop(ticket_id, None)
        note = watch.note if watch is not None else None
        added = helpdesk.add_comments(todo, on_job=note) if todo else []
        missing = [unresolved_outcome(k, e) for k, e in unresolved.items()]
        return present + [replace(outcome_of(r), attached=r.ok) for r in added] + missing

    return {o.key: o for o in guarded(actions, lambda: retry.call(attempt))}
