"""What an operator reads in the daemon's log when a run overruns its schedule and when the
daemon stops: plain words from the daemon, nothing from APScheduler's own loggers."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from sync.app.engine import Engine, RunReport
from sync.app.scheduler import Daemon, done_summary
from sync.core.config import ScheduleConfig
from tests.support import wait_for


class Leases:
    def __init__(self, held: int) -> None:
        self.held = held

    def release_leases(self, owner: str, now: datetime) -> int:
        released, self.held = self.held, 0
        return released


class Store:
    def __init__(self, held: int) -> None:
        self.outbox = Leases(held)


class SlowPollEngine:
    """A poll that runs until released; a drain that returns at once."""

    def __init__(self, *, held: int = 0) -> None:
        self.owner = "host:42:7"
        self.stop_requested = threading.Event()
        self.store = Store(held)
        self.polling = threading.Event()
        self.release = threading.Event()

    def clock(self) -> datetime:
        return datetime.now(UTC)

    def poll(self) -> RunReport:
        self.polling.set()
        self.release.wait(timeout=60)
        return RunReport()

    def drain(self) -> RunReport:
        return RunReport()

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(name)


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "sync.app.scheduler"]


def logged(caplog: pytest.LogCaptureFixture, text: str) -> bool:
    return any(text in message for message in messages(caplog))


@pytest.mark.parametrize(("held", "stopped"), [
    (3, "daemon stopped; 3 claimed actions handed back for the next run"),
    (0, "daemon stopped; no claimed action was left over"),
])  # fmt: skip
def test_rel_overruns_and_shutdown_are_told_in_plain_words(
    held: int, stopped: str, caplog: pytest.LogCaptureFixture
) -> None:
    engine = SlowPollEngine(held=held)
    daemon = Daemon(cast(Engine, engine), ScheduleConfig(reconcile_cron=""))
    with caplog.at_level(logging.DEBUG):
        daemon.start()
        try:
            assert engine.polling.wait(timeout=30)
            # The poll's next tick comes while it still runs.
            daemon.wake("poll")
            assert wait_for(
                lambda: logged(caplog, "poll: the previous poll is still running"), timeout=10
            ), messages(caplog)

            # The drain's ticks come while it waits for the poll's turn.
            def drain_tick() -> bool:
                daemon.wake("drain")
                return logged(caplog, "drain: still waiting")

            assert wait_for(drain_tick, timeout=10, interval=0.2), messages(caplog)
            daemon.stop(signal.SIGTERM)
        finally:
            engine.release.set()
            daemon.shut_down()

    lines = messages(caplog)
    assert lines[0] == (
        "daemon started (worker host:42:7): polling the sources every 300 s, running due "
        "actions and write-backs every 60 s, no nightly reconcile; stop it with Ctrl-C or SIGTERM"
    )
    assert "poll: the previous poll is still running; skipping this one" in lines
    assert (
        "drain: still waiting for poll to finish (the jobs of one daemon take turns); "
        "skipping this one"
    ) in lines
    assert "SIGTERM received: finishing the batch in flight, then stopping" in lines
    assert lines[-1] == stopped
    assert [r for r in caplog.records if r.name.startswith("apscheduler")] == []


@pytest.mark.parametrize(("report", "summary"), [
    (RunReport(pulled=80, routed=80), "80 pulled, 80 routed"),
    (
        RunReport(tasks_created=62, tickets_created=10, records_updated=2009),
        "62 Tasks created, 10 tickets created, 2009 records' NPS fields updated",
    ),
    (
        RunReport(tickets_solved=2, retried=1, dead=3, errors=["a", "b", "c", "d"]),
        "2 tickets solved, 1 to retry, 3 failed for good (nps-sync failed list), 4 errors",
    ),
    (
        RunReport(tasks_created=1, skipped={"no_owner": 2, "no_requester": 1}),
        "1 Tasks created, 3 actions skipped (nps-sync skipped)",
    ),
    (RunReport(intents=1), "1 actions queued"),  # a weekly digest queued, sent by the drain
    (RunReport(), "nothing to do"),
])  # fmt: skip
def test_rel_a_run_is_summed_up_by_what_it_did(report: RunReport, summary: str) -> None:
    assert done_summary(report) == summary


class QuickEngine(SlowPollEngine):
    """A poll and a drain that return at once."""

    def poll(self) -> RunReport:
        self.polling.set()
        return RunReport()


@pytest.fixture
def own_signal_handlers() -> Iterator[None]:
    """:meth:`Daemon.run` installs SIGTERM and SIGINT handlers; the test runner's come back."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)


def run_until_stopped(daemon: Daemon, stop_asked: threading.Event | None = None) -> float:
    """Seconds :meth:`Daemon.run` took; a watchdog stops it after 20 s if nothing else did."""
    watchdog = threading.Timer(20, daemon.stop)
    watchdog.start()
    started = time.monotonic()
    try:
        daemon.run(stop_asked)
    finally:
        watchdog.cancel()
    return time.monotonic() - started


@pytest.mark.usefixtures("own_signal_handlers")
def test_rel_a_sigterm_taken_by_a_job_thread_still_stops_the_daemon(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The kernel may hand a process's signal to any of its threads; Python runs the handler in
    # the main thread only, when that thread next runs.
    engine = QuickEngine()
    daemon = Daemon(cast(Engine, engine), ScheduleConfig(reconcile_cron=""))

    def sigterm_from_another_thread() -> None:
        engine.polling.wait(timeout=10)
        signal.pthread_kill(threading.get_ident(), signal.SIGTERM)

    threading.Thread(target=sigterm_from_another_thread, daemon=True).start()
    with caplog.at_level(logging.INFO):
        took = run_until_stopped(daemon)

    assert took < 10, f"the daemon stopped only after {took:.1f} s"
    assert "SIGTERM received: finishing the batch in flight, then stopping" in messages(caplog)


@pytest.mark.usefixtures("own_signal_handlers")
def test_rel_a_signal_while_connecting_stops_the_daemon_once_started(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A SIGTERM that came while the connectors still connected set only the command's event.
    asked = threading.Event()
    asked.set()
    daemon = Daemon(cast(Engine, QuickEngine()), ScheduleConfig(reconcile_cron=""))
    with caplog.at_level(logging.INFO):
        took = run_until_stopped(daemon, asked)

    assert took < 10, f"the daemon stopped only after {took:.1f} s"
    lines = messages(caplog)
    assert "stop requested: finishing the batch in flight, then stopping" in lines
    assert lines[-1] == "daemon stopped; no claimed action was left over"
