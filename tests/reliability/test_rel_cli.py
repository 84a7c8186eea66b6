"""What an operator sees and does: the dead-letter list (``failed list`` / ``failed retry``) and
``status`` (runs, cursors, the inbox, pending and failed actions, API budget left)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from emulators.base import Fault
from emulators.world import EmulatedWorld
from sync.app.engine import Engine
from sync.cli import main
from tests.reliability.conftest import MARKER, TICKET_LINK, fast_engine, write_config
from tests.support import poll

LOCKED = Fault("lock", rate=1.0, endpoint="^composite_create$")


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), env={"COLUMNS": "250", "NO_COLOR": "1"})


def test_rel_a_record_that_keeps_failing_goes_to_the_dead_letters_and_back(
    small_world: EmulatedWorld, tmp_path: Path, sqlite_url: str
) -> None:
    settings: dict[str, Any] = {"max_attempts": 2, "retry_backoff_seconds": 0.01}
    config = str(write_config(tmp_path / "nps-sync.yaml", small_world, sqlite_url, **settings))
    small_world.salesforce.inject(LOCKED)
    engines: list[Engine] = []

    def one_pass() -> list[Any]:
        engines.append(fast_engine(small_world, sqlite_url, **settings))
        engines[-1].run_once()
        return engines[-1].store.outbox.actions(status="dead")

    # Pass after pass, once the short backoff has passed, until the task is given up on.
    dead = poll(one_pass, attempts=4, interval=0.05)
    engine = engines[-1]
    assert dead
    assert len(engines) == 2  # given up on at the second failure (max_attempts: 2)
    assert {a.kind for a in dead} == {"salesforce_task"}
    assert {a.failures for a in dead} == {2}
    assert small_world.salesforce.records("Task") == []

    listing = cli("failed", "list", "--config", config)
    assert listing.exit_code == 0, listing.output
    assert f"Failed actions ({len(dead)})" in listing.output
    for action in dead:
        line = next(line for line in listing.output.splitlines() if action.key[:12] in line)
        assert "salesforce_task" in line
        assert "UNABLE_TO_LOCK_ROW" in line

    assert cli("failed", "retry", "--config", config).exit_code == 2  # ids or --all
    unknown = cli("failed", "retry", "--config", config, "zzz")
    assert unknown.exit_code == 1
    assert unknown.output.strip().endswith("zzz: no failed action matches")
    one = cli("failed", "retry", "--config", config, dead[0].key[:12])
    assert one.output.strip() == "1 action(s) queued again; the next pass runs them."
    revived = engine.store.outbox.actions(keys=[dead[0].key])[0]
    assert (revived.status, revived.failures) == ("pending", 0)
    rest = cli("failed", "retry", "--config", config, "--all")
    assert rest.output.startswith(f"{len(dead) - 1} action(s) queued again")

    small_world.salesforce.clear_faults()
    report = fast_engine(small_world, sqlite_url, **settings).run_once()
    assert report.tasks_created == len(dead)
    assert {t[MARKER] for t in small_world.salesforce.records("Task")} == {a.key for a in dead}
    assert "Failed actions (0)" in cli("failed", "list", "--config", config).output


def rows(output: str, first_cell: str) -> list[list[str]]:
    """The cells of every table row that starts with ``first_cell``."""
    found = []
    for line in output.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃|]", line) if c.strip()]
        if cells and cells[0] == first_cell:
            found.append(cells)
    return found


def row(output: str, first_cell: str) -> list[str]:
    """The cells of the first table row that starts with ``first_cell``."""
    found = rows(output, first_cell)
    if not found:
        raise AssertionError(f"no row {first_cell!r} in:\n{output}")
    return found[0]


def test_rel_status_shows_runs_cursors_work_and_budget(
    small_world: EmulatedWorld, tmp_path: Path, sqlite_url: str
) -> None:
    config = str(write_config(tmp_path / "nps-sync.yaml", small_world, sqlite_url))
    small_world.zendesk.inject(Fault("429", rate=1.0, endpoint="^tickets_create", retry_after=600))
    engine = fast_engine(small_world, sqlite_url)
    before = datetime.now(UTC)
    report = engine.run_once()
    store = engine.store
    used, limit = small_world.salesforce.api_used, small_world.salesforce.daily_limit

    status = cli("status", "--config", config)
    assert status.exit_code == 0, status.output
    out = status.output
    run, did = rows(out, str(store.runs.last(1)[0]["id"]))  # "Last runs", "What ... did"
    assert run[1:2] + run[4:6] == ["pass", "deferred", "0"]  # a 429 is not an error
    assert did[1:] == [
        str(report.pulled),
        str(report.routed),
        str(report.tasks_created),
        "0",
        str(report.records_updated),
    ]
    assert row(out, "delighted")[1] == store.cursors.get("delighted")

    tasks = row(out, "salesforce_task")
    assert tasks[1:] == ["0", "0", "-", "0", str(report.tasks_created), "0"]
    tickets = row(out, "zendesk_ticket")
    waiting = sum(a.kind == "zendesk_ticket" for a in store.outbox.actions(status="pending"))
    assert tickets[1:3] == ["0", str(waiting)]
    next_at = datetime.strptime(tickets[3], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    assert before + timedelta(seconds=590) <= next_at <= before + timedelta(minutes=12)

    inbox = store.inbox.counts()
    assert (
        f"Responses: 0 waiting to be routed, {inbox['matched']} matched, "
        f"{inbox.get('unmatched', 0)} unmatched" in out
    )
    assert "Write-backs queued: 0 contacts, 0 accounts" in out
    assert f"Salesforce API budget: {limit - used:,} of {limit:,} daily calls left" in out
    line = " ".join(out.split())
    assert "Deferred (rate limit or API allowance): zendesk until 20" in line
    # The tickets, and the links to their Tasks queued with them.
    pending = len(store.outbox.actions(status="pending"))
    assert f"{pending} actions ({pending} for detractors)" in line


def test_rel_a_ticket_retried_from_the_failed_list_is_linked_from_its_task(
    small_world: EmulatedWorld, tmp_path: Path, sqlite_url: str
) -> None:
    config = str(write_config(tmp_path / "nps-sync.yaml", small_world, sqlite_url))
    small_world.zendesk.inject(Fault("422", rate=1.0, endpoint="^tickets_create"))
    engine = fast_engine(small_world, sqlite_url)
    engine.run_once()  # Zendesk refuses every ticket: each fails for good
    dead = {a.key for a in engine.store.outbox.actions(status="dead") if a.kind == "zendesk_ticket"}

    def links() -> list[Any]:
        every = engine.store.outbox.actions()
        return [
            a for a in every if a.kind == "salesforce_task_link" and a.payload["ticket_key"] in dead
        ]

    assert links()
    assert {a.status for a in links()} == {"done"}  # closed: no ticket to name
    descriptions = [str(t["Description"]) for t in small_world.salesforce.records("Task")]
    assert not any(TICKET_LINK.search(d) for d in descriptions)

    assert cli("failed", "retry", "--config", config, "--all").exit_code == 0
    small_world.zendesk.clear_faults()
    # Past the wait for Zendesk's search to show a ticket its first create may have made.
    later = datetime.now(UTC) + timedelta(minutes=2)
    engine = fast_engine(small_world, sqlite_url, clock=lambda: later)
    assert engine.run_once().tickets_created

    retried = engine.store.outbox.actions(keys=sorted(dead))
    assert {a.status for a in retried} == {"done"}
    ticket_ids = {a.key: a.external_id for a in retried}
    assert {a.status for a in links()} == {"done"}
    by_id = {t["Id"]: t["Description"] for t in small_world.salesforce.records("Task")}
    for link in links():
        named = TICKET_LINK.findall(by_id[link.payload["task_id"]])
        assert named == [ticket_ids[link.payload["ticket_key"]]]
