"""Crash test of the links between a response's Task and its ticket.

``nps-sync sync`` runs as a child process and is killed with SIGKILL right after Salesforce or
Zendesk carried out one of the three writes (the Task's create, the ticket's create, the link
written onto the Task), before the answer reaches it. The next run must leave exactly one Task
and one ticket, the ticket naming the Task and the Task naming the ticket once.
"""

from __future__ import annotations

import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from emulators.base import Reset
from emulators.world import SF_HOST, EmulatedWorld
from tests.reliability.conftest import spawn, write_config

#: Runs hand claimed actions back only when their lease ends: keep it short.
LEASE_SECONDS = 1


class KillOnce:
    """Kills the child once ``endpoint`` has taken effect, and drops the answer."""

    def __init__(self, world: EmulatedWorld, endpoint: str) -> None:
        self.endpoint = endpoint
        self.proc: subprocess.Popen[bytes] | None = None
        self.fired = False
        for app in (world.salesforce, world.zendesk, world.delighted):
            app.observers.append(self.observe)

    def observe(self, endpoint: str, phase: str) -> None:
        if self.fired or phase != "handled" or endpoint != self.endpoint or self.proc is None:
            return
        self.fired = True
        self.proc.send_signal(signal.SIGKILL)
        raise Reset


def run(args: list[str], log: Path, killer: KillOnce | None = None) -> int:
    proc = spawn(args, log)
    if killer is not None:
        killer.proc = proc
    return proc.wait(timeout=120)


@pytest.mark.parametrize("endpoint", ["composite_create", "tickets_create", "composite_update"])
def test_a_crash_around_the_creates_leaves_one_task_and_one_ticket_linked_both_ways(
    endpoint: str, tmp_path: Path
) -> None:
    with EmulatedWorld(seed=5, accounts=6, responses=0) as world:
        zendesk_emails = {(u.get("email") or "").lower() for u in world.zendesk.users()}
        contact = next(c for c in world.book.contacts if c.email.lower() in zendesk_emails)
        answered = datetime.now(UTC) - timedelta(hours=2)
        world.delighted.add_response(
            email=contact.email, score=2, comment="Still broken", created_at=answered
        )
        config = write_config(
            tmp_path / "nps-sync.yaml",
            world,
            f"sqlite:///{tmp_path / 'state.db'}",
            lease_seconds=LEASE_SECONDS,
            retry_backoff_seconds=0.2,
        )
        args = ["sync", "--config", str(config)]
        log = tmp_path / "sync.log"
        killer = KillOnce(world, endpoint)

        assert run(args, log, killer) == -signal.SIGKILL, log.read_text()
        assert killer.fired
        # What the crash left: the write took effect, and the run did not learn of it.
        (made,) = world.salesforce.records("Task")
        tickets = [t for t in world.zendesk.tickets() if t.get("external_id")]
        assert len(tickets) == (0 if endpoint == "composite_create" else 1)
        linked = "Zendesk ticket: " in made["Description"]
        assert linked == (endpoint == "composite_update")
        time.sleep(LEASE_SECONDS + 0.5)  # the crashed run's leases end
        assert run(args, log) == 0, log.read_text()

        (task,) = world.salesforce.records("Task")
        (ticket,) = [t for t in world.zendesk.tickets() if t.get("external_id")]
        ticket_line = f"Zendesk ticket: https://acme.zendesk.com/agent/tickets/{ticket['id']}"
        assert task["Description"].count("Zendesk ticket: ") == 1
        assert task["Description"].endswith(ticket_line)
        (body,) = [c["body"] for c in world.zendesk.comments(ticket["id"])]
        assert f"Salesforce Task: {SF_HOST}/lightning/r/Task/{task['Id']}/view (owner: " in body

        assert run(args, log) == 0, log.read_text()
        assert len(world.salesforce.records("Task")) == 1
        (again,) = world.salesforce.records("Task")
        assert again["Description"] == task["Description"]
