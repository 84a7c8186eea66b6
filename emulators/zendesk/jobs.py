"""Background job statuses for bulk writes.

A job answers ``queued`` at submission, as real ones do, and each poll (``job_statuses/{id}`` or
``job_statuses/show_many``) moves it one step along ``queued -> working -> completed``. How many
polls that takes is drawn per job from ``polls_to_complete`` (recorded traffic shows one to three;
a job never completes at submission). Job ids are random like Zendesk's ``V3-<32 hex>``, not drawn
from the seed, so an emulator started again never hands out an id a client may still hold.

When the batch takes effect is a setting:

- ``on_submit`` (the default): the batch is applied when it is submitted, and its per-item results
  are revealed only once the job reports ``completed``. A client that loses the job id must still
  find the records it created; applying eagerly keeps that reproducible.
- ``on_completion``: as Zendesk does it, the batch is applied when the job completes, after its
  polls or ``seconds_to_complete`` after submission, whichever comes first, and jobs complete in
  the order they were submitted. A client that looks for a job's records while it is still
  queued does not find them: the case that creates duplicates if it then submits again.

A completed job's status is kept for ``status_ttl_seconds`` (Zendesk keeps them about an hour),
then the job is unknown (404, and left out of ``show_many``).
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from .errors import not_found

#: Polls a job takes to complete: one number, or an inclusive range drawn from per job.
PollsToComplete = int | tuple[int, int]

#: What recorded Zendesk traffic shows: completed on the first, second or third poll.
REALISTIC_POLLS: tuple[int, int] = (1, 3)
#: How long Zendesk keeps a completed job's status.
STATUS_TTL_SECONDS = 3600.0

#: When a job's batch takes effect (see the module docstring).
JobApply = Literal["on_submit", "on_completion"]
#: Applies a job's batch and returns its per-item results.
Work = Callable[[], list[dict[str, Any]]]


@dataclass
class Job:
    id: str
    total: int
    activity: str  # "Creating ticket", "Updating user", ... as in Zendesk's progress messages
    results: list[dict[str, Any]]
    steps: int  # polls needed to complete
    submitted_at: float = 0.0
    polls: int = 0
    completed_at: float | None = None
    work: Work | None = None  # the batch, until it is applied (``on_completion``)


def poll_range(polls_to_complete: PollsToComplete) -> tuple[int, int]:
    """``polls_to_complete`` as an inclusive range of at least one poll."""
    low, high = (
        polls_to_complete
        if isinstance(polls_to_complete, tuple)
        else (polls_to_complete, polls_to_complete)
    )
    if low < 1 or high < low:
        raise ValueError("a job completes after at least one poll (and low <= high)")
    return low, high


class JobBoard:
    def __init__(
        self,
        polls_to_complete: PollsToComplete,
        rng: random.Random,
        *,
        apply: JobApply = "on_submit",
        seconds_to_complete: float = 2.0,
        status_ttl_seconds: float = STATUS_TTL_SECONDS,
    ) -> None:
        self.polls = poll_range(polls_to_complete)
        self.apply = apply
        self.seconds_to_complete = seconds_to_complete
        self.status_ttl_seconds = status_ttl_seconds
        self._rng = rng
        self._jobs: dict[str, Job] = {}  # in submission order

    def submit(self, activity: str, total: int, work: Work, now: float) -> Job:
        """Queue a batch of ``total`` items; ``work`` applies it (now, or when it completes)."""
        job_id = f"V3-{secrets.token_hex(16)}"
        steps = self._rng.randint(*self.polls)
        job = Job(job_id, total, activity, [], steps, submitted_at=now)
        if self.apply == "on_submit":
            job.results = work()
        else:
            job.work = work
        self._jobs[job_id] = job
        return job

    def settle(self, now: float) -> None:
        """Complete the jobs whose time has come, whether or not anyone polls them, and forget
        the statuses past their time to live."""
        if self.apply == "on_completion":
            due = [
                j
                for j in self._jobs.values()
                if j.completed_at is None and now >= j.submitted_at + self.seconds_to_complete
            ]
            if due:
                self._complete_through(due[-1], now)
        expired = [
            job_id
            for job_id, j in self._jobs.items()
            if j.completed_at is not None and now > j.completed_at + self.status_ttl_seconds
        ]
        for job_id in expired:
            del self._jobs[job_id]

    def poll(self, job_id: str, now: float) -> Job:
        """Fetch a job and move it one step towards completion."""
        self.settle(now)
        job = self._jobs.get(job_id)
        if job is None:
            raise not_found()
        if job.completed_at is None:
            job.polls += 1
            if job.polls >= job.steps:
                self._complete_through(job, now)
        return job

    def _complete_through(self, last: Job, now: float) -> None:
        """Complete every unfinished job submitted up to ``last``, in order."""
        for job in list(self._jobs.values()):
            if job.completed_at is None:
                if job.work is not None:
                    job.results, job.work = job.work(), None
                job.completed_at = now
            if job is last:
                return

    def all(self) -> list[Job]:
        return list(self._jobs.values())


def render(job: Job, url: str) -> dict[str, Any]:
    """``job_status`` body: queued (never polled), working, or completed with results."""
    if job.completed_at is not None:
        stamp = datetime.fromtimestamp(job.completed_at, UTC).strftime("%Y-%m-%d %H:%M:%S +0000")
        status, progress, message = "completed", job.total, f"Completed at {stamp}"
        results: list[dict[str, Any]] | None = [dict(item) for item in job.results]
    elif job.polls == 0:
        status, progress, message, results = "queued", None, None, None
    else:
        progress = job.total * job.polls // job.steps
        status, message, results = "working", f"{job.activity} #{progress}", None
    return {
        "id": job.id,
        "url": url,
        "total": job.total,
        "progress": progress,
        "status": status,
        "message": message,
        "results": results,
    }
