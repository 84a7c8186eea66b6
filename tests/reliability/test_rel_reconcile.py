"""Reconciliation and the daemon's schedule.

Rolling metrics move with time even when no response arrives: the nightly reconcile recomputes
every contact and account we route responses to and writes what changed. The daemon runs three
jobs (poll, drain, reconcile), each never overlapping itself and coalescing missed runs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from emulators.world import EmulatedWorld
from sync.app.engine import Engine, RunReport
from sync.app.scheduler import Daemon
from sync.core.config import ScheduleConfig
from tests.reliability.conftest import fast_engine


def test_rel_reconcile_rewrites_fields_that_time_has_changed(
    small_world: EmulatedWorld, sqlite_url: str
) -> None:
    now = datetime.now(UTC)
    first = fast_engine(small_world, sqlite_url)
    first.store.runs.start(now - timedelta(days=90), kind="drain")  # history old enough to go
    first.run_once()
    accounts = {a.id for a in small_world.book.accounts}
    before = {i: small_world.salesforce.get_record("Account", i) for i in accounts}
    scored = {i for i, rec in before.items() if rec and rec["NPS_Responses__c"]}
    assert scored

    def later() -> datetime:
        return now + timedelta(days=400)  # every response has left the rolling window

    report = fast_engine(small_world, sqlite_url, clock=later).reconcile()
    assert report.errors == []
    assert report.records_updated >= len(scored)
    for account_id in scored:
        record = small_world.salesforce.get_record("Account", account_id)
        assert record is not None
        assert record["NPS_Responses__c"] in (0, None)
    engine = fast_engine(small_world, sqlite_url, clock=later)
    assert not engine.store.write_backs.queued()
    assert engine.reconcile().records_updated == 0  # nothing moved since: nothing sent
    # The first reconcile was run "400 days later": it pruned every run before it.
    assert [run["kind"] for run in engine.store.runs.last(5)] == ["reconcile", "reconcile"]


class StubEngine:
    """Just what the daemon schedules; records which jobs ran."""

    def __init__(self) -> None:
        self.ran: list[str] = []
        self.owner = "stub"
        self.stop_requested = threading.Event()

    def job(self, name: str) -> Callable[[], RunReport]:
        def run() -> RunReport:
            self.ran.append(name)
            return RunReport()

        return run

    def __getattr__(self, name: str) -> Any:
        if name in ("poll", "drain", "reconcile"):
            return self.job(name)
        raise AttributeError(name)


@pytest.mark.parametrize(
    ("cron", "jobs"), [("0 3 * * *", ["drain", "poll", "reconcile"]), ("", ["drain", "poll"])]
)
def test_rel_the_daemon_schedules_poll_drain_and_nightly_reconcile(
    cron: str, jobs: list[str]
) -> None:
    schedule = ScheduleConfig(
        poll_interval_seconds=120, drain_interval_seconds=30, reconcile_cron=cron
    )
    daemon = Daemon(cast(Engine, StubEngine()), schedule)
    daemon.add_jobs()
    daemon.scheduler.start(paused=True)
    try:
        scheduled = {job.id: job for job in daemon.scheduler.get_jobs()}
        assert sorted(scheduled) == jobs
        for job in scheduled.values():
            assert (job.max_instances, job.coalesce) == (1, True)
        assert scheduled["poll"].trigger.interval == timedelta(seconds=120)
        assert scheduled["drain"].trigger.interval == timedelta(seconds=30)
        if cron:
            nightly = scheduled["reconcile"].next_run_time
            assert (nightly.hour, nightly.minute) == (3, 0)
            assert nightly - datetime.now(UTC) <= timedelta(days=1)
    finally:
        daemon.scheduler.shutdown(wait=False)


def test_rel_a_poll_that_queued_actions_wakes_the_drain_at_once() -> None:
    engine = StubEngine()
    daemon = Daemon(cast(Engine, engine), ScheduleConfig(drain_interval_seconds=600))
    daemon.add_jobs()
    daemon.scheduler.start(paused=True)
    try:
        daemon.scheduler.modify_job("drain", next_run_time=datetime.now(UTC) + timedelta(hours=1))
        daemon.run_job("poll", lambda: RunReport(intents=0))
        assert daemon.scheduler.get_job("drain").next_run_time > datetime.now(UTC)
        daemon.run_job("poll", lambda: RunReport(intents=3))
        woken = daemon.scheduler.get_job("drain").next_run_time
        assert woken <= datetime.now(UTC)
    finally:
        daemon.scheduler.shutdown(wait=False)


@pytest.mark.parametrize(
    ("report", "logged"),
    [
        (RunReport(), False),
        (RunReport(pulled=1, routed=1), True),
        (RunReport(records_updated=2), True),
        (RunReport(errors=["salesforce: timed out"]), True),
        (RunReport(problems=["export.csv:3: missing score"]), True),
    ],
)
def test_rel_a_pass_that_did_nothing_logs_nothing_at_info(
    report: RunReport, logged: bool, caplog: pytest.LogCaptureFixture
) -> None:
    daemon = Daemon(cast(Engine, StubEngine()), ScheduleConfig())
    with caplog.at_level(logging.INFO, logger="sync.app.scheduler"):
        daemon.run_job("drain", lambda: report)
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert bool(lines) is logged
