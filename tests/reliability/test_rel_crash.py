"""Crash test: a sync of 2,000 responses, SIGKILLed at two dozen points, ends as a clean run does
(and a shorter one on PostgreSQL).

The emulators run in this process; ``nps-sync sync`` runs as a child process and is killed with
SIGKILL at seeded points spread over the whole run, then started again, until a run exits 0 with
nothing left to do. The final Salesforce and Zendesk state must equal a clean run's on a second
world built from the same seed: the same tasks, tickets and field values, none twice, none missing.

Kill points are placed by the requests the emulators see, so they land in the same stages however
loaded the machine is. A clean run is profiled first; the points sit at seeded random moments of
its timeline, and each attempt is given the requests of the slice since the previous point:

- ``received``: the n-th request of the attempt arrives, before it has any effect;
- ``handled``: the n-th request has taken effect but its answer is not sent: the crash between an
  external call and the record of its result, which only the marker lookup can repair;
- ``after``: a random few milliseconds after the n-th request arrives (in the middle of a call,
  a parse or a database write);
- ``startup``: a delay before the first request (imports, migration, login);
- aimed ``handled`` points wait for the next call that creates records or writes fields.
"""

from __future__ import annotations

import random
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from emulators.base import Reset
from emulators.world import EmulatedWorld
from sync.state import StateStore
from tests.reliability.conftest import (
    quiet_end,
    snapshot,
    spawn,
    unfinished,
    write_config,
)

SEED = 4242
ACCOUNTS = 60
#: Requests every attempt makes before new work: login, the first Delighted page, names in rules.
STARTUP_REQUESTS = 4
#: Calls after whose effect a crash loses the answer: creates and field writes.
AIMED = ("composite_create", "tickets_create_many", "composite_update", "users_update_many")


@dataclass(frozen=True)
class KillPoint:
    mode: str  # received | handled | after | startup
    request: int = 0  # the n-th request of the attempt (received, handled, after)
    delay: float = 0.0  # seconds after that request (after) or after the start (startup)
    endpoint: str = ""  # aimed: the next request to this endpoint, once handled

    def __str__(self) -> str:
        where = self.endpoint or f"#{self.request}"
        return f"{self.mode} {where} +{self.delay * 1000:.0f}ms"


class Assassin:
    """Sees every request the three emulators receive; kills the child at its kill point."""

    def __init__(self, world: EmulatedWorld) -> None:
        self.lock = threading.Lock()
        self.count = 0
        self.where = ""
        self.point: KillPoint | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.fired = False
        for app in (world.salesforce, world.zendesk, world.delighted):
            app.observers.append(self.observe)

    def arm(self, point: KillPoint | None, proc: subprocess.Popen[bytes] | None) -> None:
        with self.lock:
            self.count, self.where, self.fired = 0, "start-up, before any request", False
            self.point, self.proc = point, proc

    def observe(self, endpoint: str, phase: str) -> None:
        with self.lock:
            if phase == "received" and not self.fired:
                self.count += 1
                self.where = endpoint
            point = self.point
            if point is None or self.fired or point.mode == "startup":
                return
            if point.endpoint:
                due = phase == "handled" and endpoint == point.endpoint
            else:
                due = phase == ("received" if point.mode == "after" else point.mode)
                due = due and self.count >= point.request
            if not due:
                return
            self.fired = True
            if point.mode == "after":
                threading.Timer(point.delay, self.kill).start()
                return
            self.where = f"{endpoint} ({phase})"
        self.kill()
        raise Reset  # the client is gone; drop the connection without an answer

    def kill(self) -> None:
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGKILL)


def kill_plan(rng: random.Random, profile: list[tuple[float, str]], kills: int) -> list[KillPoint]:
    """``kills`` points at sorted random moments of the clean run; see the module docstring."""
    seconds = profile[-1][0]
    moments = sorted(rng.uniform(0, seconds) for _ in range(kills - 2))
    firsts = {ep: min(t for t, e in profile if e == ep) for ep in AIMED}
    aimed: dict[int, str] = {}  # each aimed endpoint takes the nearest point still free
    for endpoint, first in sorted(firsts.items(), key=lambda item: item[1]):
        free = [i for i in range(len(moments)) if i not in aimed]
        aimed[min(free, key=lambda i: abs(moments[i] - first))] = endpoint
    modes = ["received", "handled", "after"] * kills
    plan = [KillPoint("startup", delay=rng.uniform(0.1, 0.6)) for _ in range(2)]
    previous = 0.0
    for i, moment in enumerate(moments):
        calls = sum(1 for t, _ in profile if previous <= t < moment)
        previous = moment
        if i in aimed:
            plan.append(KillPoint("handled", endpoint=aimed[i]))
        else:
            request = STARTUP_REQUESTS + max(1, calls)
            plan.append(KillPoint(modes[i], request, delay=rng.uniform(0.0, 0.05)))
    return plan


def run_sync(config: Path, log: Path, timeout: float = 180) -> int:
    return spawn(["sync", "--config", str(config)], log).wait(timeout=timeout)


@pytest.mark.slow
@pytest.mark.timeout(900)  # dozens of SIGKILLed runs, then the final runs; ~45 s on an idle machine
@pytest.mark.parametrize(
    ("backend", "responses", "kills", "at_least"),
    [
        ("sqlite", 2000, 26, 20),
        # PostgreSQL: advisory locks and SKIP LOCKED claims of killed processes, a shorter run.
        pytest.param("postgresql", 600, 10, 8, marks=pytest.mark.postgres),
    ],
)
def test_rel_sigkill_anywhere_ends_as_a_clean_run(
    tmp_path: Path,
    request: pytest.FixtureRequest,
    backend: str,
    responses: int,
    kills: int,
    at_least: int,
) -> None:
    end = quiet_end(SEED, ACCOUNTS, responses)
    log = tmp_path / "nps-sync.log"
    overrides = {"lease_seconds": 2, "retry_backoff_seconds": 0.2}

    with EmulatedWorld(seed=SEED, accounts=ACCOUNTS, responses=responses, end=end) as clean:
        profile: list[tuple[float, str]] = []

        def record(endpoint: str, phase: str) -> None:
            if phase == "received":
                profile.append((time.monotonic(), endpoint))

        for app in (clean.salesforce, clean.zendesk, clean.delighted):
            app.observers.append(record)
        config = write_config(
            tmp_path / "clean.yaml", clean, f"sqlite:///{tmp_path / 'clean.db'}", **overrides
        )
        started = time.monotonic()
        assert run_sync(config, log) == 0, log.read_text()
        seconds = time.monotonic() - started
        expected = snapshot(clean)
    assert len(expected.tasks) > responses // 2
    assert len(expected.tickets) > responses // 20
    profile = [(t - profile[0][0], ep) for t, ep in profile]

    plan = kill_plan(random.Random(SEED), profile, kills)
    killed: list[str] = []
    completed_early = 0
    with EmulatedWorld(seed=SEED, accounts=ACCOUNTS, responses=responses, end=end) as world:
        assassin = Assassin(world)
        url = (
            request.getfixturevalue("pg_url")
            if backend == "postgresql"
            else f"sqlite:///{tmp_path / 'crash.db'}"
        )
        config = write_config(tmp_path / "crash.yaml", world, url, **overrides)
        for point in plan:
            proc = spawn(["sync", "--config", str(config)], log)
            assassin.arm(point, proc)
            try:
                code = proc.wait(timeout=point.delay if point.mode == "startup" else 180)
            except subprocess.TimeoutExpired:
                assassin.kill()
                code = proc.wait(timeout=30)
            where = assassin.where
            assassin.arm(None, None)
            if code == -signal.SIGKILL:
                killed.append(f"{point} -> {where}")
            else:
                assert code == 0, log.read_text()[-3000:]
                completed_early += 1
        finals = 0
        store = StateStore(url)
        try:
            while True:
                finals += 1
                assert run_sync(config, log) == 0, log.read_text()[-3000:]
                if not unfinished(store) or finals == 3:
                    break
            left = unfinished(store)
        finally:
            store.close()
        actual = snapshot(world)

    summary = f"{len(killed)} kills, {completed_early} early completions, {finals} final runs"
    print(f"\n{summary}; clean run {seconds:.1f}s, {len(profile)} requests; kill points:")
    print("\n".join(killed))
    assert len(killed) >= at_least, summary
    assert left == {}
    assert actual.duplicate_tasks == []
    assert actual.duplicate_tickets == []
    assert actual.differences(expected) == []
