"""Crash test: a sync of 2,000 responses, SIGKILLed at two dozen points, ends as a clean run does
(and a shorter one on PostgreSQL).

The emulators and a Slack webhook receiver run in this process; ``nps-sync sync`` runs as a child
process and is killed with SIGKILL at seeded points spread over the whole run, then started again,
until a run exits 0 with nothing left to do. The final Salesforce and Zendesk state must equal a
clean run's on a second world built from the same seed: the same tasks, tickets, ticket comments
and field values, none twice, none missing, and the same notifications (at least once each).

Delighted's pages are :data:`PAGE` responses long, so the first sync's walk is read as time
slices at once and the kills land while several are being read.

The rules (:data:`RULES`) use every action kind and routing feature: Salesforce tasks, Zendesk
tickets that attach to the requester's open ticket as a comment, ``update_fields``, Slack
notifications, a cooldown per account and per contact, a settle delay that holds the newest
responses back, and an escalation step due at once, which fires on the pass after its task and
ticket were made.

Kill points are placed by the requests the emulators see, so they land in the same stages however
loaded the machine is. A clean run is profiled first; the points sit at seeded random moments of
its timeline, and each attempt is given the requests of the slice since the previous point:

- ``received``: the n-th request of the attempt arrives, before it has any effect;
- ``handled``: the n-th request has taken effect but its answer is not sent: the crash between an
  external call and the record of its result, which only the marker lookup can repair;
- ``after``: a random few milliseconds after the n-th request arrives (in the middle of a call,
  a parse or a database write);
- ``startup``: a delay before the first request (imports, migration, login);
- aimed ``handled`` points wait for the next call that creates records, writes fields, adds
  comments or posts a notification.
"""

from __future__ import annotations

import random
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
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
from tests.routing.local_servers import Webhook, webhook_server

Observer = Callable[[str, str], None]
SEED = 4242
ACCOUNTS = 60
#: Requests every attempt makes before new work: login, the first Delighted page, names in rules,
#: the pages of the user and ticket exports that keep the mirrors current.
STARTUP_REQUESTS = 6
#: Calls after whose effect a crash loses the answer: creates, field writes, comments, messages.
#: A first sync adds a requester's later answers to the first comment of the ticket their batch
#: opens (``tickets_create_many``): ``tickets_update_many`` is aimed at when the clean run makes
#: it (:data:`OPTIONAL_AIMED`), every other one always.
AIMED = (
    "composite_create",
    "tickets_create_many",
    "tickets_update_many",
    "composite_update",
    "users_update_many",
    "webhook",
)
OPTIONAL_AIMED = frozenset({"tickets_update_many"})
#: The variable naming the Slack webhook in :data:`RULES`.
HOOK_ENV = "NPS_CRASH_TEST_HOOK"
#: The settle delay of :data:`RULES`: detractors and promoters younger than this are held back,
#: in both runs alike (``quiet_end`` keeps responses away from its edge).
SETTLE = timedelta(weeks=2)
#: Two dozen restarts in a minute repeat their start-up, look-ups and ticket-tracking exports:
#: allow Zendesk's Enterprise Plus budget and more exports than a minute's ten, so that rate
#: limits (tested in test_rel_faults) do not end a pass here.
ZENDESK = {"rate_limit_per_minute": 2500, "incremental_rate_limit_per_minute": 100}
#: Responses a Delighted page holds here (100 in production): 2,000 responses make a walk of 50
#: pages, which :mod:`connectors.surveys.delighted` reads as time slices at once.
PAGE = 40
RULES = """
version: 1
actions:
  owner_call:
    type: salesforce_task
    owner: account_owner
    subject: "Call {{ contact.name }}: NPS {{ response.score }}"
    description: "{{ response.comment }}"
    due_in: 1d
    priority: High
  support_ticket:
    type: zendesk_ticket
    subject: "NPS detractor: {{ account.name }} ({{ response.score }})"
    body: |
      {{ contact.name }} answered {{ response.score }}.

      {{ response.comment }}
    priority: high
    group: Customer Success
    tags: [nps, detractor]
    attach_to_open: true
    expect_skip: [no_requester]  # the seed's unknown respondents: a clean run skips them
  flag_at_risk:
    type: update_fields
    system: salesforce
    object: Account
    values: {Description: "NPS: {{ account.name }} has a repeat detractor"}
  cx_channel:
    type: notify
    channel: slack
    webhook_env: NPS_CRASH_TEST_HOOK
    text: >-
      Enterprise detractor at {{ account.name }}:
      {{ contact.name }} ({{ response.score }})
  still_open:
    type: notify
    channel: slack
    webhook_env: NPS_CRASH_TEST_HOOK
    text: >-
      Still open: {{ contact.name }} at {{ account.name }}
      ({{ response.submitted_at }})
  passive_followup:
    type: salesforce_task
    owner: contact_owner
    subject: "NPS {{ response.score }}: follow up with {{ contact.name }}"
    description: "{{ response.comment }}"
    due_in: 5d
  referral_ask:
    type: salesforce_task
    subject: "Ask {{ contact.name }} for a referral"
    due_in: 7d
    priority: Low
rules:
  - name: enterprise-detractors
    when: {all: [{category: detractor}, {account.tier: Enterprise}]}
    actions: [cx_channel]
    continue: true
    cooldown: {key: account.id, period: 30d}
  - name: repeat-detractors
    when: {all: [{category: detractor}, {previous_score: {lte: 6}}]}
    actions: [owner_call, support_ticket, flag_at_risk]
    settle: 2w
    escalate:
      - {after: 0s, action: still_open}
  - name: detractors
    when: {category: detractor}
    actions: [owner_call, support_ticket]
    settle: 2w
  - name: passives-with-comment
    when: {all: [{category: passive}, {comment_length: {gte: 20}}]}
    actions: [passive_followup]
  - name: promoters
    when: {category: promoter}
    actions: [referral_ask]
    cooldown: {key: contact.id, period: 26w}
    settle: 2w
  - name: default
    actions: []
"""


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
    """Sees every request the emulators and the webhook receive; kills the child at its point."""

    def __init__(self, world: EmulatedWorld, hook: Webhook) -> None:
        self.lock = threading.Lock()
        self.count = 0
        self.where = ""
        self.point: KillPoint | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.fired = False
        for observers in observer_lists(world, hook):
            observers.append(self.observe)

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
    made = {e for _, e in profile}
    assert set(AIMED) - OPTIONAL_AIMED <= made, sorted(set(AIMED) - made)
    firsts = sorted(
        (ep for ep in AIMED if ep in made), key=lambda ep: min(t for t, e in profile if e == ep)
    )
    chosen: list[int] = []  # each aimed endpoint takes the nearest point still free
    for endpoint in firsts:
        first = min(t for t, e in profile if e == endpoint)
        free = [i for i in range(len(moments)) if i not in chosen]
        chosen.append(min(free, key=lambda i: abs(moments[i] - first)))
    # ... in the order the clean run first made each call: an aimed point must not come after a
    # run that finished all the calls it waits for.
    aimed = dict(zip(sorted(chosen), firsts, strict=True))
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


def observer_lists(world: EmulatedWorld, hook: Webhook) -> Iterator[list[Observer]]:
    """The observer lists of everything the child talks to."""
    for app in (world.salesforce, world.zendesk, world.delighted):
        yield app.observers
    yield hook.observers


def run_sync(config: Path, log: Path, timeout: float = 180) -> int:
    return spawn(["sync", "--config", str(config)], log).wait(timeout=timeout)


def finish(config: Path, url: str, log: Path, runs: int = 3) -> tuple[int, dict[str, int]]:
    """Run passes until nothing is left to do (at most ``runs``), then one more: the escalation
    steps of what the last pass made fall due at once and fire on the next. Returns the number
    of passes and the work left."""
    store = StateStore(url)
    try:
        passes = 0
        while passes < runs:
            passes += 1
            assert run_sync(config, log) == 0, log.read_text()[-3000:]
            if not unfinished(store):
                break
        passes += 1
        assert run_sync(config, log) == 0, log.read_text()[-3000:]
        return passes, unfinished(store)
    finally:
        store.close()


def run_statuses(url: str) -> Counter[str]:
    """How many recorded runs ended in each status."""
    store = StateStore(url)
    try:
        return Counter(run["status"] for run in store.runs.last(10_000))
    finally:
        store.close()


def held_back(url: str) -> int:
    """Responses a settle delay still holds back (pending, but not due)."""
    store = StateStore(url)
    try:
        return store.inbox.counts().get("pending", 0)
    finally:
        store.close()


def sliced_sources(world: EmulatedWorld) -> list[dict[str, object]]:
    """The world's survey sources with Delighted's pages :data:`PAGE` responses long, so that
    the first sync's walk is long enough to be read as time slices at once (kills then land
    while several slices are being read)."""
    sources = world.config_data(state_url="")["sources"]
    return [{**s, "per_page": PAGE} if s["type"] == "delighted" else s for s in sources]


@pytest.mark.slow
@pytest.mark.timeout(900)  # dozens of SIGKILLed runs, then the final runs; 1-2 min on 2 busy cores
@pytest.mark.parametrize(
    ("backend", "responses", "kills", "at_least"),
    [
        ("sqlite", 2000, 26, 20),
        # PostgreSQL: advisory locks and SKIP LOCKED claims of killed processes, a shorter run.
        # More points than the floor: a run may finish before its point (on a loaded machine, or
        # when an earlier attempt already did the slices that follow).
        pytest.param("postgresql", 600, 14, 8, marks=pytest.mark.postgres),
    ],
)
def test_rel_sigkill_anywhere_ends_as_a_clean_run(
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    backend: str,
    responses: int,
    kills: int,
    at_least: int,
) -> None:
    end = quiet_end(SEED, ACCOUNTS, responses, windows=[SETTLE])
    log = tmp_path / "nps-sync.log"
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    overrides: dict[str, object] = {
        "lease_seconds": 2,
        "retry_backoff_seconds": 0.2,
        "rules": str(rules),
    }

    with (
        EmulatedWorld(SEED, ACCOUNTS, responses, end, zendesk_options=ZENDESK) as clean,
        webhook_server() as clean_hook,
    ):
        monkeypatch.setenv(HOOK_ENV, clean_hook.url)
        profile: list[tuple[float, str]] = []

        def record(endpoint: str, phase: str) -> None:
            if phase == "received":
                profile.append((time.monotonic(), endpoint))

        for observers in observer_lists(clean, clean_hook):
            observers.append(record)
        clean_url = f"sqlite:///{tmp_path / 'clean.db'}"
        overrides["sources"] = sliced_sources(clean)
        config = write_config(tmp_path / "clean.yaml", clean, clean_url, **overrides)
        started = time.monotonic()
        passes, left = finish(config, clean_url, log)
        assert left == {}
        held = held_back(clean_url)
        seconds = time.monotonic() - started
        expected = snapshot(clean, clean_hook.posts)
        clean_sent = len(clean_hook.posts)
    comments = sum(len(ticket[-1]) - 1 for ticket in expected.tickets.values())
    figures = (
        f"clean run: {passes} passes in {seconds:.1f}s, {len(profile)} requests, "
        f"{len(expected.tasks)} tasks, {len(expected.tickets)} tickets, {comments} comments, "
        f"{clean_sent} notifications, {held} responses settling"
    )
    assert len(expected.tasks) > responses // 4, figures
    assert len(expected.tickets) > responses // 40, figures
    assert comments > 0, figures
    assert held > 0, figures
    assert len(expected.notifications) > 0, figures
    assert any(f.get("Description") for f in expected.fields.values()), figures
    profile = [(t - profile[0][0], ep) for t, ep in profile]

    plan = kill_plan(random.Random(SEED), profile, kills)
    killed: list[str] = []
    completed_early = 0
    with (
        EmulatedWorld(SEED, ACCOUNTS, responses, end, zendesk_options=ZENDESK) as world,
        webhook_server() as hook,
    ):
        monkeypatch.setenv(HOOK_ENV, hook.url)
        assassin = Assassin(world, hook)
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
        finals, left = finish(config, url, log)
        statuses = run_statuses(url)
        actual = snapshot(world, hook.posts)
        sent = len(hook.posts)
        calls = world.zendesk.calls.most_common(6)

    summary = (
        f"{len(killed)} kills, {completed_early} early completions, {finals} final runs, "
        f"{sent} notifications sent"
    )
    print(f"\n{figures}\n{summary}; kill points:")
    print("\n".join(killed))
    print(f"zendesk calls: {calls}")
    assert len(killed) >= at_least, summary
    assert left == {}
    # `status` shows the killed passes as interrupted, never as still running.
    assert statuses["running"] == 0, statuses
    assert statuses["interrupted"] >= at_least // 2, statuses
    assert actual.duplicate_tasks == []
    assert actual.duplicate_tickets == []
    assert actual.duplicate_comments == ()
    differences = actual.differences(expected)
    assert differences == [], "\n".join(differences)
