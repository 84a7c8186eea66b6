"""Comments on open tickets, added exactly once: each carries a marker line that a retry looks for.

The attach-to-open path of :mod:`sync.stages.executors.zendesk` comments on a requester's open NPS
ticket instead of opening a second one; a comment is an effect like a ticket, so a retry first reads
the ticket's comments for the action's marker before adding it again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from functools import partial

from connectors.errors import DeferError, RetryableError, WriteInDoubtError
from connectors.zendesk.records import CommentSpec
from sync.core.ports import TicketDesk
from sync.core.retry import RetryPolicy
from sync.stages.act import (
    Outcome,
    counted_if_lapsed,
    guarded,
    held_outcome,
    held_while_in_doubt,
    outcome_of,
    unresolved_outcome,
)
from sync.stages.executors.bulk_jobs import JobWatch
from sync.stages.settle import SettleWindow
from sync.state import ClaimedAction

log = logging.getLogger(__name__)

#: ``recheck(ticket_ids, since)``: bodies of the comments added to these tickets since ``since``,
#: in a few requests (a miss only keeps a comment held); None when a read per ticket is cheaper.
Recheck = Callable[[list[int], datetime], Mapping[int, Sequence[str]] | None]


def marker(key: str) -> str:
    """The line that identifies the comment of one action on a ticket."""
    return f"[nps-sync {key}]"


def guarded_comments(
    comments: Sequence[CommentSpec],
    actions: Sequence[ClaimedAction],
    helpdesk: TicketDesk,
    retry: RetryPolicy,
    watch: JobWatch | None = None,
    settle: SettleWindow | None = None,
    recheck: Recheck | None = None,
) -> dict[str, Outcome]:
    """Add comments exactly once: before adding one that may exist, look for its marker.

    Like :func:`create_missing` for tickets: the first try checks only comments of actions
    claimed before; a retry after a failure checks all of them, since the failed request may
    have landed. Each ticket's comments are read in a call retried on its own; a comment whose
    ticket cannot be read is retried later, alone. With ``watch``, the bulk jobs that carried
    them are noted, and none is looked for while a job that carried it may still add it.

    With ``settle``, a comment whose bulk submit got no answer (its job may be queued, its id
    unknown) is looked for at once and, when not there, held until the window has passed since
    the submit (:mod:`sync.stages.settle`); so are comments an earlier attempt left in doubt.
    One not there once the window has passed counts a failure, and the ``max_attempts``-th
    ends it in the dead letters instead of sending it again. With ``recheck``, held comments
    are looked for there instead of in each ticket's comments (:data:`Recheck`).
    """
    return started_comments(comments, actions, helpdesk, retry, watch, settle, recheck)()


def started_comments(
    comments: Sequence[CommentSpec],
    actions: Sequence[ClaimedAction],
    helpdesk: TicketDesk,
    retry: RetryPolicy,
    watch: JobWatch | None = None,
    settle: SettleWindow | None = None,
    recheck: Recheck | None = None,
) -> Callable[[], dict[str, Outcome]]:
    """:func:`guarded_comments` in two steps: the first try is sent now, and its bulk jobs are
    polled together with those of the writes made before the returned function is called (the
    new tickets of the same batch); that call waits for them and gives the outcomes. A first
    try that failed, now or while its jobs ran, is tried again there, as
    :func:`guarded_comments` would have (the retry policy counts it as its first attempt)."""
    pending = {a.key for a in actions if a.attempts > 1}
    unresolved: dict[str, RetryableError] = {}
    bodies: dict[int, list[str]] = {}
    in_doubt = settle.in_doubt(actions) if settle is not None else {}
    reasons: dict[str, str] = {}
    lapsed: dict[str, datetime] = {}  # their unanswered update (sent then) failed: one failure
    claimed = {a.key: a for a in actions}

    def in_doubt_after(keys: list[str], sent: datetime | None, exc: WriteInDoubtError) -> None:
        # Looked for on the next try (they are pending), and held if not there.
        if sent is not None:
            in_doubt.update(dict.fromkeys(keys, sent))
            reasons.update(dict.fromkeys(keys, f"its update got no answer: {exc}"))

    def send(todo: list[CommentSpec]) -> Callable[[], list[Outcome]]:
        note = watch.note if watch is not None else None
        keys = [c.key for c in todo]
        sent = settle.sending(keys) if settle is not None else None
        try:
            finish = helpdesk.start_comments(todo, on_job=note)
        except WriteInDoubtError as exc:
            in_doubt_after(keys, sent, exc)
            raise

        def finished() -> list[Outcome]:
            try:
                results = finish()
            except WriteInDoubtError as exc:
                in_doubt_after(keys, sent, exc)
                raise
            return [replace(outcome_of(r), attached=r.ok, settles_sent_by=sent) for r in results]

        return finished

    def read(ticket_id: int) -> list[str] | None:
        if ticket_id not in bodies:
            try:
                bodies[ticket_id] = retry.call(lambda: helpdesk.comment_bodies(ticket_id))
            except RetryableError as exc:
                for comment in comments:
                    if comment.ticket_id == ticket_id and comment.key in pending:
                        unresolved[comment.key] = exc
                return None
        return bodies[ticket_id]

    def waiting(comment: CommentSpec) -> bool:
        """Whether ``comment`` is in doubt within its window: held unless it is found."""
        since = in_doubt.get(comment.key)
        return settle is not None and since is not None and settle.within(since)

    def recent(held: list[CommentSpec]) -> Mapping[int, Sequence[str]] | None:
        """The comments of the held ones' tickets since their earliest send, from ``recheck``;
        nothing when it fails or is told to wait (they stay held), None to read each ticket."""
        if recheck is None or not held:
            return None
        tickets = sorted({c.ticket_id for c in held})
        since = min(in_doubt[c.key] for c in held)
        try:
            return retry.call(partial(recheck, tickets, since))
        except (RetryableError, DeferError) as exc:
            log.info("looking for %d held comments failed, they stay held: %s", len(held), exc)
            return {}

    def begin() -> Callable[[], list[Outcome]]:
        present: list[Outcome] = []
        held: list[Outcome] = []
        ended: list[Outcome] = []
        todo: list[CommentSpec] = []
        if watch is not None:
            watch.settle(c.key for c in comments if c.key in pending)
        rechecking = [
            c for c in comments if c.key in pending and c.key not in unresolved and waiting(c)
        ]
        exported = recent(rechecking)
        from_export = {c.key for c in rechecking} if exported is not None else set()
        for comment in comments:
            if comment.key in unresolved:
                continue
            if comment.key in pending:
                seen = exported.get(comment.ticket_id) if exported is not None else None
                if comment.key not in from_export or not _marked(comment.key, seen):
                    hold = None
                    if comment.key in from_export and settle is not None:
                        reason = reasons.get(comment.key, "")
                        hold = settle.hold(comment.key, in_doubt[comment.key], reason)
                    if hold is not None:  # not in the export: held, its ticket not read
                        held.append(held_outcome(hold))
                        continue
                    seen = read(comment.ticket_id)
                if seen is None:
                    continue
                if _marked(comment.key, seen):
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
                since = in_doubt.get(comment.key)
                hold = None
                if settle is not None and since is not None:
                    hold = settle.hold(comment.key, since, reasons.get(comment.key, ""))
                if hold is not None:
                    held.append(held_outcome(hold))
                    continue
                action = claimed.get(comment.key)
                if settle is not None and since is not None and action is not None:
                    lapsed.setdefault(comment.key, since)
                    error = settle.given_up(action, since)
                    if error is not None:
                        ended.append(Outcome(comment.key, "dead", error=error))
                        continue
            todo.append(comment)
        pending.update(c.key for c in todo)
        # What a failed attempt may have added is read again, not from before it.
        for ticket_id in {c.ticket_id for c in todo}:
            bodies.pop(ticket_id, None)
        added = send(todo) if todo else list

        def outcomes() -> list[Outcome]:
            sent = added()
            missing = [unresolved_outcome(k, e) for k, e in unresolved.items()]
            return present + held + ended + sent + missing

        return outcomes

    first: Callable[[], list[Outcome]] | None = None
    failure: Exception | None = None
    try:
        first = begin()
    except Exception as exc:  # tried again, from the retry policy's first attempt on
        failure = exc

    def finish() -> dict[str, Outcome]:
        nonlocal failure
        if first is not None:
            try:
                return _held_if_in_doubt(first(), settle, in_doubt, reasons, lapsed)
            except Exception as exc:
                failure = exc
        replayed = [failure]

        def attempt() -> list[Outcome]:
            if replayed:
                error = replayed.pop()
                if error is not None:
                    raise error
            return begin()()

        outcomes = guarded(actions, lambda: retry.call(attempt))
        return _held_if_in_doubt(outcomes, settle, in_doubt, reasons, lapsed)

    return finish


def _marked(key: str, bodies: Sequence[str] | None) -> bool:
    """Whether one of ``bodies`` carries the marker of ``key``."""
    line = marker(key)
    return bodies is not None and any(line in b for b in bodies)


def _held_if_in_doubt(
    outcomes: list[Outcome],
    settle: SettleWindow | None,
    in_doubt: dict[str, datetime],
    reasons: dict[str, str],
    lapsed: dict[str, datetime],
) -> dict[str, Outcome]:
    if settle is not None:
        outcomes = [
            counted_if_lapsed(
                held_while_in_doubt(o, settle, in_doubt.get(o.key), reasons.get(o.key, "")),
                lapsed,
            )
            for o in outcomes
        ]
    return {o.key: o for o in outcomes}
