"""The real-time path: ``nps-sync run --listen`` in its own process, fed signed webhooks.

Measures, over ``count`` webhooks sent one after another (a third of them detractors), how long
the receiver takes to acknowledge one (it answers only after the response is committed to the
SQLite store), and how long a detractor's Task and ticket take to exist in the emulated
Salesforce and Zendesk after its webhook was sent. Poll and drain intervals are an hour, so
every action is the webhook's doing, not a scheduled pass's.
"""

from __future__ import annotations

import json
import re
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.measure import nps_sync
from emulators.world import EmulatedWorld
from sync.state import StateStore

RULES = """\
version: 1
actions:
  call:
    type: salesforce_task
    owner: account_owner
    subject: "NPS detractor ({{ response.score }})"
    description: "Call {{ response.person_email }}."
    due_in: 1d
  ticket:
    type: zendesk_ticket
    subject: "NPS detractor ({{ response.score }})"
    body: "{{ response.person_email }} answered {{ response.score }}."
    expect_skip: [no_requester]
rules:
  - name: detractors
    when: {category: detractor}
    actions: [call, ticket]
  - name: default
    actions: []
"""
_LISTENING = re.compile(r"listening on (http://\S+): webhooks")


def _quantiles(values: list[float]) -> tuple[float, float, float]:
    """p50, p95 and max, in milliseconds."""
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p95 * 1000, ordered[-1] * 1000


def run_webhook_benchmark(count: int = 200, rate: float = 5.0, latency: float = 0.1) -> None:
    """Send ``count`` signed webhooks to a running daemon, ``rate`` a second, with ``latency``
    seconds added to every Salesforce, Zendesk and Delighted call; print the latencies."""
    with (
        tempfile.TemporaryDirectory(prefix="nps-sync-bench-webhooks-") as tmp,
        EmulatedWorld(seed=5, accounts=60, responses=60) as world,
    ):
        folder = Path(tmp)
        (folder / "rules.yaml").write_text(RULES, encoding="utf-8")
        url = f"sqlite:///{folder / 'state.db'}"
        data = world.config_data(
            state_url=url,
            rules=folder / "rules.yaml",
            schedule={
                "poll_interval_seconds": 3600,
                "drain_interval_seconds": 3600,
                "reconcile_cron": "",
            },
        )
        config = folder / "nps-sync.yaml"
        config.write_text(json.dumps(data, default=str), encoding="utf-8")
        log = folder / "daemon.log"
        with log.open("ab") as sink:
            daemon = subprocess.Popen(  # noqa: S603 - our own CLI
                [
                    *nps_sync(),
                    "run",
                    "-c",
                    str(config),
                    "--listen",
                    "127.0.0.1:0",
                    "--log-level",
                    "DEBUG",
                ],
                stdout=sink,
                stderr=sink,
            )
        store = StateStore(url)
        try:
            _measure(world, daemon, log, store, count, rate, latency)
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=60)
            store.close()


def _measure(
    world: EmulatedWorld,
    daemon: subprocess.Popen[bytes],
    log: Path,
    store: StateStore,
    count: int,
    rate: float,
    latency: float,
) -> None:
    base = _wait_for_start(log, daemon, store)
    for app in (world.salesforce, world.zendesk, world.delighted):
        app.latency = latency
    in_zendesk = {(u.get("email") or "").lower() for u in world.zendesk.users()}
    emails = [c.email for c in world.book.contacts if c.email.lower() in in_zendesk]
    target = f"{base}/webhooks/delighted/delighted"
    sent: dict[str, float] = {}
    acted: dict[str, float] = {}
    stop = threading.Event()

    def watch() -> None:  # when each detractor's two actions are done
        while not stop.is_set():
            done: dict[str, int] = {}
            for action in store.outbox.actions(status="done"):
                if action.kind in ("salesforce_task", "zendesk_ticket"):
                    done[action.response_id] = done.get(action.response_id, 0) + 1
            now = time.perf_counter()
            for rid in sent:
                if rid not in acted and done.get(rid, 0) >= 2:
                    acted[rid] = now
            time.sleep(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    acks: list[float] = []
    begin = time.perf_counter()
    for index in range(count):
        score = (1, 8, 10)[index % 3]
        rid = world.delighted.add_response(
            email=emails[index % len(emails)], score=score, comment=f"answer {index}"
        )
        time.sleep(max(0.0, begin + index / rate - time.perf_counter()))  # a steady rate
        started = time.perf_counter()
        status = world.delighted.send_webhook(target, rid)
        acks.append(time.perf_counter() - started)
        if status != 200:
            raise RuntimeError(f"webhook {index} answered {status}; see {log}")
        if score <= 6:
            sent[rid] = started
    deadline = time.monotonic() + 120
    while len(acted) < len(sent) and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    watcher.join()
    to_action = [acted[rid] - sent[rid] for rid in acted]
    title = (
        f"Webhooks: {count} signed Delighted webhooks at {rate:g}/s, SQLite store, "
        f"{latency * 1000:.0f} ms added to every API call"
    )
    table = Table(title=title)
    for column in ("measure", "n", "p50 ms", "p95 ms", "max ms"):
        table.add_column(column, justify="right" if column != "measure" else "left")
    for name, values in (
        ("acknowledgement (stored, 200)", acks),
        ("webhook -> Task and ticket exist", to_action),
    ):
        if values:
            p50, p95, top = _quantiles(values)
            table.add_row(name, str(len(values)), f"{p50:.1f}", f"{p95:.1f}", f"{top:.1f}")
    Console().print(table)
    if len(acted) < len(sent):
        Console().print(f"{len(sent) - len(acted)} detractors not acted on within 120 s")


def _wait_for_start(log: Path, daemon: subprocess.Popen[bytes], store: StateStore) -> str:
    """The receiver's URL once the first poll and drain (at start) are over."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = log.read_text()
        found = _LISTENING.search(text)
        if found and _drained(store):
            return found.group(1)
        if daemon.poll() is not None:
            raise RuntimeError(f"the daemon ended: {text[-2000:]}")
        time.sleep(0.05)
    raise RuntimeError(f"the daemon did not start: {log.read_text()[-2000:]}")


def _drained(store: StateStore) -> bool:
    """The first poll and drain are over (they run at start, in either order)."""
    try:
        runs = store.runs.last(10)
    except Exception:  # the daemon has not created the schema yet
        return False
    return all(
        any(r["kind"] == kind and r["finished_at"] for r in runs) for kind in ("poll", "drain")
    )
