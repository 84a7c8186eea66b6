"""Chaos test: responses arriving in waves, SIGKILLs at random moments and one call in ten failing,
on SQLite (``nps-sync sync`` runs) and with three daemons on PostgreSQL (``nps-sync run``), end as
a clean run does; and a backfill killed at several points, then run again, stays history.

The rules are the crash test's (:data:`tests.reliability.test_rel_crash.RULES`): tickets that
attach to the requester's open ticket, a settle delay, cooldowns and an escalation step. The
survey responses reach the Delighted emulator in waves, oldest first (as new answers would), in
both runs alike. Faults are injected on every system but the logins, at a steady 10%. At the end
the faults stop, the last passes run, and the final state must equal the clean run's: no Task or
ticket twice, none missing, no requester with a second open NPS ticket, the same field values.
The figures (kills, faults injected, duplicates, time) are printed.
"""

from __future__ import annotations

import random
import signal
import subprocess
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from emulators.base import Fault
from emulators.world import EmulatedWorld
from sync.state import StateStore
from tests.reliability.conftest import (
    WorldState,
    quiet_end,
    snapshot,
    spawn,
    unfinished,
    write_config,
)
from tests.reliability.test_rel_crash import (
    HOOK_ENV,
    RULES,
    SETTLE,
    ZENDESK,
    Assassin,
    KillPoint,
    finish,
)
from tests.routing.local_servers import webhook_server
from tests.support import wait_for

SEED = 2718
ACCOUNTS = 40
RESPONSES = 600
WAVES = 4
KILLS = 10
SF_CALLS = "^(query|composite_.*)$"
#: A steady one call in ten failing, logins spared (a failed login ends a ``sync`` with 75).
FAULTS = {
    "salesforce": [
        Fault("503", rate=0.05, endpoint=SF_CALLS),
        Fault("reset", rate=0.05, endpoint=SF_CALLS),
    ],
    "zendesk": [Fault("500", rate=0.05), Fault("reset", rate=0.05)],
    "delighted": [Fault("503", rate=0.10)],
}
#: Exit codes a faulted ``sync`` may end with: done, some records failed, a system unavailable.
SYNC_CODES = (0, 1, 75)


def overrides(rules: Path) -> dict[str, Any]:
    return {
        # Far below the 300 s default so killed daemons' work moves on quickly, but above a
        # faulted batch's time: a lease that runs out under a live worker is not this proof's case.
        "lease_seconds": 15,
        "retry_backoff_seconds": 0.2,
        "max_attempts": 1000,
        "rules": str(rules),
        "schedule": {
            "poll_interval_seconds": 10,
            "drain_interval_seconds": 5,
            "reconcile_cron": "",
        },
    }


def waves_of(world: EmulatedWorld) -> list[list[Any]]:
    """The book's responses in ``WAVES`` slices, oldest first; the emulator starts empty."""
    ordered = sorted(world.book.responses, key=lambda r: (r.updated_at, r.id))
    size = -(-len(ordered) // WAVES)
    world.delighted.clear()
    return [ordered[i : i + size] for i in range(0, len(ordered), size)]


def release(world: EmulatedWorld, wave: list[Any]) -> None:
    world.delighted.load_seed(replace(world.book, responses=wave))


def second_open_tickets(state: WorldState) -> list[str]:
    """Requesters with more than one NPS ticket of ours (none is solved in these runs)."""
    per_requester = Counter(ticket[1] for ticket in state.tickets.values())
    return sorted(email for email, n in per_requester.items() if n > 1)


def inject(world: EmulatedWorld) -> None:
    apps = {"salesforce": world.salesforce, "zendesk": world.zendesk, "delighted": world.delighted}
    for system, faults in FAULTS.items():
        for fault in faults:
            apps[system].inject(replace(fault))


def faults_injected(world: EmulatedWorld) -> int:
    return sum(len(app.fault_log) for app in (world.salesforce, world.zendesk, world.delighted))


def clean_run(
    tmp_path: Path, end: datetime, rules: Path, log: Path, monkeypatch: pytest.MonkeyPatch
) -> WorldState:
    world = EmulatedWorld(SEED, ACCOUNTS, RESPONSES, end, zendesk_options=ZENDESK)
    with world as clean, webhook_server() as hook:
        monkeypatch.setenv(HOOK_ENV, hook.url)
        url = f"sqlite:///{tmp_path / 'clean.db'}"
        config = write_config(tmp_path / "clean.yaml", clean, url, **overrides(rules))
        for wave in waves_of(clean):
            release(clean, wave)
            _, left = finish(config, url, log)
            assert left == {}
        return snapshot(clean, hook.posts)


@pytest.mark.slow
@pytest.mark.timeout(600)  # a clean run and a chaos run of 600 responses; ~1-2 min on 2 cores
@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_rel_chaos_kills_and_faults_end_as_a_clean_run(
    tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    started = time.monotonic()
    end = quiet_end(SEED, ACCOUNTS, RESPONSES, windows=[SETTLE])
    log = tmp_path / "nps-sync.log"
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    expected = clean_run(tmp_path, end, rules, log, monkeypatch)
    assert expected.tickets
    assert any(len(ticket[-1]) > 1 for ticket in expected.tickets.values())  # some attached
    assert second_open_tickets(expected) == []

    rng = random.Random(SEED)
    kills: list[str] = []
    chaos = EmulatedWorld(SEED, ACCOUNTS, RESPONSES, end, zendesk_options=ZENDESK)
    with chaos as world, webhook_server() as hook:
        monkeypatch.setenv(HOOK_ENV, hook.url)
        url = (
            request.getfixturevalue("pg_url")
            if backend == "postgresql"
            else f"sqlite:///{tmp_path / 'chaos.db'}"
        )
        config = write_config(tmp_path / "chaos.yaml", world, url, **overrides(rules))
        waves = waves_of(world)
        inject(world)
        if backend == "sqlite":
            kills = sync_runs_under_kills(config, world, waves, rng, log)
        else:
            kills = daemons_under_kills(config, url, world, waves, rng, log)
        under_faults = snapshot(world)
        injected = faults_injected(world)
        for app in (world.salesforce, world.zendesk, world.delighted):
            app.clear_faults()
        _, left = finish(config, url, log)
        actual = snapshot(world, hook.posts)

    seconds = time.monotonic() - started
    print(
        f"\nchaos ({backend}): {RESPONSES} responses in {WAVES} waves, {len(kills)} SIGKILLs, "
        f"{injected} faults injected, {len(actual.tasks)} tasks and {len(actual.tickets)} tickets "
        f"({len(under_faults.tasks)} and {len(under_faults.tickets)} made under faults), "
        f"duplicates {len(actual.duplicate_tasks) + len(actual.duplicate_tickets)}, "
        f"second open tickets {len(second_open_tickets(actual))}, {seconds:.0f} s"
    )
    print("\n".join(kills))
    assert len(kills) >= KILLS - 3
    assert injected > 0
    assert len(under_faults.tasks) > len(expected.tasks) // 2  # most of the work met the faults
    assert left == {}
    assert actual.duplicate_tasks == []
    assert actual.duplicate_tickets == []
    assert actual.duplicate_comments == ()
    assert second_open_tickets(actual) == []
    differences = actual.differences(expected)
    assert differences == [], "\n".join(differences)


def sync_runs_under_kills(
    config: Path, world: EmulatedWorld, waves: list[list[Any]], rng: random.Random, log: Path
) -> list[str]:
    """Each wave: ``sync`` runs killed at random moments, then one left to finish."""
    kills: list[str] = []
    per_wave = [KILLS // WAVES + (1 if i < KILLS % WAVES else 0) for i in range(WAVES)]
    for wave, count in zip(waves, per_wave, strict=True):
        release(world, wave)
        for _ in range(count):
            proc = spawn(["sync", "--config", str(config)], log)
            delay = rng.uniform(0.8, 3.0)
            try:
                code = proc.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                code = proc.wait(timeout=30)
            if code == -signal.SIGKILL:
                kills.append(f"sync killed after {delay:.2f} s")
            else:
                assert code in SYNC_CODES, log.read_text()[-3000:]
        code = spawn(["sync", "--config", str(config)], log).wait(timeout=180)
        assert code in SYNC_CODES, log.read_text()[-3000:]
    return kills


def daemons_under_kills(
    config: Path,
    url: str,
    world: EmulatedWorld,
    waves: list[list[Any]],
    rng: random.Random,
    log: Path,
) -> list[str]:
    """Three daemons on one database; at random moments one is SIGKILLed and started again.
    After the last wave they work on, faults and all, until nothing is left (or a minute)."""
    daemons = [spawn(["run", "--config", str(config)], log) for _ in range(3)]
    kills: list[str] = []
    try:
        per_wave = [KILLS // WAVES + (1 if i < KILLS % WAVES else 0) for i in range(WAVES)]
        for wave, count in zip(waves, per_wave, strict=True):
            release(world, wave)
            for _ in range(count):
                time.sleep(rng.uniform(0.5, 3.0))
                victim = rng.randrange(3)
                daemons[victim].send_signal(signal.SIGKILL)
                daemons[victim].wait(timeout=30)
                kills.append(f"daemon {victim} killed")
                daemons[victim] = spawn(["run", "--config", str(config)], log)
            time.sleep(3.0)
        store = StateStore(url)
        try:
            wait_for(lambda: not unfinished(store), timeout=60, interval=1.0)
        finally:
            store.close()
        for daemon in daemons:
            assert daemon.poll() is None, log.read_text()[-3000:]
    finally:
        for daemon in daemons:
            if daemon.poll() is None:
                daemon.send_signal(signal.SIGTERM)
        for daemon in daemons:
            daemon.wait(timeout=60)
    return kills


# -- a backfill killed anywhere ------------------------------------------------------------------
BACKFILL_SEED = 909
BACKFILL_ACCOUNTS = 30
BACKFILL_RESPONSES = 600
#: Where the attempts are killed, as shares of the requests a whole backfill makes.
BACKFILL_KILLS = (0.05, 0.2, 0.4, 0.6, 0.8, 0.95)


def backfill_args(config: Path) -> list[str]:
    since = (datetime.now(UTC) - timedelta(days=800)).date().isoformat()
    return ["backfill", "--since", since, "--config", str(config)]


@pytest.mark.timeout(300)  # seven backfills of 600 responses and a sync; ~1 min on 2 busy cores
def test_rel_chaos_a_killed_backfill_stays_history_and_its_rerun_finishes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    end = quiet_end(BACKFILL_SEED, BACKFILL_ACCOUNTS, BACKFILL_RESPONSES)
    log = tmp_path / "nps-sync.log"
    size = (BACKFILL_SEED, BACKFILL_ACCOUNTS, BACKFILL_RESPONSES, end)
    with EmulatedWorld(*size) as clean:
        url = f"sqlite:///{tmp_path / 'clean.db'}"
        config = write_config(tmp_path / "clean.yaml", clean, url)
        requests: Counter[str] = Counter()

        def count(endpoint: str, phase: str) -> None:
            if phase == "received":
                requests["all"] += 1

        for app in (clean.salesforce, clean.zendesk, clean.delighted):
            app.observers.append(count)
        assert spawn(backfill_args(config), log).wait(timeout=180) == 0, log.read_text()[-3000:]
        expected = snapshot(clean)
    total = requests["all"]

    killed: list[str] = []
    with EmulatedWorld(*size) as world, webhook_server() as hook:
        assassin = Assassin(world, hook)
        url = f"sqlite:///{tmp_path / 'chaos.db'}"
        config = write_config(tmp_path / "chaos.yaml", world, url)
        modes = ("received", "handled", "after")
        for i, share in enumerate(BACKFILL_KILLS):
            point = KillPoint(modes[i % 3], max(1, int(total * share)), delay=0.02 * (i % 3))
            proc = spawn(backfill_args(config), log)
            assassin.arm(point, proc)
            code = proc.wait(timeout=180)
            where = assassin.where
            assassin.arm(None, None)
            if code == -signal.SIGKILL:
                killed.append(f"{point} -> {where}")
            else:
                assert code == 0, log.read_text()[-3000:]
        assert spawn(backfill_args(config), log).wait(timeout=180) == 0, log.read_text()[-3000:]
        store = StateStore(url)
        try:
            counts = store.inbox.counts()
            assert "pending" not in counts
            assert "importing" not in counts
            assert not store.write_backs.queued()
            after_backfill = snapshot(world)
            # The daemon's next pass finds nothing new: history stays history.
            assert spawn(["sync", "--config", str(config)], log).wait(timeout=180) == 0
            assert store.outbox.counts() == {}
        finally:
            store.close()
        after_sync = snapshot(world)

    print(f"\nbackfill: {total} requests clean; {len(killed)} kills: " + "; ".join(killed))
    assert len(killed) >= 3
    assert after_sync.tasks == {}
    assert after_sync.tickets == {}
    differences = after_backfill.differences(expected)
    assert differences == [], "\n".join(differences)
