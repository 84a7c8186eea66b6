"""Background jobs of bulk writes: submitting them, waiting for them together, reading results.

Zendesk runs ``create_many`` / ``update_many`` / ``create_or_update_many`` as jobs. A call that
needs several of them submits up to :data:`MAX_IN_FLIGHT` (Zendesk queues about 30 jobs of an
account at once) and polls every unfinished one in a single ``job_statuses/show_many`` request
(:data:`SHOW_MANY_LIMIT` ids each), topping the queue up as jobs end: N jobs cost a poll or two
per round instead of N. Rounds are spaced by a :class:`~connectors.backoff.Backoff`, lengthened
to any ``Retry-After`` the answer carries. Jobs started without waiting (:meth:`JobRunner.start`)
are polled in the same requests as those of the calls that follow, until they are waited for:
writes that do not depend on each other wait once, and the queue limit counts them all.

:meth:`JobRunner.run` is all or nothing: the first job that fails ends the wait. Writes that may
simply be sent again (field values) use :meth:`JobRunner.run_each` instead, which settles each
job on its own: a failed submit or job fails that job alone, a failed status poll is asked again
next round, so the caller keeps what the other jobs wrote and sends again only what failed.

A job runs whether or not anyone polls it, and Zendesk applies it when it runs, not when it is
submitted. So a job's id is handed to the caller as soon as Zendesk accepts it (``on_submit``):
a caller that loses track of the job (its status poll failed, it outlived our patience, the
process died) waits for it (:meth:`JobRunner.wait`) before it looks for what the job created;
looking earlier would miss records the job is about to create and create them twice. A job
still running at ``timeout`` is a deferral, not a failure. A job that failed is retryable: it
ran, so what it created is found by its idempotency keys.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from more_itertools import chunked

from connectors.backoff import Backoff
from connectors.errors import ConnectorError, DeferError, RecordError, RetryableError
from connectors.models import WriteResult
from connectors.zendesk import errors
from connectors.zendesk.rest import RestClient
from connectors.zendesk.session import retry_after

SYSTEM = "zendesk"
#: Ids ``job_statuses/show_many`` accepts in one request.
SHOW_MANY_LIMIT = 100
#: Jobs of one call queued at Zendesk at the same time.
MAX_IN_FLIGHT = 30
#: Rounds a submitted job may be missing from ``show_many`` before it counts as lost.
MISSING_ROUNDS = 3
_RUNNING = ("queued", "working")

#: Submits one bulk write and returns the job status Zendesk answered with.
Submit = Callable[[], Any]
#: Told ``(index of the submit, job id)`` as soon as Zendesk has accepted a job.
OnSubmit = Callable[[int, str], None]
#: Told ``(keys of the records a job carries, job id)`` as soon as Zendesk has accepted it.
JobNoted = Callable[[Sequence[str], str], None]
#: How long a caller waits before asking again about a job still running.
RECHECK_AFTER = timedelta(seconds=30)


#: Errors that fail one job of :meth:`JobRunner.run_each` and leave the others to run; any other
#: (the credentials refused, a bug) ends the wait of every job of the call.
SETTLED_ALONE = (RetryableError, DeferError, RecordError)


class JobsRunningError(DeferError):
    """Bulk jobs are still queued or working at Zendesk: what they create is not there yet."""

    def __init__(self, job_ids: Sequence[str], message: str) -> None:
        super().__init__(message, system=SYSTEM, not_before=datetime.now(UTC) + RECHECK_AFTER)
        self.job_ids = tuple(job_ids)


@dataclass(frozen=True, slots=True)
class JobOutcome:
    """How one job of :meth:`JobRunner.run_each` ended: its finished ``status``, or the
    ``error`` that stopped it (its records are not known to be written)."""

    status: Any = None
    error: ConnectorError | None = None


@dataclass
class _Flight:
    index: int
    deadline: float
    missing: int = 0


@dataclass
class _Group:
    """The jobs of one call: still to submit, running, finished; or what ended the wait."""

    waiting: deque[tuple[int, Submit]]
    on_submit: OnSubmit | None
    size: int
    #: Each job settled on its own (:meth:`JobRunner.run_each`).
    each: bool = False
    running: dict[str, _Flight] = field(default_factory=dict)
    done: dict[int, Any] = field(default_factory=dict)
    failed: dict[int, ConnectorError] = field(default_factory=dict)
    error: Exception | None = None

    def fail(self, index: int, error: Exception) -> bool:
        """Settle one job as failed when jobs settle alone (True); else end the whole wait."""
        if self.each and isinstance(error, SETTLED_ALONE):
            self.failed[index] = error
            return True
        self.error = error
        return False

    @property
    def pending(self) -> bool:
        return self.error is None and bool(self.waiting or self.running)


class JobGroup:
    """Jobs submitted by :meth:`JobRunner.start`: polled along with every other job the runner
    waits for, their statuses read by :meth:`wait`."""

    def __init__(self, runner: JobRunner, group: _Group) -> None:
        self._runner = runner
        self._group = group

    def wait(self) -> list[Any]:
        """The finished status of each job, in the order of its submits (see
        :meth:`JobRunner.run` for what it raises)."""
        return self._runner._wait(self._group)

    def abandon(self) -> None:
        """Stop polling these jobs: they run at Zendesk whether or not anyone asks."""
        self._runner._close(self._group)


class JobRunner:
    """Submits bulk jobs and waits for all of them, polling them together.

    Jobs started (:meth:`start`) and not yet waited for are polled in the same
    ``show_many`` requests as the jobs of any later call: writes that do not depend on each
    other share their waits."""

    def __init__(
        self,
        rest: RestClient,
        *,
        timeout: float = 120.0,
        backoff: Backoff | None = None,
        max_in_flight: int = MAX_IN_FLIGHT,
        ids_per_poll: int = SHOW_MANY_LIMIT,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rest = rest
        self.timeout = timeout
        self.backoff = backoff or Backoff()
        self.max_in_flight = max(1, max_in_flight)
        self.ids_per_poll = max(1, ids_per_poll)
        self._sleep = sleep
        self._clock = clock
        self._open: list[_Group] = []
        self._failed_polls = 0

    def run(self, submits: Sequence[Submit], on_submit: OnSubmit | None = None) -> list[Any]:
        """The finished status of each job, in the order of ``submits``.

        ``on_submit`` learns each job's id as Zendesk accepts it. Raises
        :class:`JobsRunningError` if a job outlived ``timeout`` (it finishes at Zendesk without
        us), :class:`RetryableError` if a job failed or was lost.
        """
        return self.start(submits, on_submit).wait()

    def run_each(self, submits: Sequence[Submit]) -> list[JobOutcome]:
        """How each job ended, in the order of ``submits``; one failing fails only itself.

        A submit or job that fails (a 5xx, a reset, a job that ended ``failed``, one lost or
        still running at ``timeout``, a record refused) is that job's outcome while the others
        go on. A submit told to wait (a ``Retry-After``, a deferral) holds back the submits not
        yet sent, which end with that error unsent: the caller waits as told before it sends
        them. A status poll that fails is asked again next round (after its ``Retry-After``);
        after :data:`MISSING_ROUNDS` failed polls in a row, or one that defers, the jobs still
        running end with its error. Only an error no job can settle alone (refused credentials,
        a bug) is raised. The polls and submits are those :meth:`run` makes.
        """
        group = _Group(deque(enumerate(submits)), None, len(submits), each=True)
        self._open.append(group)
        try:
            self._top_up(group)
        except BaseException:
            self._close(group)
            raise
        return [
            JobOutcome(error=outcome)
            if isinstance(outcome, ConnectorError)
            else JobOutcome(outcome)
            for outcome in self._wait(group)
        ]

    def start(self, submits: Sequence[Submit], on_submit: OnSubmit | None = None) -> JobGroup:
        """Submit these jobs (as many as the queue takes now, the rest as others end) without
        waiting for them; a submit that fails now raises here, one made later by
        :meth:`JobGroup.wait`."""
        group = _Group(deque(enumerate(submits)), on_submit, len(submits))
        self._open.append(group)
        try:
            self._top_up(group, raising=True)
        except BaseException:
            self._close(group)
            raise
        return JobGroup(self, group)

    def _wait(self, group: _Group) -> list[Any]:
        try:
            delays = self.backoff.delays()
            wait = 0.0
            while group.pending:
                self._sleep(max(next(delays), wait))
                wait = self._round(tolerant=group.each)
            if group.error is not None:
                raise group.error
            return [group.failed.get(index, group.done.get(index)) for index in range(group.size)]
        finally:
            self._close(group)

    def _close(self, group: _Group) -> None:
        if group in self._open:
            self._open.remove(group)

    def _top_up(self, only: _Group | None = None, *, raising: bool = False) -> None:
        """Submit waiting jobs while the queue has room, the oldest call's first; a submit
        that fails ends its own call's wait (or, ``raising``, raises)."""
        room = self.max_in_flight - sum(len(g.running) for g in self._open if g.error is None)
        for group in [only] if only is not None else list(self._open):
            while group.error is None and group.waiting and room > 0:
                index, submit = group.waiting.popleft()
                try:
                    status = submit()
                except Exception as exc:
                    if raising:
                        raise
                    if not group.fail(index, exc):
                        break
                    if _told_to_wait(exc):
                        while group.waiting:
                            group.fail(group.waiting.popleft()[0], exc)
                    continue
                if group.on_submit is not None and _field(status, "id") is not None:
                    group.on_submit(index, str(_field(status, "id")))
                if _state(status) in _RUNNING:
                    group.running[str(_field(status, "id"))] = _Flight(
                        index, self._clock() + self.timeout
                    )
                    room -= 1
                else:
                    try:
                        group.done[index] = _finished(status)
                    except RetryableError as exc:
                        group.fail(index, exc)

    def _round(self, *, tolerant: bool = False) -> float:
        """One poll of every running job of every open call; returns the ``Retry-After``.

        ``tolerant``: a failed poll is not raised (see :meth:`run_each`)."""
        flights = {
            job_id: (group, flight)
            for group in self._open
            if group.error is None
            for job_id, flight in group.running.items()
        }
        wait = 0.0
        if flights:
            try:
                statuses, wait = self._poll(list(flights))
            except (RetryableError, DeferError) as exc:
                if not tolerant:
                    raise
                return self._poll_failed(exc)
            self._failed_polls = 0
            now = self._clock()
            for job_id, (group, flight) in flights.items():
                if group.error is not None:
                    continue
                error = self._settle(group, job_id, flight, statuses.get(job_id), now)
                if error is not None and group.fail(flight.index, error):
                    group.running.pop(job_id, None)
        self._top_up()
        return wait

    def _poll_failed(self, error: RetryableError | DeferError) -> float:
        """After a failed poll, the wait before the next round. The jobs of calls that settle
        each job alone stay running, unless polls keep failing, the system defers us or a job
        passed its deadline: then they end with ``error`` (after a deferral, so do the jobs
        not yet submitted)."""
        self._failed_polls += 1
        deferred = isinstance(error, DeferError)
        give_up = deferred or self._failed_polls >= MISSING_ROUNDS
        now = self._clock()
        for group in self._open:
            if not group.each or group.error is not None:
                continue
            for job_id, flight in list(group.running.items()):
                if give_up or now > flight.deadline:
                    del group.running[job_id]
                    group.fail(flight.index, error)
            while deferred and group.waiting:
                group.fail(group.waiting.popleft()[0], error)
        if isinstance(error, RetryableError) and error.retry_after is not None:
            return error.retry_after
        return 0.0

    def _settle(
        self, group: _Group, job_id: str, flight: _Flight, status: Any, now: float
    ) -> Exception | None:
        """Record a polled job's state; the error that ends its call's wait, if any."""
        if status is not None and _state(status) not in _RUNNING:
            del group.running[job_id]
            try:
                group.done[flight.index] = _finished(status)
            except RetryableError as exc:
                return exc
            return None
        flight.missing = 0 if status is not None else flight.missing + 1
        if flight.missing >= MISSING_ROUNDS:
            return RetryableError(f"job {job_id} is unknown to Zendesk", system=SYSTEM)
        if now > flight.deadline:
            return JobsRunningError(
                [job_id] if group.each else list(group.running),
                f"job {job_id} still {_state(status) or 'unseen'} after {self.timeout:.0f}s",
            )
        return None

    def wait(self, job_ids: Sequence[str]) -> set[str]:
        """Wait, up to ``timeout``, for these jobs to end; returns the ids still queued or
        working then. Polls them together, as :meth:`run` does. A job Zendesk no longer knows
        (statuses are kept for about an hour) has long ended."""
        running = set(job_ids)
        deadline = self._clock() + self.timeout
        delays = self.backoff.delays()
        wait = 0.0
        while running:
            statuses, wait = self._poll(sorted(running))
            running = {j for j in running if _state(statuses.get(j)) in _RUNNING}
            if not running or self._clock() > deadline:
                break
            self._sleep(max(next(delays), wait))
        return running

    def _poll(self, job_ids: Sequence[str]) -> tuple[dict[str, Mapping[str, Any]], float]:
        """Statuses by job id, one request per ``ids_per_poll`` ids; and the longest
        ``Retry-After`` the answers asked for beyond the backoff (0 if none)."""
        found: dict[str, Mapping[str, Any]] = {}
        wait = 0.0
        for chunk in chunked(job_ids, self.ids_per_poll):
            body, headers = self.rest.get_with_headers(
                "job_statuses/show_many.json", {"ids": ",".join(chunk)}
            )
            if "Retry-After" in headers:
                wait = max(wait, retry_after(headers))
            for status in body.get("job_statuses") or []:
                if isinstance(status, Mapping):
                    found[str(status.get("id"))] = status
        return found, wait


def _told_to_wait(error: Exception) -> bool:
    """Whether a failed request asked us to wait before sending more (a deferral, a
    ``Retry-After``)."""
    if isinstance(error, DeferError):
        return True
    return isinstance(error, RetryableError) and error.retry_after is not None


def _finished(status: Any) -> Any:
    """A job status that ended; one that did not complete is a retryable failure."""
    if _state(status) != "completed":
        raise RetryableError(
            f"job {_field(status, 'id')} ended {_state(status) or '?'}: "
            f"{_field(status, 'message') or ''}",
            system=SYSTEM,
        )
    return status


def _state(status: Any) -> str | None:
    value = _field(status, "status")
    return str(value) if value is not None else None


def _field(obj: Any, name: str) -> Any:
    """An attribute of a zenpy object or a key of the same object as raw JSON."""
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


def job_results(job: Any, keys: Sequence[str], *, by_id: bool = False) -> list[WriteResult]:
    """One result per key, from a finished job's ``results``.

    ``create_many`` results carry the ``index`` of each item; ``update_many`` results carry the
    record ``id`` instead, so updates are matched by id (``by_id``).
    """
    found: dict[str, Any] = {}
    for position, item in enumerate(_field(job, "results") or []):
        if by_id:
            found[str(_field(item, "id") or "")] = item
        else:
            index = _field(item, "index")
            found[keys[int(index if index is not None else position)]] = item
    results: list[WriteResult] = []
    for key in keys:
        item = found.get(key)
        if item is None:
            results.append(
                WriteResult(
                    key,
                    False,
                    error="no result in job status",
                    code="missing",
                    tier=errors.record_tier("missing"),
                )
            )
            continue
        error = _field(item, "error")
        details = _field(item, "details")
        success = _field(item, "success")
        if error or details or success is False:
            results.append(
                WriteResult(
                    key,
                    False,
                    error=errors.job_item_error(error, details),
                    code=errors.job_item_code(error),
                    tier=errors.record_tier(errors.job_item_code(error)),
                )
            )
        else:
            results.append(WriteResult(key, True, external_id=str(_field(item, "id") or "")))
    return results
