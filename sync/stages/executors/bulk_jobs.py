"""Zendesk bulk jobs that carried a batch's actions: what they create exists only once they end.

Zendesk applies a ``create_many`` or ``update_many`` job when it runs, not when it accepts it.
An attempt that lost track of its job (a failed status poll, a job slower than our patience, a
crash) must not look for the job's tickets or comments while it may still run: it would miss
them and create them again, and the job would then add its own. So each job's id is stored with
its actions the moment Zendesk accepts it (:meth:`JobWatch.note`), and an action whose job still
runs waits for it (a deferral, not a failure) before anything looks it up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from connectors.errors import RetryableError
from connectors.zendesk.jobs import RECHECK_AFTER, JobsRunningError
from sync.core.retry import RetryPolicy
from sync.stages.act import Outcome
from sync.state import ClaimedAction, StateStore


class JobStatuses(Protocol):
    def wait_for_jobs(self, job_ids: Iterable[str]) -> set[str]: ...


@dataclass
class JobWatch:
    """The bulk job each action of one batch was last sent in, from the store and this batch."""

    helpdesk: JobStatuses
    retry: RetryPolicy
    store: StateStore | None
    clock: Callable[[], datetime]
    jobs: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        actions: Sequence[ClaimedAction],
        helpdesk: JobStatuses,
        retry: RetryPolicy,
        store: StateStore | None,
        clock: Callable[[], datetime],
    ) -> JobWatch:
        """Seeded with the jobs of earlier attempts: only an action claimed before has one."""
        jobs = {a.key: a.job_id for a in actions if a.job_id and a.attempts > 1}
        return cls(helpdesk, retry, store, clock, jobs)

    def note(self, keys: Sequence[str], job_id: str) -> None:
        """Zendesk accepted a job carrying ``keys``: remember it here and in the store."""
        self.jobs.update(dict.fromkeys(keys, job_id))
        if self.store is not None:
            self.store.outbox.note_job(keys, job_id, self.clock())

    def hold(self, actions: Sequence[ClaimedAction]) -> dict[str, Outcome]:
        """A deferral for each action whose job still runs after a wait as long as for a new
        job, or whose job cannot be checked."""
        keys = [a.key for a in actions if a.key in self.jobs]
        if not keys:
            return {}
        try:
            waiting = self._running(keys)
            reason = "its Zendesk bulk job is still running"
        except RetryableError as exc:
            waiting, reason = set(keys), f"could not check its Zendesk bulk job: {exc}"
        until = self.clock() + RECHECK_AFTER
        return {k: Outcome(k, "defer", error=reason, not_before=until) for k in waiting}

    def settle(self, keys: Iterable[str]) -> None:
        """Return once no job that carried ``keys`` runs any more (waiting as long as for a new
        job); else raise :class:`~connectors.zendesk.jobs.JobsRunningError` (the batch waits)."""
        waiting = self._running([k for k in keys if k in self.jobs])
        if waiting:
            jobs = sorted({self.jobs[k] for k in waiting})
            raise JobsRunningError(jobs, f"Zendesk bulk job {jobs[0]} is still running")

    def _running(self, keys: list[str]) -> set[str]:
        if not keys:
            return set()
        ids = {self.jobs[k] for k in keys}
        running = self.retry.call(lambda: self.helpdesk.wait_for_jobs(ids))
        return {k for k in keys if self.jobs[k] in running}
