"""Operator jobs run outside the engine's passes (a backfill, a reconciliation from the command
line) are kept in the run history as passes are, so ``nps-sync status`` lists them too."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sync.app.workers import dead_local_owner, worker_id
from sync.state import StateStore

#: Run kinds that neither route nor act: what waits on a deferral is read from the passes.
WRITE_ONLY_JOBS = frozenset({"reconcile", "backfill"})

#: Errors kept with a run, as a pass keeps its own; ``error_count`` counts them all.
KEPT_ERRORS = 50


@dataclass
class JobRun:
    """What the job reports into its run record: the figures ``status`` shows and its outcome."""

    stats: dict[str, Any] = field(default_factory=dict)

    def finished(self, errors: Sequence[str], **figures: Any) -> None:
        """Record the job's figures (``pulled``, ``records_updated``, ...) and its errors."""
        self.stats.update(figures)
        self.stats["errors"] = list(errors[:KEPT_ERRORS])
        self.stats["error_count"] = len(errors)

    @property
    def status(self) -> str:
        return "partial" if self.stats.get("error_count") else "ok"


def interrupt_dead_runs(store: StateStore) -> list[str]:
    """Mark ``interrupted`` the runs that workers of this machine, since dead, left running (a
    pass or job killed outright), so ``status`` does not show them as still running; returns
    those workers."""
    dead = [owner for owner in store.runs.running_owners() if dead_local_owner(owner)]
    return [owner for owner in dead if store.runs.interrupt(owner)]


@contextmanager
def recorded_job(store: StateStore, kind: str) -> Iterator[JobRun]:
    """Record the job in ``nps_runs`` as ``kind``: running while it runs, then ``ok``,
    ``partial`` (errors), ``interrupted`` (Ctrl-C) or ``failed`` (an exception). A job killed
    outright stays running until the next pass or job finds its worker dead and marks it
    interrupted."""
    run = JobRun()
    started = datetime.now(UTC)
    interrupt_dead_runs(store)
    run_id = store.runs.start(started, kind=kind, owner=worker_id())
    status = "failed"
    try:
        yield run
        status = run.status
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        finished = datetime.now(UTC)
        run.stats.setdefault("seconds", round((finished - started).total_seconds(), 3))
        store.runs.finish(run_id, status, run.stats, finished)
