"""Act stage: drain the outbox through one executor per action kind.

Executors (``sync/stages/executors/``) receive claimed intents, and for every intent that may
already have had an effect (claimed before: a crash or timeout left its outcome unknown) first look
up our own marker, the Task's key field or the ticket's ``external_id``, and create only what is
not there. This module holds the shared pieces: outcomes, the claim/record loop and backoff.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Literal, Protocol

from more_itertools import chunked

from connectors.errors import (
    ConfigError,
    DeferError,
    RecordError,
    RetryableError,
    UnreachableError,
    WriteInDoubtError,
)
from connectors.models import WriteResult
from sync.core.retry import RetryPolicy
from sync.stages.lease import BatchLease, LeaseLostError
from sync.stages.settle import Hold, SettleWindow
from sync.state import ActionResult, ClaimedAction, StateStore

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outcome:
    key: str
    result: Literal["done", "retry", "defer", "dead"]
    external_id: str = ""
    error: str = ""
    not_before: datetime | None = None
    found_existing: bool = False
    #: Done by commenting on an existing ticket rather than creating a record.
    attached: bool = False
    #: The system that deferred it (a rate limit, a spent API allowance), if it was deferred.
    system: str = ""
    #: Held because its create was sent at this time and got no answer (:mod:`.settle`).
    in_doubt_since: datetime | None = None
    #: A deferral that still counts as a failure: an earlier create of it got no answer and
    #: had not taken effect once it no longer could (:meth:`SettleWindow.lapsed`).
    counts_failure: bool = False
    #: Its creates sent at or before this time are no longer in doubt: one was answered, or
    #: one was not found once it could no longer land. Any other outcome but ``done`` leaves
    #: a doubt the outbox holds as it is (:class:`~sync.state.ActionResult`).
    settles_sent_by: datetime | None = None
    #: Deferred because its system is down as a whole (:class:`UnreachableError`): no try used.
    unreachable: bool = False


class Executor(Protocol):
    kind: str
    batch_size: int

    def execute(self, actions: Sequence[ClaimedAction]) -> list[Outcome]: ...


def outcome_of(result: WriteResult) -> Outcome:
    """The outcome of one record, by the tier its connector gave it: a record worth another
    try is retried, one the system refuses for now deferred, any other given up."""
    if result.ok:
        return Outcome(result.record_id, "done", external_id=result.external_id)
    if result.tier == "retry":
        return Outcome(result.record_id, "retry", error=result.error)
    if result.tier == "defer":
        return Outcome(result.record_id, "defer", error=result.error)
    return Outcome(result.record_id, "dead", error=result.error)


def guarded(actions: Sequence[ClaimedAction], work: Callable[[], list[Outcome]]) -> list[Outcome]:
    """Run a batch; a whole-batch failure becomes one outcome per action."""
    try:
        return work()
    except DeferError as exc:
        return deferred(actions, exc)
    except RetryableError as exc:
        return [failed_for_now(a.key, exc) for a in actions]
    except RecordError as exc:
        return [Outcome(a.key, "dead", error=str(exc)) for a in actions]


def deferred(actions: Sequence[ClaimedAction], error: DeferError) -> list[Outcome]:
    """Every action of a batch parked until the time the system gave."""
    return [
        Outcome(a.key, "defer", error=str(error), not_before=error.not_before, system=error.system)
        for a in actions
    ]


def failed_for_now(key: str, error: RetryableError) -> Outcome:
    """The outcome of an action whose call failed past its retries: tried again later, and
    counted as a failure unless its system was down as a whole (an outage of any length uses
    up no tries, so it never sends work to the dead letters)."""
    if isinstance(error, UnreachableError):
        return Outcome(key, "defer", error=str(error), unreachable=True)
    return Outcome(key, "retry", error=str(error))


def look_up_each(
    keys: Sequence[str],
    lookup: Callable[[list[str]], Mapping[str, Any]],
    retry: RetryPolicy,
    chunk: int,
) -> tuple[dict[str, Any], dict[str, RetryableError]]:
    """Look ``keys`` up ``chunk`` per call, each call retried on its own.

    Returns what was found and, per key whose call still failed, the error: one failing call
    leaves only its own keys unresolved, so under a steady fault rate the share of keys resolved
    follows the share of calls that succeed. A deferral (a long Retry-After) is raised: the
    system asked us to wait.
    """
    found: dict[str, Any] = {}
    unresolved: dict[str, RetryableError] = {}
    for part in chunked(keys, chunk):
        try:
            found.update(retry.call(partial(lookup, part)))
        except RetryableError as exc:
            unresolved.update(dict.fromkeys(part, exc))
    return found, unresolved


def unresolved_outcome(key: str, error: RetryableError) -> Outcome:
    """The outcome of an action whose earlier attempt could not be looked up: try again later."""
    outcome = failed_for_now(key, error)
    return replace(outcome, error=f"could not check whether it exists already: {outcome.error}")


def create_missing(
    actions: Sequence[ClaimedAction],
    *,
    lookup: Callable[[list[str]], Mapping[str, Any]],
    create: Callable[[list[ClaimedAction]], list[WriteResult]],
    retry: RetryPolicy,
    lookup_chunk: int = 200,
    settle: SettleWindow | None = None,
    recheck: Callable[[list[str], datetime], Mapping[str, Any]] | None = None,
    checked: Collection[str] = (),
) -> list[Outcome]:
    """Create the records of these actions exactly once, retrying transient failures.

    Before the first try, only actions claimed before (``attempts > 1``) are looked up by their
    marker. A failed create may still have taken effect (a timeout after the server committed,
    a bulk job that ran although polling its status failed), so every retry first looks up all
    the actions it is about to create again. Lookups go ``lookup_chunk`` keys per call, each
    retried on its own (:func:`look_up_each`): an action whose lookup keeps failing is retried
    later on its own, while the rest of the batch goes on.

    With ``settle``, a create whose answer never came (:class:`WriteInDoubtError`) is not tried
    again in this call: its actions are looked up once (the answer may have been lost after the
    commit) and, when not found, held until the system can no longer be carrying it out
    (:mod:`sync.stages.settle`); so are actions an earlier attempt left in doubt. One whose
    create got no answer and was not found once the window had passed counts a failure; the
    ``max_attempts``-th ends it in the dead letters instead of sending it again.

    ``recheck(keys, since)`` looks up the actions held within the window (those sent unanswered
    at ``since`` or later), a cheaper look than ``lookup`` that may miss a record that exists:
    a miss only keeps them held, and after the window only ``lookup`` decides.

    ``checked`` are keys the caller has just looked up and not found: not asked again before
    the first try.
    """
    uncertain = {a.key for a in actions if a.attempts > 1} - set(checked)
    found: dict[str, Any] = {}
    unresolved: dict[str, RetryableError] = {}
    in_doubt = settle.in_doubt(actions) if settle is not None else {}
    reasons: dict[str, str] = {}
    lapsed: dict[str, datetime] = {}  # their unanswered create (sent then) failed: one failure

    def send(todo: list[ClaimedAction]) -> list[Outcome]:
        if settle is None:
            return [outcome_of(r) for r in create(todo)]
        keys = [a.key for a in todo]
        sent = settle.sending(keys)
        try:
            return [replace(outcome_of(r), settles_sent_by=sent) for r in create(todo)]
        except WriteInDoubtError as exc:
            in_doubt.update(dict.fromkeys(keys, sent))
            reasons.update(dict.fromkeys(keys, f"its create got no answer: {exc}"))
            more = look_again(keys)
            uncertain.difference_update(keys)
            # Held below until its window has passed; a pass slow enough to outlast the window
            # still counts no failure here: the lookup after the window counts it, once.
            return [
                Outcome(k, "defer", error=reasons[k], not_before=sent, in_doubt_since=sent)
                for k in keys
                if k not in more
            ]

    def look_again(keys: list[str]) -> dict[str, Any]:
        """Look up held actions: with ``recheck`` if given (a miss keeps them held)."""
        if recheck is None:
            more, _ = look_up_each(keys, lookup, retry, lookup_chunk)
        else:
            more = rechecked(keys, min(in_doubt[k] for k in keys), recheck, retry)
        found.update(more)
        return more

    def attempt() -> list[Outcome]:
        keys = sorted(uncertain - found.keys() - unresolved.keys())
        waiting = [k for k in keys if settle is not None and held_still(settle, in_doubt, k)]
        if waiting:
            look_again(waiting)
        rest = sorted(set(keys) - set(waiting))
        more, failed = look_up_each(rest, lookup, retry, lookup_chunk)
        found.update(more)
        unresolved.update(failed)
        uncertain.difference_update(keys)
        holds = settle.holds(in_doubt, found) if settle is not None else []
        held = {h.key for h in holds}
        if settle is not None:
            gone = settle.lapsed(in_doubt, found) - unresolved.keys()
            lapsed.update({k: in_doubt[k] for k in gone if k not in lapsed})
        given_up = {
            a.key: error
            for a in actions
            if settle is not None
            and a.key in lapsed
            and (error := settle.given_up(a, in_doubt[a.key])) is not None
        }
        todo = [
            a
            for a in actions
            if a.key not in found
            and a.key not in unresolved
            and a.key not in held
            and a.key not in given_up
        ]
        uncertain.update(a.key for a in todo)  # from here on, each may exist whatever happens
        created = send(todo) if todo else []
        done = [
            Outcome(k, "done", external_id=str(v), found_existing=True) for k, v in found.items()
        ]
        ended = [Outcome(k, "dead", error=e) for k, e in given_up.items()]
        kept = [held_outcome(h) for h in holds]
        left = [unresolved_outcome(k, e) for k, e in unresolved.items() if k not in held]
        return done + created + ended + kept + left

    outcomes = guarded(actions, lambda: retry.call(attempt))
    if settle is None:
        return outcomes
    return [
        counted_if_lapsed(
            held_while_in_doubt(o, settle, in_doubt.get(o.key), reasons.get(o.key, "")), lapsed
        )
        for o in outcomes
    ]


def held_still(settle: SettleWindow, in_doubt: Mapping[str, datetime], key: str) -> bool:
    """Whether ``key`` is in doubt and its create may still land."""
    since = in_doubt.get(key)
    return since is not None and settle.within(since)


def rechecked(
    keys: list[str],
    since: datetime,
    recheck: Callable[[list[str], datetime], Mapping[str, Any]],
    retry: RetryPolicy,
) -> dict[str, Any]:
    """What ``recheck`` finds of held ``keys``; nothing when it fails or is told to wait: the
    actions stay held, and are looked up again at the next recheck."""
    try:
        return dict(retry.call(partial(recheck, keys, since)))
    except (RetryableError, DeferError) as exc:
        log.info("looking up %d held actions failed, they stay held: %s", len(keys), exc)
        return {}


def counted_if_lapsed(outcome: Outcome, lapsed: Mapping[str, datetime]) -> Outcome:
    """The outcome of an action whose earlier unanswered create (sent at ``lapsed[key]``) lapsed
    counts that failure (a retry or a dead letter counts one anyway) and settles that create:
    a later pass neither holds it again nor counts it twice."""
    since = lapsed.get(outcome.key)
    if since is None:
        return outcome
    settled = max(since, outcome.settles_sent_by or since)
    return replace(
        outcome,
        counts_failure=outcome.counts_failure or outcome.result == "defer",
        settles_sent_by=settled,
    )


def held_while_in_doubt(
    outcome: Outcome, settle: SettleWindow, since: datetime | None, reason: str
) -> Outcome:
    """A deferral instead of ``outcome`` for an action not done whose create may still land."""
    if outcome.result == "done" or since is None:
        return outcome
    hold = settle.hold(outcome.key, since, reason)
    if hold is None:
        return outcome
    return replace(held_outcome(hold), settles_sent_by=outcome.settles_sent_by)


def held_outcome(hold: Hold) -> Outcome:
    """An action held while its create may still land: no failure counted, the time kept."""
    return Outcome(
        hold.key, "defer", error=hold.reason, not_before=hold.until, in_doubt_since=hold.since
    )


@dataclass
class DrainStats:
    created: dict[str, int] = field(default_factory=dict)
    found_existing: int = 0
    attached: int = 0
    retried: int = 0
    deferred: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)
    #: Systems that refused the credentials or settings; their executors stopped, others went on.
    refused: list[ConfigError] = field(default_factory=list)
    #: Systems that asked us to wait, with the latest time given; their actions are parked.
    deferred_until: dict[str, datetime] = field(default_factory=dict)
    #: Creates that got no answer, held per system until they can no longer land (so they are
    #: not made twice): the latest time one is due again.
    held_until: dict[str, datetime] = field(default_factory=dict)
    #: Systems found down as a whole this pass, with the error: their executors stopped, and
    #: their actions wait without using up a try.
    unreachable: dict[str, str] = field(default_factory=dict)

    def add(self, kind: str, outcome: Outcome, result: ActionResult) -> None:
        """Count one outcome as it was recorded: a retry past the last attempt is dead."""
        if result.status == "dead":
            self.dead += 1
        elif outcome.result == "done":
            if outcome.found_existing:
                self.found_existing += 1
            elif outcome.attached:
                self.attached += 1
            else:
                self.created[kind] = self.created.get(kind, 0) + 1
        elif outcome.result == "retry":
            self.retried += 1
        elif outcome.result == "defer":
            self.deferred += 1
            due = result.next_attempt_at
            if outcome.system and due is not None:
                self.deferred_until[outcome.system] = max(
                    self.deferred_until.get(outcome.system, due), due
                )
            elif outcome.in_doubt_since is not None and due is not None:
                system = system_of(kind)
                self.held_until[system] = max(self.held_until.get(system, due), due)


def system_of(kind: str) -> str:
    """The system an action kind writes to (``zendesk_ticket``: ``zendesk``), else the kind."""
    head = kind.split("_", 1)[0]
    return head if head in ("salesforce", "zendesk") else kind


MAX_BACKOFF = timedelta(hours=1)


def backoff(failures: int, base: timedelta = timedelta(seconds=30)) -> timedelta:
    """Delay before the next attempt after ``failures`` failures: ``base`` doubling, at most 1 h."""
    delay: timedelta = base * 2 ** max(failures - 1, 0)
    return min(delay, MAX_BACKOFF)


def drain(
    store: StateStore,
    executors: Sequence[Executor],
    *,
    owner: str,
    lease: timedelta,
    max_failures: int,
    now: Callable[[], datetime],
    backoff_base: timedelta = timedelta(seconds=30),
    should_stop: Callable[[], bool] = lambda: False,
) -> DrainStats:
    """Run every due action of the executors' kinds until none is left (or stop is asked).

    A stop request is honoured between batches: the batch in flight is finished and recorded.
    An executor whose system refuses the credentials or settings gives its batch back and
    stops; the other executors go on (the refusals are in the stats).
    """
    stats = DrainStats()
    # The kinds with work due, read again after an executor that worked (it may have queued
    # work for the executors after it: a ticket queues its Task's link).
    due: set[str] | None = None
    for executor in executors:
        if due is None:
            due = store.outbox.kinds_due([e.kind for e in executors], now())
        if executor.kind not in due or system_of(executor.kind) in stats.unreachable:
            continue  # nothing due, or its system is down: its actions wait, untried
        due = None
        held_here: set[str] = set()  # a crashed worker's creates this pass held (still in doubt)
        while not should_stop():
            claimed = store.outbox.claim(
                owner, limit=executor.batch_size, lease=lease, now=now(), kinds=[executor.kind]
            )
            if not claimed:
                break
            batch = BatchLease(store, owner, claimed, lease=lease, now=now)
            try:
                with batch.kept():
                    outcomes = executor.execute(claimed)
            except ConfigError as exc:  # this system's work waits; the other executors go on
                store.outbox.release_leases(owner, now())
                stats.refused.append(exc)
                break
            except DeferError as exc:  # parked until the time given; the other executors go on
                outcomes = deferred(claimed, exc)
            except LeaseLostError as exc:  # another worker owns (part of) the batch now: let it act
                store.outbox.release(owner, batch.held, now())
                log.warning("%s batch abandoned before a write: %s", executor.kind, exc)
                stats.errors.append(f"{executor.kind}: {exc}")
                continue
            by_key = {a.key: a for a in claimed}
            results = [
                result_of(by_key[o.key], o, max_failures, backoff_base, now()) for o in outcomes
            ]
            store.outbox.record_results(owner, results, now())
            for outcome, result in zip(outcomes, results, strict=True):
                stats.add(executor.kind, outcome, result)
                if result.status == "dead":
                    action = by_key[outcome.key]
                    log.error(
                        "action %s failed for good: %s",
                        outcome.key,
                        outcome.error,
                        extra={
                            "source": action.source,
                            "response_id": action.response_id,
                            "rule": action.rule,
                            "action": action.kind,
                            "key": outcome.key,
                        },
                    )
                if outcome.result in ("dead", "retry"):
                    stats.errors.append(f"{executor.kind} {outcome.key[:12]}: {outcome.error}")
            for outcome in outcomes:
                if outcome.unreachable:
                    stats.unreachable.setdefault(system_of(executor.kind), outcome.error)
            if refusing(outcomes, by_key):
                break  # the system is refusing work: stop hammering it this pass
            holds = {o.key for o in outcomes if held_from_before(o, by_key)}
            if holds and len(holds) == len(outcomes):
                if len(claimed) < executor.batch_size or holds <= held_here:
                    break  # nothing behind them, or they came round again: the rest waits
                held_here |= holds  # a crashed worker's unanswered creates: send what follows
    return stats


def refusing(outcomes: Sequence[Outcome], claimed: Mapping[str, ClaimedAction]) -> bool:
    """Whether a batch's outcomes say its system is refusing work: nothing done, something to
    retry or defer. Holds of creates an earlier attempt left in doubt say nothing about the
    system (a crashed worker's batch): the actions after them are still sent this pass."""
    if any(o.result == "done" for o in outcomes):
        return False
    return any(
        o.result in ("defer", "retry") and not held_from_before(o, claimed) for o in outcomes
    )


def held_from_before(outcome: Outcome, claimed: Mapping[str, ClaimedAction]) -> bool:
    """A hold of an action whose create an earlier attempt (another pass, a crashed worker)
    sent without an answer."""
    return outcome.result == "defer" and claimed[outcome.key].in_doubt_since is not None


def result_of(
    action: ClaimedAction,
    outcome: Outcome,
    max_failures: int,
    backoff_base: timedelta,
    now: datetime,
) -> ActionResult:
    """What to record for an outcome; the ``max_failures``-th failure goes to the dead letters."""
    if outcome.result == "done":
        return ActionResult.done(action.key, outcome.external_id)
    settled = outcome.settles_sent_by
    if outcome.result == "defer":
        return ActionResult.defer(
            action.key,
            outcome.error,
            outcome.not_before or now + backoff_base,
            outcome.in_doubt_since,
            failed=outcome.counts_failure,
            settles_sent_by=settled,
        )
    if outcome.result == "dead" or action.failures + 1 >= max_failures:
        return ActionResult.dead(action.key, outcome.error, settles_sent_by=settled)
    return ActionResult.retry(
        action.key,
        outcome.error,
        now + backoff(action.failures + 1, backoff_base),
        settles_sent_by=settled,
    )
