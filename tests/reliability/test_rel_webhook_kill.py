"""A daemon killed with SIGKILL in the middle of a burst of 1,000 signed webhooks loses none and
does nothing twice. The sender retries every delivery that was not answered 2xx or could not
connect, as vendors do, and keeps sending while the daemon is down and after it is started
again on the same address. At the end every response is in the inbox once, and every Task and
ticket the rules ask for exists exactly once in the emulated Salesforce and Zendesk."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from emulators.world import EmulatedWorld
from sync.state import StateStore
from tests.reliability.conftest import snapshot, spawn, unfinished, write_config
from tests.support import wait_for

RULES = """\
version: 1
actions:
  call:
    type: salesforce_task
    owner: account_owner
    subject: "NPS detractor ({{ response.score }})"
    description: "Call back."
    due_in: 1d
  ticket:
    type: zendesk_ticket
    subject: "NPS detractor ({{ response.score }})"
    body: "Answered {{ response.score }}."
    create_requester: true
rules:
  - name: detractors
    when: {category: detractor}
    actions: [call, ticket]
  - name: default
    actions: []
"""
WEBHOOKS = 1000
SENDERS = 4
#: One answer in four is a detractor's: 250 Tasks and 250 tickets.
DETRACTOR_EVERY = 4


def started(store: StateStore) -> bool:
    """The daemon's first poll and drain, which run at start, are over."""
    try:
        runs = store.runs.last(10)
    except Exception:  # the schema is not there yet
        return False
    return all(
        any(r["kind"] == kind and r["finished_at"] for r in runs) for kind in ("poll", "drain")
    )


def acted(world: EmulatedWorld) -> int:
    return sum(1 for task in world.salesforce.records("Task") if task.get("NPS_Sync_Key__c"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RetryingSender:
    """Delivers each webhook until it is answered 2xx, as a vendor's webhook queue does; the
    answers are made (``make(index)``: body and headers) as the burst goes on."""

    def __init__(self, url: str, make: Callable[[int], tuple[bytes, dict[str, str]]]) -> None:
        self.url = url
        self.make = make
        self.next = 0
        self.lock = threading.Lock()
        #: The last third waits for this, so the kill always lands in the middle of the burst.
        self.go_on = threading.Event()
        self.acked = 0
        self.retries = 0
        self.deadline = time.monotonic() + 90

    def work(self) -> None:
        while True:
            with self.lock:
                if self.next == WEBHOOKS:
                    return
                index = self.next
                self.next += 1
            if index >= 2 * WEBHOOKS // 3:
                self.go_on.wait(timeout=90)
            with self.lock:
                body, headers = self.make(index)
            while time.monotonic() < self.deadline:
                request = urllib.request.Request(self.url, body, headers, method="POST")  # noqa: S310
                try:
                    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
                        if 200 <= answer.status < 300:
                            break
                except (urllib.error.URLError, OSError):  # refused, reset, 5xx: send it again
                    pass
                with self.lock:
                    self.retries += 1
                time.sleep(0.05)
            with self.lock:
                self.acked += 1


def test_rel_sigkill_during_a_webhook_burst_loses_nothing_and_repeats_nothing(
    tmp_path: Path, sqlite_url: str
) -> None:
    with EmulatedWorld(seed=61, accounts=10, responses=10) as world:
        rules = tmp_path / "rules.yaml"
        rules.write_text(RULES, encoding="utf-8")
        schedule = {
            "poll_interval_seconds": 3600,
            "drain_interval_seconds": 3600,
            "reconcile_cron": "",
        }
        config = write_config(
            tmp_path / "daemon.yaml", world, sqlite_url, schedule=schedule, rules=str(rules)
        )
        address = f"127.0.0.1:{free_port()}"
        url = f"http://{address}/webhooks/delighted/delighted"
        log = tmp_path / "daemon.log"
        command = ["run", "--config", str(config), "--listen", address]
        detractors: set[str] = set()
        sent: set[str] = set()

        def answer(index: int) -> tuple[bytes, dict[str, str]]:
            score = 2 if index % DETRACTOR_EVERY == 0 else 9
            rid = world.delighted.add_response(
                email=f"respondent{index}@burst.example", score=score, comment=f"answer {index}"
            )
            sent.add(rid)
            if score <= 6:
                detractors.add(rid)
            return world.delighted.webhook(rid)

        daemon = spawn(command, log)
        store = StateStore(sqlite_url)
        assert wait_for(lambda: started(store), timeout=30), log.read_text()
        sender = RetryingSender(url, answer)
        threads = [threading.Thread(target=sender.work, daemon=True) for _ in range(SENDERS)]
        restarted: subprocess.Popen[bytes] | None = None
        try:
            for thread in threads:
                thread.start()
            # Killed once a third is acknowledged and some Tasks exist: mid-burst, mid-pass.
            assert wait_for(
                lambda: sender.acked >= WEBHOOKS // 3 and acted(world) > 0,
                timeout=60,
                interval=0.01,
            ), log.read_text()
            daemon.kill()  # SIGKILL: no batch finished, no lease handed back
            daemon.wait(timeout=10)
            killed_at = sender.acked
            sender.go_on.set()
            restarted = spawn(command, log)
            for thread in threads:
                thread.join(timeout=120)
            assert sender.acked == WEBHOOKS, log.read_text()[-3000:]
            assert killed_at < WEBHOOKS  # the kill landed in the middle of the burst
            assert sender.retries > 0  # some deliveries were refused while it was down

            def all_done() -> bool:
                kinds = Counter(
                    a.kind for a in store.outbox.actions(status="done") if a.response_id in sent
                )
                return kinds["salesforce_task"] == kinds["zendesk_ticket"] == len(detractors)

            assert wait_for(all_done, timeout=60, interval=0.2), (
                unfinished(store),
                log.read_text()[-3000:],
            )
        finally:
            sender.go_on.set()
            for process in (daemon, restarted):
                if process is not None and process.poll() is None:
                    process.terminate()
                    process.wait(timeout=60)
            with store.engine.connect() as conn:
                rows = conn.execute(
                    sa.text(
                        "select response_id, count(*) from nps_response_versions "
                        "group by response_id"
                    )
                ).all()
            versions = {str(rid): int(count) for rid, count in rows}
            keys: dict[str, set[str]] = {"salesforce_task": set(), "zendesk_ticket": set()}
            for action in store.outbox.actions(status="done"):
                if action.response_id in sent and action.kind in keys:
                    keys[action.kind].add(action.key)
            store.close()

        # Each response stored once: one version, whether the webhook, a retry of it or the
        # poll at the restart brought it.
        assert {rid: versions.get(rid) for rid in sent} == dict.fromkeys(sent, 1)
        state = snapshot(world)
        assert state.duplicate_tasks == []
        assert state.duplicate_tickets == []
        assert keys["salesforce_task"] <= set(state.tasks)
        assert keys["zendesk_ticket"] <= set(state.tickets)
        assert len(keys["salesforce_task"]) == len(keys["zendesk_ticket"]) == len(detractors)
