"""The daemon: APScheduler 3.x runs passes on an interval until SIGTERM or SIGINT.

One job, ``max_instances=1`` with coalescing, so a slow pass is never overlapped by the next and
missed ticks collapse into one. On a signal the current pass is asked to stop after its in-flight
batch, leases are released, and the process exits cleanly.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from types import FrameType

from apscheduler.schedulers.blocking import BlockingScheduler

from sync.engine import Engine, RunReport

log = logging.getLogger(__name__)


class Daemon:
    def __init__(
        self,
        engine: Engine,
        *,
        interval_seconds: int,
        on_report: Callable[[RunReport], None] | None = None,
    ) -> None:
        self.engine = engine
        self.interval_seconds = interval_seconds
        self.on_report = on_report
        self.scheduler = BlockingScheduler(timezone="UTC")
        self._lock = threading.Lock()

    def tick(self) -> None:
        with self._lock:
            if self.engine.stop_requested.is_set():
                return
            report = self.engine.run_once()
            log.info(
                "pass done: %d pulled, %d routed, %d tasks, %d tickets, %d fields, %d errors",
                report.pulled,
                report.routed,
                report.tasks_created,
                report.tickets_created,
                report.records_updated,
                len(report.errors),
            )
            if self.on_report is not None:
                self.on_report(report)

    def stop(self, signum: int | None = None, _frame: FrameType | None = None) -> None:
        log.info("stopping (signal %s): finishing the current batch", signum)
        self.engine.stop_requested.set()
        self.scheduler.shutdown(wait=False)

    def run(self) -> None:
        """Block until a signal arrives; the first pass starts at once."""
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        self.scheduler.add_job(
            self.tick,
            "interval",
            seconds=self.interval_seconds,
            id="sync-pass",
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC),
        )
        log.info("daemon started; a pass every %ds", self.interval_seconds)
        self.scheduler.start()
        # shutdown(wait=False) returns at once; wait here for the pass in flight to finish.
        with self._lock:
            pass
        log.info("daemon stopped")
