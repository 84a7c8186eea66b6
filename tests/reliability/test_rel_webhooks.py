"""The real-time path as it runs in production: ``nps-sync run --listen`` in a child process.

A signed Delighted webhook is stored before it is acknowledged, and its Task and ticket exist in
the emulated Salesforce and Zendesk within seconds, although the poll and drain intervals are an
hour: the webhook wakes the pass. Sent twice, it is stored once and acted on once. Health,
readiness and metrics are served on the same listener.
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import requests

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
LISTENING = re.compile(r"listening on (http://\S+): webhooks")


def start_daemon(
    tmp_path: Path, world: EmulatedWorld, url: str
) -> tuple[subprocess.Popen[bytes], str, Path]:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    schedule = {"poll_interval_seconds": 3600, "drain_interval_seconds": 3600, "reconcile_cron": ""}
    config = write_config(tmp_path / "daemon.yaml", world, url, schedule=schedule, rules=str(rules))
    log = tmp_path / "daemon.log"
    daemon = spawn(["run", "--config", str(config), "--listen", "127.0.0.1:0"], log)
    found = wait_for(lambda: LISTENING.search(log.read_text()), timeout=30, interval=0.05)
    assert found, log.read_text()
    match = LISTENING.search(log.read_text())
    assert match is not None
    return daemon, match.group(1), log


def detractor_with_a_zendesk_user(world: EmulatedWorld) -> str:
    in_zendesk = {(u.get("email") or "").lower() for u in world.zendesk.users()}
    return next(c.email for c in world.book.contacts if c.email.lower() in in_zendesk)


def test_rel_a_webhook_is_acted_on_at_once_and_only_once(tmp_path: Path, sqlite_url: str) -> None:
    with EmulatedWorld(seed=53, accounts=12, responses=30) as world:
        daemon, base, log = start_daemon(tmp_path, world, sqlite_url)
        store = StateStore(sqlite_url)
        try:
            assert requests.get(f"{base}/healthz", timeout=5).status_code == 200
            # The first pass (at start) acts on the seed; then nothing is due for an hour.
            ready = wait_for(
                lambda: (
                    requests.get(f"{base}/readyz", timeout=5).status_code == 200
                    and all(
                        any(r["kind"] == kind and r["finished_at"] for r in store.runs.last(10))
                        for kind in ("poll", "drain")
                    )
                    and unfinished(store) == {}
                ),
                timeout=60,
                interval=0.1,
            )
            assert ready, log.read_text()
            checks = requests.get(f"{base}/readyz", timeout=5).json()["checks"]
            assert checks == {"store": "ok", "connectors": "ok", "rules": "ok"}
            before = snapshot(world)

            rid = world.delighted.add_response(
                email=detractor_with_a_zendesk_user(world), score=1, comment="Nobody answers"
            )
            url = f"{base}/webhooks/delighted/delighted"
            sent = time.monotonic()
            assert world.delighted.send_webhook(url, rid) == 200
            assert store.inbox.get("delighted", rid) is not None  # stored before the 200

            created = {"salesforce_task", "zendesk_ticket"}

            def acted() -> bool:
                actions = [a for a in store.outbox.actions() if a.response_id == rid]
                kinds = {a.kind for a in actions}
                return kinds >= created and all(a.status == "done" for a in actions)

            assert wait_for(acted, timeout=30, interval=0.05), log.read_text()[-3000:]
            elapsed = time.monotonic() - sent
            assert elapsed < 30  # far below the hour-long poll and drain intervals
            after = snapshot(world)
            keys = {
                a.key for a in store.outbox.actions() if a.response_id == rid and a.kind in created
            }
            assert keys <= set(after.tasks) | set(after.tickets)
            assert len(after.tasks) == len(before.tasks) + 1
            assert len(after.tickets) == len(before.tickets) + 1

            # The vendor retries: stored once, acted on once.
            assert world.delighted.send_webhook(url, rid) == 200
            time.sleep(1)
            final = snapshot(world)
            assert final.duplicate_tasks == final.duplicate_tickets == []
            assert (len(final.tasks), len(final.tickets)) == (len(after.tasks), len(after.tickets))

            metrics = requests.get(f"{base}/metrics", timeout=5).text
            assert 'nps_sync_webhooks_total{outcome="stored",source="delighted"} 1.0' in metrics
            assert 'nps_sync_webhooks_total{outcome="duplicate",source="delighted"} 1.0' in metrics
            assert 'nps_sync_actions{kind="salesforce_task",state="done"}' in metrics
            assert 'nps_sync_pass_duration_seconds_count{job="poll"}' in metrics

            daemon.send_signal(signal.SIGTERM)
            assert daemon.wait(timeout=30) == 0, log.read_text()
        finally:
            if daemon.poll() is None:
                daemon.kill()
                daemon.wait(timeout=10)
            store.close()


def test_rel_a_typeform_webhook_is_acted_on_at_once_and_only_once(
    tmp_path: Path, sqlite_url: str
) -> None:
    with EmulatedWorld(seed=53, accounts=12, responses=10, typeform_responses=5) as world:
        daemon, base, log = start_daemon(tmp_path, world, sqlite_url)
        store = StateStore(sqlite_url)
        try:
            ready = wait_for(
                lambda: (
                    requests.get(f"{base}/readyz", timeout=5).status_code == 200
                    and all(
                        any(r["kind"] == kind and r["finished_at"] for r in store.runs.last(10))
                        for kind in ("poll", "drain")
                    )
                    and unfinished(store) == {}
                ),
                timeout=60,
                interval=0.1,
            )
            assert ready, log.read_text()
            before = snapshot(world)
            email = detractor_with_a_zendesk_user(world)
            contact = next(c for c in world.book.contacts if c.email == email)
            token = world.typeform.add_response(
                email=email,
                score=2,
                comment="Nobody answers",
                hidden={"email": email, "name": contact.first_name, "sfid": contact.id},
            )
            url = f"{base}/webhooks/typeform/typeform"
            assert world.typeform.send_webhook(url, token) == 200
            assert store.inbox.get("typeform", token) is not None  # stored before the 200

            created = {"salesforce_task", "zendesk_ticket"}

            def acted() -> bool:
                actions = [a for a in store.outbox.actions() if a.response_id == token]
                kinds = {a.kind for a in actions}
                return kinds >= created and all(a.status == "done" for a in actions)

            assert wait_for(acted, timeout=30, interval=0.05), log.read_text()[-3000:]
            after = snapshot(world)
            assert len(after.tasks) == len(before.tasks) + 1
            assert len(after.tickets) == len(before.tickets) + 1

            assert world.typeform.send_webhook(url, token) == 200  # Typeform retries
            time.sleep(1)
            final = snapshot(world)
            assert final.duplicate_tasks == final.duplicate_tickets == []
            assert (len(final.tasks), len(final.tickets)) == (len(after.tasks), len(after.tickets))
            metrics = requests.get(f"{base}/metrics", timeout=5).text
            assert 'nps_sync_webhooks_total{outcome="stored",source="typeform"} 1.0' in metrics
            assert 'nps_sync_webhooks_total{outcome="duplicate",source="typeform"} 1.0' in metrics

            daemon.send_signal(signal.SIGTERM)
            assert daemon.wait(timeout=30) == 0, log.read_text()
        finally:
            if daemon.poll() is None:
                daemon.kill()
                daemon.wait(timeout=10)
            store.close()


def test_rel_a_listen_port_in_use_ends_the_daemon_with_75(tmp_path: Path, sqlite_url: str) -> None:
    with EmulatedWorld(seed=53, accounts=5, responses=5) as world, socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        config = write_config(tmp_path / "daemon.yaml", world, sqlite_url)
        log = tmp_path / "daemon.log"
        daemon = spawn(["run", "--config", str(config), "--listen", f"127.0.0.1:{port}"], log)
        assert daemon.wait(timeout=60) == 75, log.read_text()
        assert f"cannot listen on 127.0.0.1:{port}: the port is in use" in log.read_text()
        bad = spawn(["run", "--config", str(config), "--listen", "nowhere"], log)
        assert bad.wait(timeout=60) == 2, log.read_text()
        assert "'nowhere' is not HOST:PORT" in log.read_text()
