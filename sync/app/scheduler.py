"""The daemon: three APScheduler 3.x jobs until SIGTERM or SIGINT.

- ``poll`` (every ``schedule.poll_interval_seconds``): pull the sources, match and route;
- ``drain`` (every ``schedule.drain_interval_seconds``): run due actions and queued write-backs;
- ``reconcile`` (``schedule.reconcile_cron``, nightly by default): recompute every written field;
- ``frontline`` and ``digest`` (``views.frontline.cron``, ``views.digest.cron``; off by default):
  queue each owner's call list and the team leads' weekly digest, which the drain then sends;
- ``realtime`` (whenever the receiver stored a webhook's response): route and act at once, in a
  thread of its own on an engine of its own (:meth:`Daemon.respond_soon`).

Each job has ``max_instances=1`` and coalescing, so a slow run is never overlapped by the next and
missed ticks collapse into one. The jobs of one process take turns (they share the engine's
connections); across replicas the store arbitrates: pulling, routing and writing back run under
cluster-wide singleton locks, and actions are claimed under leases. On a signal the job in flight
stops after its current batch, its leases are released, and the process exits cleanly.

The log speaks to operators: APScheduler's own loggers are quieted to errors, and the events an
operator should know about (a tick skipped because the previous run still goes on, a run time
missed) are logged by :class:`Daemon` in plain words.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from types import FrameType

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobEvent
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from connectors.errors import ConfigError
from sync.app.engine import Engine, RefusedError, RunReport
from sync.core.config import ScheduleConfig, ViewsConfig
from sync.stages.recency import history_summary
from sync.state.errors import (
    StateFileError,
    StateFileReplacedError,
    StateRefusedError,
    StateUnavailableError,
)

log = logging.getLogger(__name__)

Job = Callable[[], RunReport]
#: Jobs that queue actions: the drain runs right after one that queued some.
QUEUEING = frozenset({"poll", "frontline", "digest"})
#: How often the main thread wakes from waiting for a stop, so that a signal received by
#: another thread has its handler run.
SIGNAL_CHECK_SECONDS = 0.5


#: The figures of a run's log line, in order; only those that are not zero are named.
DONE_FIGURES = (
    ("pulled", "pulled"),
    ("routed", "routed"),
    ("intents", "actions queued"),
    ("tasks_created", "Tasks created"),
    ("tickets_created", "tickets created"),
    ("tickets_attached", "comments on open tickets"),
    ("found_existing", "found already done"),
    ("records_updated", "records' NPS fields updated"),
    ("fields_set", "fields set by rules"),
    ("notifications_sent", "notifications sent"),
    ("escalations_fired", "escalations"),
    ("tickets_solved", "tickets solved"),
    ("tickets_reopened", "tickets reopened"),
    ("retried", "to retry"),
    ("deferred", "deferred"),
    ("dead", "failed for good (nps-sync failed list)"),
)


def done_summary(report: RunReport) -> str:
    """What a run did, in a few words: ``"80 pulled, 80 routed"``, ``"nothing to do"``."""
    parts = [f"{getattr(report, key)} {words}" for key, words in DONE_FIGURES]
    named = [
        part for part, (key, _) in zip(parts, DONE_FIGURES, strict=True) if getattr(report, key)
    ]
    if report.skipped_total:
        named.append(f"{report.skipped_total} actions skipped (nps-sync skipped)")
    if report.errors:
        named.append(f"{len(report.errors)} errors")
    return ", ".join(named) or "nothing to do"


class Daemon:
    def __init__(
        self,
        engine: Engine,
        schedule: ScheduleConfig,
        *,
        on_report: Callable[[str, RunReport], None] | None = None,
        views: ViewsConfig | None = None,
    ) -> None:
        self.engine = engine
        self.schedule = schedule
        #: When the views are sent (``views`` in the config; none by default).
        self.views = views or ViewsConfig()
        self.on_report = on_report
        #: Told of each pass that failed on the state store (readiness shows it).
        self.on_state_error: Callable[[str, Exception], None] | None = None
        self.scheduler = BackgroundScheduler(timezone="UTC")
        self.scheduler.add_listener(self._skipped, EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED)
        self._turn = threading.Lock()
        self._stopping = threading.Event()
        #: The error the daemon stopped itself for (its state file replaced), raised by run.
        self.failure: Exception | None = None
        #: The job that holds the turn now, for the log line of a tick skipped meanwhile.
        self._running: str | None = None
        #: Jobs started (waiting for their turn or running), and those asked for again meanwhile.
        self._active: set[str] = set()
        self._wanted: set[str] = set()
        self._flags = threading.Lock()
        #: Set when a webhook stored a response: the responder thread runs a real-time pass.
        self._respond = threading.Event()
        self._responder = threading.Thread(target=self._respond_loop, name="realtime", daemon=True)
        #: The responder's engine (:meth:`Engine.sibling`), connected at its first pass.
        self._realtime: Engine | None = None

    def run_job(self, name: str, job: Job) -> None:
        """Run one job unless stopping; jobs of this process wait for each other's turn."""
        with self._flags:
            self._active.add(name)
        try:
            self._run_job(name, job)
        finally:
            with self._flags:
                self._active.discard(name)
                again = name in self._wanted
                self._wanted.discard(name)
            if again:
                self.wake(name)

    def _run_job(self, name: str, job: Job) -> None:
        with self._turn:
            with self._flags:  # this run sees everything stored before it took the turn
                self._wanted.discard(name)
            if self.engine.stop_requested.is_set():
                return
            self._running = name
            try:
                report = self._report(name, job)
            finally:
                self._running = None
        if name in QUEUEING and report is not None and report.intents:
            self.wake_soon("drain")  # new work: act on it now, not at the next drain tick

    def _report(self, name: str, job: Job) -> RunReport | None:
        """Run ``job`` and log what it did; None when it ended without a report."""
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
            return None
        except StateFileReplacedError as exc:  # nothing this process records would be read
            log.error("%s: %s", name, exc)
            self.failure = exc
            self.stop()
            return None
        except (StateFileError, StateUnavailableError, StateRefusedError) as exc:
            # The state database's own tiers: the message names it and what to do; a traceback
            # (with the statement) would bury that.
            log.error("%s failed: %s", name, exc)
            if self.on_state_error is not None:
                self.on_state_error(name, exc)
            return None
        except Exception:
            log.exception("%s failed", name)
            return None
        level = logging.DEBUG if report.idle else logging.INFO
        log.log(level, "%s done: %s", name, done_summary(report))
        if report.too_old:
            window = self.engine.config.routing.act_on_responses_newer_than
            log.info(
                "%s: %s",
                name,
                history_summary(report.too_old, window, backfilling=bool(report.backfilling)),
            )
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
        return report

    def wake_soon(self, job_id: str) -> None:
        """Run a job as soon as possible, and again after the run in progress if there is one.

        New work (a webhook's response) stored while a pass is already under way may have
        arrived after that pass read the store: it gets a run of its own right after, instead
        of waiting for the next tick. Many calls during one run ask for one more run.
        """
        with self._flags:
            if job_id in self._active:
                self._wanted.add(job_id)
                return
        self.wake(job_id)

    def respond_soon(self) -> None:
        """Route and act on newly stored responses at once (:meth:`Engine.respond`); calls
        during a real-time pass ask for one more right after it.

        The pass runs in the responder thread on an engine of its own, so it waits for no
        write-back, ticket tracking or reconciliation in flight; it takes turns with the
        scheduled jobs only to route and to act (:attr:`Engine.routing_lock`). When that
        engine cannot connect, the pass runs on the daemon's engine in turn with the jobs.
        """
        self._respond.set()

    def _respond_loop(self) -> None:
        while not self._stopping.is_set():
            if not self._respond.wait(timeout=0.5):
                continue
            self._respond.clear()
            if self.engine.stop_requested.is_set():
                continue
            engine = self._realtime_engine()
            if engine is None:
                self.run_job("realtime", self.engine.respond)
            else:
                self._report("realtime", engine.respond)

    def _realtime_engine(self) -> Engine | None:
        if self._realtime is None:
            try:
                self._realtime = self.engine.sibling()
            except Exception as exc:  # the daemon's engine does the pass until this connects
                log.warning("real-time pass on the scheduled jobs' connections: %s", exc)
                return None
            if self.engine.stop_requested.is_set():
                self._realtime.stop_requested.set()
        return self._realtime

    def wake(self, job_id: str) -> None:
        """Run a job as soon as possible (it still waits for its turn)."""
        with contextlib.suppress(JobLookupError, SchedulerNotRunningError):
            self.scheduler.modify_job(job_id, next_run_time=datetime.now(UTC))

    def stop(self, signum: int | None = None, _frame: FrameType | None = None) -> None:
        """Ask the job in flight to stop after its batch; :meth:`run` then winds down."""
        asked = "stop requested" if signum is None else f"{signal.Signals(signum).name} received"
        log.info("%s: finishing the batch in flight, then stopping", asked)
        self.engine.stop_requested.set()
        if self._realtime is not None:
            self._realtime.stop_requested.set()
        self._stopping.set()

    def _skipped(self, event: JobEvent) -> None:
        """A tick APScheduler did not run, said the way an operator needs to hear it."""
        name = event.job_id
        if event.code == EVENT_JOB_MISSED:
            log.warning(
                "%s: a run was missed (the machine was busy or asleep); the next one runs as "
                "scheduled",
                name,
            )
            return
        running = self._running
        if running is None or running == name:
            log.info("%s: the previous %s is still running; skipping this one", name, name)
        else:
            log.info(
                "%s: still waiting for %s to finish (the jobs of one daemon take turns); "
                "skipping this one",
                name,
                running,
            )

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
        crons: list[tuple[str, Job, str]] = [
            ("reconcile", lambda: self.engine.reconcile(), self.schedule.reconcile_cron),
            ("frontline", lambda: self.engine.frontline_lists(), self.views.frontline.cron),
            ("digest", lambda: self.engine.weekly_digest(), self.views.digest.cron),
        ]
        for name, job, crontab in crons:
            if crontab.strip():
                cron = CronTrigger.from_crontab(crontab, timezone="UTC")
                jobs.append((name, job, cron, None))
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

    def run(self, stop_asked: threading.Event | None = None) -> None:
        """Block until a signal arrives; polling and draining start at once.

        ``stop_asked`` is set by a signal that came before these handlers were installed (while
        the connectors connected): the daemon then stops as soon as it has started. The wait
        wakes every :data:`SIGNAL_CHECK_SECONDS`: Python runs a signal handler in the main thread
        only, and when the kernel hands the signal to one of the job threads, a main thread
        blocked on an event without a timeout never wakes to run it.
        """
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        if stop_asked is not None and stop_asked.is_set():
            self.stop()
        self.start()
        while not self._stopping.wait(timeout=SIGNAL_CHECK_SECONDS):
            pass
        self.shut_down()
        if self.failure is not None:  # the daemon stopped itself: exit with its error's code
            raise self.failure

    def start(self) -> None:
        """Schedule the jobs and start them (in the scheduler's threads)."""
        # APScheduler's own lines speak of job stores and executors; the ones an operator needs
        # are logged by this class (see _skipped). Only its errors get through.
        logging.getLogger("apscheduler").setLevel(logging.ERROR)
        self.add_jobs()
        log.info(
            "daemon started (worker %s): polling the sources every %d s, running due actions "
            "and write-backs every %d s, %s; stop it with Ctrl-C or SIGTERM",
            self.engine.owner,
            self.schedule.poll_interval_seconds,
            self.schedule.drain_interval_seconds,
            f"reconciling fields at '{self.schedule.reconcile_cron}' (cron, UTC)"
            if self.schedule.reconcile_cron.strip()
            else "no nightly reconcile",
        )
        self.scheduler.start()
        self._responder.start()

    def shut_down(self) -> None:
        """Stop scheduling, let the job in flight finish its batch, hand back its claims."""
        self.scheduler.shutdown(wait=False)
        self._stopping.set()  # the responder ends; its pass in flight finishes its batch first
        if self._responder.is_alive():
            self._responder.join()
        with self._turn:  # the job in flight finishes its batch and records it
            released = self.engine.store.outbox.release_leases(
                self.engine.owner, self.engine.clock()
            )
        if released:
            log.info("daemon stopped; %d claimed actions handed back for the next run", released)
        else:
            log.info("daemon stopped; no claimed action was left over")
