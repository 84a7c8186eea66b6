"""Background job statuses for bulk writes.

Design choice: the batch is applied when it is submitted, and its per-item results are revealed
only once the job reports ``completed``. Zendesk runs a job whether or not anyone polls it, so a
client that loses the job id (crash, timeout) must still find the records it created; applying
eagerly keeps that situation reproducible.

A job answers ``queued`` at submission, as real ones do, and each poll (``job_statuses/{id}`` or
``job_statuses/show_many``) moves it one step along ``queued -> working -> completed``. How many
polls that takes is drawn per job from ``polls_to_complete`` (recorded traffic shows one to three;
a job never completes at submission). Job ids are random like Zendesk's ``V3-<32 hex>``, not drawn
from the seed, so an emulator started again never hands out an id a client may still hold.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .errors import not_found

#: Polls a job takes to complete: one number, or an inclusive range drawn from per job.
PollsToComplete = int | tuple[int, int]

#: What recorded Zendesk traffic shows: completed on the first, second or third poll.
REALISTIC_POLLS: tuple[int, int] = (1, 3)


@dataclass
class Job:
    id: str
    total: int
    activity: str  # "Creating ticket", "Updating user", ... as in Zendesk's progress messages
    results: list[dict[str, Any]]
    steps: int  # polls needed to complete
    polls: int = 0
    completed_at: float | None = None


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
    def __init__(self, polls_to_complete: PollsToComplete, rng: random.Random) -> None:
        self.polls = poll_range(polls_to_complete)
        self._rng = rng
        self._jobs: dict[str, Job] = {}

    def submit(self, activity: str, results: list[dict[str, Any]], now: float) -> Job:
        job_id = f"V3-{secrets.token_hex(16)}"
        job = Job(job_id, len(results), activity, results, steps=self._rng.randint(*self.polls))
        self._jobs[job_id] = job
        return job

    def poll(self, job_id: str, now: float) -> Job:
        """Fetch a job and move it one step towards completion."""
        job = self._jobs.get(job_id)
        if job is None:
            raise not_found()
        if job.completed_at is None:
            job.polls += 1
            if job.polls >= job.steps:
                job.completed_at = now
        return job

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
