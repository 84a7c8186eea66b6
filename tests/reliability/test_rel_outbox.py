"""The outbox: intents are stored before any external call, claimed under exclusive leases, and
an intent whose call may have happened is looked up by its marker before anything is created."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.models import SurveyResponse, TaskSpec, TicketSpec, WriteResult
from emulators.base import Fault
from emulators.world import EmulatedWorld
from sync.app.workers import worker_id
from sync.state import ActionIntent, ActionResult, RoutingOutcome, StateStore
from tests.reliability.conftest import ZENDESK_SETTLE_SECONDS, fast_engine, snapshot, unfinished

T0 = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)


class Crash(BaseException):
    """Stands in for the process dying: nothing in the engine catches it."""


def test_rel_intents_are_stored_and_claimed_before_any_create(
    small_world: EmulatedWorld, sqlite_url: str
) -> None:
    engine = fast_engine(small_world, sqlite_url)
    seen: list[str] = []

    def claimed(keys: Sequence[str]) -> None:
        rows = {a.key: a for a in engine.store.outbox.actions(keys=list(keys))}
        assert set(rows) == set(keys)
        assert {(a.status, a.attempts) for a in rows.values()} == {("claimed", 1)}
        seen.extend(keys)

    create_tasks, create_tickets = engine.conn.crm.create_tasks, engine.conn.helpdesk.create_tickets

    def checked_tasks(tasks: Sequence[TaskSpec]) -> list[WriteResult]:
        claimed([s.key for s in tasks])
        return create_tasks(tasks)

    def checked_tickets(
        specs: Sequence[TicketSpec],
        *,
        direct_up_to: int = 1,
        on_job: Callable[[Sequence[str], str], None] | None = None,
    ) -> list[WriteResult]:
        claimed([s.key for s in specs])
        return create_tickets(specs, direct_up_to=direct_up_to, on_job=on_job)

    engine.conn.crm.create_tasks = checked_tasks  # type: ignore[method-assign]
    engine.conn.helpdesk.create_tickets = checked_tickets  # type: ignore[method-assign]
    report = engine.run_once()
    assert report.tasks_created + report.tickets_created == len(seen) > 0


def intents(store: StateStore, count: int) -> None:
    response = SurveyResponse("delighted", "r1", "a@example.com", 2, "", T0, T0)
    store.inbox.ingest_page("delighted", [response], None, T0)
    stored = store.inbox.get("delighted", "r1")
    assert stored is not None
    outcome = RoutingOutcome(
        "delighted", "r1", stored.version, "matched", "003A", "001A", None, None, {}, {},
        [
            ActionIntent(f"k{i:03}", "delighted", "r1", "rule", f"a{i}", "salesforce_task", {}, "h")
            for i in range(count)
        ],
    )  # fmt: skip
    assert store.record_routing([outcome], T0).intents == count


def test_rel_concurrent_workers_never_claim_the_same_action(store: StateStore) -> None:
    intents(store, 60)
    start = threading.Barrier(4)
    claims: list[str] = []
    lock = threading.Lock()

    def worker(name: str) -> None:
        start.wait()
        while batch := store.outbox.claim(name, limit=7, lease=LEASE, now=T0):
            with lock:
                claims.extend(a.key for a in batch)
            store.outbox.record_results(name, [ActionResult.done(a.key, "x") for a in batch], T0)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(claims) == sorted(f"k{i:03}" for i in range(60))
    assert store.outbox.counts() == {"done": 60}
    assert {a.attempts for a in store.outbox.actions()} == {1}


def dead_pid() -> int:
    """The id of a process that has exited (a worker that crashed)."""
    script = "import os; print(os.getpid())"
    child = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True)  # noqa: S603
    return int(child.stdout)


@pytest.mark.parametrize("kind", ["salesforce_task", "zendesk_ticket"])
def test_rel_a_crash_after_the_call_is_repaired_by_a_lookup_not_a_second_create(
    small_world: EmulatedWorld, sqlite_url: str, kind: str
) -> None:
    crashed = fast_engine(small_world, sqlite_url, lease_seconds=3600)
    crashed.owner = f"{worker_id().partition(':')[0]}:{dead_pid()}:1"  # a dead worker of ours
    recorded = crashed.store.outbox.record_results

    def die_before_recording(owner: str, results: Sequence[ActionResult], now: datetime) -> int:
        claimed = crashed.store.outbox.actions(keys=[r.key for r in results])
        if {a.kind for a in claimed} == {kind}:
            raise Crash  # the records exist in Salesforce or Zendesk; our store does not know
        return recorded(owner, results, now)

    crashed.store.outbox.record_results = die_before_recording  # type: ignore[method-assign]
    crashed.store.outbox.release_leases = lambda owner, now: 0  # type: ignore[method-assign]
    with pytest.raises(Crash):
        crashed.run_once()
    in_flight = crashed.store.outbox.counts().get("claimed", 0)
    assert in_flight > 0

    report = fast_engine(small_world, sqlite_url).run_once()  # lease is 1 h: freed as dead
    assert report.found_existing == in_flight
    state = snapshot(small_world)
    assert state.duplicate_tasks == state.duplicate_tickets == []
    assert state.duplicate_comments == ()
    done = {a.key for a in crashed.store.outbox.actions(status="done")}
    assert state.acted == done
    assert unfinished(crashed.store) == {}


@pytest.mark.parametrize(
    "endpoint", ["composite_create", "tickets_create_many", "job_statuses_show_many"]
)
def test_rel_a_create_whose_answer_was_lost_is_not_repeated(
    small_world: EmulatedWorld, sqlite_url: str, endpoint: str
) -> None:
    """The call took effect, its answer never came (timeout): the in-call retry looks first.

    A ``create_many`` whose answer was lost only queued its job, which runs later: its tickets
    are held past the settle window, then found, not created again."""
    app = small_world.zendesk if endpoint != "composite_create" else small_world.salesforce
    app.inject(Fault("late", count=1, endpoint=f"^{endpoint}$", hang_seconds=1.0))
    timeouts = {"timeout_seconds": 0.4}
    engine = fast_engine(small_world, sqlite_url, salesforce=timeouts, zendesk=timeouts)
    reports = [engine.run_once()]
    if endpoint == "tickets_create_many":
        time.sleep(ZENDESK_SETTLE_SECONDS + 0.1)
        reports.append(engine.run_once())
    assert app.fault_log == [(endpoint, "late")]
    assert [r.errors for r in reports] == [[]] * len(reports)
    assert sum(r.found_existing for r in reports) > 0
    state = snapshot(small_world)
    assert state.duplicate_tasks == state.duplicate_tickets == []
    assert state.duplicate_comments == ()
    assert state.acted == {a.key for a in engine.store.outbox.actions()}


def test_rel_long_waits_are_parked_in_the_store_not_slept(
    small_world: EmulatedWorld, sqlite_url: str
) -> None:
    """A spent daily quota and a Retry-After of ten minutes: the pass ends at once, the actions
    wait in the store for their time, and no failure is counted against them."""
    small_world.salesforce.inject(Fault("quota", rate=1.0, endpoint="^composite_create$"))
    small_world.zendesk.inject(Fault("429", rate=1.0, endpoint="^tickets_create", retry_after=600))
    engine = fast_engine(small_world, sqlite_url)
    started = datetime.now(UTC)
    report = engine.run_once()
    took = (datetime.now(UTC) - started).total_seconds()

    waiting = engine.store.outbox.actions(status="pending")
    kinds: dict[str, Any] = Counter(a.kind for a in waiting)
    assert kinds["salesforce_task"] > 0
    assert kinds["zendesk_ticket"] > 0
    assert report.deferred > 0
    assert took < 15
    assert {a.failures for a in waiting} == {0}
    for action in waiting:
        wait = (action.next_attempt_at - started).total_seconds()
        assert wait >= (3000 if action.kind == "salesforce_task" else 590), action.last_error
    assert small_world.salesforce.records("Task") == []
