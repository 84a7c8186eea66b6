"""The daemon: three APScheduler 3.x jobs until SIGTERM or SIGINT.

- ``poll`` (every ``schedule.poll_interval_seconds``): pull the sources, match and route;
- ``drain`` (every ``schedule.drain_interval_seconds``): run due actions and queued write-backs;
- ``reconcile`` (``schedule.reconcile_cron``, nightly by default): recompute every written field.

Each job has ``max_instances=1`` and coalescing, so a slow run is never overlapped by the next and
missed ticks collapse into one. The jobs of one process take turns (they share the engine's
connections); across replicas the store arbitrates: pulling, routing and writing back run under
cluster-wide singleton locks, and actions are claimed under leases. On a signal the job in flight
stops after its current batch, its leases are released, and the process exits cleanly.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from types import FrameType

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from connectors.errors import ConfigError
from sync.app.engine import Engine, RefusedError, RunReport
from sync.core.config import ScheduleConfig
from sync.stages.recency import history_summary

log = logging.getLogger(__name__)

Job = Callable[[], RunReport]


class Daemon:
    def __init__(
        self,
        engine: Engine,
        schedule: ScheduleConfig,
        *,
        on_report: Callable[[str, RunReport], None] | None = None,
    ) -> None:
        self.engine = engine
        self.schedule = schedule
        self.on_report = on_report
        self.scheduler = BackgroundScheduler(timezone="UTC")
        self._turn = threading.Lock()
        self._stopping = threading.Event()

    def run_job(self, name: str, job: Job) -> None:
        """Run one job unless stopping; jobs of this process wait for each other's turn."""
        with self._turn:
            if self.engine.stop_requested.is_set():
                return
            try:
                report = job()
            except RefusedError as exc:  # one line per run; the other systems' work went on
                refusals = "; ".join(f"{k}: {v}" for k, v in exc.report.refused.items())
                log.error(
                    "%s: refused by %s (fix the credentials or settings; retrying next run)",
                    name,
                    refusals,
                )
                report = exc.report
            except ConfigError as exc:
                log.error("%s: %s (fix the credentials or settings; retrying next run)", name, exc)
                return
            except Exception:
                log.exception("%s failed", name)
                return
            log.log(
                logging.DEBUG if report.idle else logging.INFO,
                "%s done: %d pulled, %d routed, %d tasks, %d tickets, %d fields, %d errors",
                name,
                report.pulled,
                report.routed,
                report.tasks_created,
                report.tickets_created,
                report.records_updated,
                len(report.errors),
            )
            if report.too_old:
                window = self.engine.config.routing.act_on_responses_newer_than
                log.info("%s: %s", name, history_summary(report.too_old, window))
            if report.skipped_unexpected:
                reasons = ", ".join(f"{k} {v}" for k, v in sorted(report.skipped.items()))
                log.warning(
                    "%s: %d action(s) skipped that the rules do not expect (%s); "
                    "`nps-sync skipped` lists them",
                    name,
                    report.skipped_unexpected,
                    reasons,
                )
            if self.on_report is not None:
                self.on_report(name, report)
        if name == "poll" and report.intents:
            self.wake("drain")  # new work: act on it now, not at the next drain tick

    def wake(self, job_id: str) -> None:
        """Run a job as soon as possible (it still waits for its turn)."""
        with contextlib.suppress(JobLookupError, SchedulerNotRunningError):
            self.scheduler.modify_job(job_id, next_run_time=datetime.now(UTC))

    def stop(self, signum: int | None = None, _frame: FrameType | None = None) -> None:
        """Ask the job in flight to stop after its batch; :meth:`run` then winds down."""
        log.info("stopping (signal %s): finishing the batch in flight", signum)
        self.engine.stop_requested.set()
        self._stopping.set()

    def add_jobs(self) -> None:
        now = datetime.now(UTC)
        jobs: list[tuple[str, Job, IntervalTrigger | CronTrigger, datetime | None]] = [
            (
                "poll",
                self.engine.poll,
                IntervalTrigger(seconds=self.schedule.poll_interval_seconds, timezone="UTC"),
                now,
            ),
            (
                "drain",
                self.engine.drain,
                IntervalTrigger(seconds=self.schedule.drain_interval_seconds, timezone="UTC"),
                now,
            ),
        ]
        if self.schedule.reconcile_cron.strip():
            cron = CronTrigger.from_crontab(self.schedule.reconcile_cron, timezone="UTC")
            jobs.append(("reconcile", self.engine.reconcile, cron, None))
        for name, job, trigger, first in jobs:
            options = {"next_run_time": first} if first is not None else {}
            self.scheduler.add_job(
                self.run_job,
                trigger,
                args=(name, job),
                id=name,
                name=name,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=None,
                **options,
            )

    def run(self) -> None:
        """Block until a signal arrives; polling and draining start at once."""
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        logging.getLogger("apscheduler").setLevel(logging.WARNING)  # our own lines say it all
        self.add_jobs()
        log.info(
            "daemon started as %s: poll every %ds, drain every %ds, reconcile %s",
            self.engine.owner,
            self.schedule.poll_interval_seconds,
            self.schedule.drain_interval_seconds,
            self.schedule.reconcile_cron or "off",
        )
        self.scheduler.start()
        self._stopping.wait()
        self.scheduler.shutdown(wait=False)
        with self._turn:  # the job in flight finishes its batch and records it
            released = self.engine.store.outbox.release_leases(
                self.engine.owner, self.engine.clock()
            )
        log.info("daemon stopped; %d leases released", released)
