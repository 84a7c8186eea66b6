"""The daemon as it runs in production: ``nps-sync run`` in child processes.

- SIGTERM in the middle of a batch: the batch in flight finishes and is recorded, leases are
  released, the process exits 0, and the next run finds nothing half-done.
- Three daemons on one PostgreSQL database share the same inbox and outbox: everything gets done,
  by more than one of them, and nothing twice.
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import pytest

from emulators.world import EmulatedWorld
from sync.state import StateStore
from tests.reliability.conftest import (
    fast_engine,
    quiet_end,
    snapshot,
    spawn,
    unfinished,
    write_config,
)
from tests.support import wait_for

CREATES = ("composite_create", "tickets_create_many")


def slow_creates(world: EmulatedWorld, seconds: float) -> None:
    """Make every create call take ``seconds``, so a batch is in flight long enough to see."""

    def delay(endpoint: str, phase: str) -> None:
        if phase == "received" and endpoint in CREATES:
            time.sleep(seconds)

    world.salesforce.observers.append(delay)
    world.zendesk.observers.append(delay)


def creates_wait_for_a_second_worker(world: EmulatedWorld, store: StateStore) -> None:
    """Hold every create until a second daemon holds leases too (at most 60 s).

    The first daemon to claim work would otherwise drain the whole outbox on a slow machine
    before the others have started; holding its first create open proves the others take
    their share of the same outbox instead of waiting for it."""
    shared = threading.Event()

    def hold(endpoint: str, phase: str) -> None:
        if phase != "received" or endpoint not in CREATES or shared.is_set():
            return
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(store.outbox.lease_owners()) < 2:
            time.sleep(0.2)
        shared.set()

    world.salesforce.observers.append(hold)
    world.zendesk.observers.append(hold)


def daemon_config(tmp_path: Path, world: EmulatedWorld, url: str, name: str) -> Path:
    schedule = {"poll_interval_seconds": 10, "drain_interval_seconds": 5, "reconcile_cron": ""}
    # Requests wait longer than a create is held (up to 60 s, creates_wait_for_a_second_worker):
    # a create that timed out while held would be retried and land twice once let go.
    timeout = {"timeout_seconds": 90}
    return write_config(
        tmp_path / f"{name}.yaml",
        world,
        url,
        schedule=schedule,
        salesforce=timeout,
        zendesk=timeout,
    )


def test_rel_sigterm_finishes_the_batch_in_flight_and_releases_leases(
    tmp_path: Path, sqlite_url: str
) -> None:
    with EmulatedWorld(seed=31, accounts=30, responses=300) as world:
        slow_creates(world, 1.0)
        config = daemon_config(tmp_path, world, sqlite_url, "daemon")
        log = tmp_path / "daemon.log"
        daemon = spawn(["run", "--config", str(config)], log)
        store = StateStore(sqlite_url)
        store.migrate()
        try:
            in_flight = wait_for(
                lambda: store.outbox.counts().get("claimed", 0) > 0, timeout=60, interval=0.02
            )
            assert in_flight, log.read_text()
            daemon.send_signal(signal.SIGTERM)
            assert daemon.wait(timeout=20) == 0, log.read_text()

            counts = store.outbox.counts()
            assert counts.get("claimed", 0) == 0  # leases released
            assert counts.get("pending", 0) > 0  # it stopped instead of draining everything
            done = {a.key for a in store.outbox.actions(status="done")}
            made = snapshot(world)
            # The batch in flight was finished and recorded: nothing exists that is not done.
            assert made.acted == done
            assert "daemon stopped; " in log.read_text()

            # The next run takes over where the daemon stopped, repeating nothing.
            finish = spawn(["sync", "--config", str(config)], log)
            assert finish.wait(timeout=120) == 0, log.read_text()
            assert unfinished(store) == {}
            final = snapshot(world)
            assert final.duplicate_tasks == final.duplicate_tickets == []
            assert final.duplicate_comments == ()
            assert final.acted == {a.key for a in store.outbox.actions()}
        finally:
            if daemon.poll() is None:
                daemon.kill()
            store.close()


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.timeout(300)  # waits up to 90 s for the daemons, then 30 s for each to stop
def test_rel_three_daemons_share_one_database_and_do_everything_once(
    tmp_path: Path, pg_url: str
) -> None:
    seed, accounts, responses = 41, 40, 600
    end = quiet_end(seed, accounts, responses)
    with EmulatedWorld(seed=seed, accounts=accounts, responses=responses, end=end) as clean:
        engine = fast_engine(clean, f"sqlite:///{tmp_path / 'clean.db'}")
        assert engine.run_once().errors == []
        engine.store.close()
        expected = snapshot(clean)

    with EmulatedWorld(seed=seed, accounts=accounts, responses=responses, end=end) as world:
        store = StateStore(pg_url)
        store.migrate()
        creates_wait_for_a_second_worker(world, store)
        daemons = [
            spawn(
                ["run", "--config", str(daemon_config(tmp_path, world, pg_url, f"d{i}"))],
                tmp_path / f"d{i}.log",
            )
            for i in range(3)
        ]
        try:
            assert wait_for(
                lambda: _all_done(store),
                timeout=90,
                interval=0.2,
            ), [p.read_text()[-2000:] for p in tmp_path.glob("d*.log")]
            for daemon in daemons:
                daemon.send_signal(signal.SIGTERM)
            codes = [daemon.wait(timeout=30) for daemon in daemons]
            runs = store.runs.last(500)
            assert store.outbox.counts().get("claimed", 0) == 0
        finally:
            for daemon in daemons:
                if daemon.poll() is None:
                    daemon.kill()
            store.close()
        actual = snapshot(world)

    assert codes == [0, 0, 0]
    acted = {
        run["owner"]
        for run in runs
        if run["kind"] == "drain"
        and (
            (run["stats"] or {}).get("tasks_created") or (run["stats"] or {}).get("tickets_created")
        )
    }
    created: dict[str, int] = {}
    for run in runs:
        stats = run["stats"] or {}
        made = (stats.get("tasks_created") or 0) + (stats.get("tickets_created") or 0)
        created[run["owner"]] = created.get(run["owner"], 0) + made
    print(f"\nrecords created per daemon: {sorted(created.values())}; {len(runs)} runs")
    assert len({run["owner"] for run in runs}) == 3
    assert len(acted) >= 2  # the outbox was shared, not drained by one replica
    assert actual.duplicate_tasks == []
    assert actual.duplicate_tickets == []
    assert actual.duplicate_comments == ()
    assert actual.differences(expected) == []


def _all_done(store: StateStore) -> bool:
    """Responses were pulled, and none is waiting, nor any action or write-back."""
    return sum(store.inbox.counts().values()) > 0 and unfinished(store) == {}
