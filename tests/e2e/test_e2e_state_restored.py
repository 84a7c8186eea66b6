"""A state database restored from a backup, or started anew, against systems that already hold
what it forgot: the next pass finds those Tasks and tickets instead of making them again, and
makes what is new. A restored backup needs ``nps-sync state restored``; a new, empty database
notices by itself (Salesforce holds Tasks nps-sync made)."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from emulators.seed_model import SeedContact
from emulators.world import DEFAULT_RULES, EmulatedWorld
from sync.cli import main

MARKER = "NPS_Sync_Key__c"
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def world() -> Iterator[EmulatedWorld]:
    with EmulatedWorld(seed=5, accounts=12, responses=0) as w:
        yield w


def cli(*args: str | Path) -> Result:
    return CliRunner().invoke(main, list(map(str, args)), env={"COLUMNS": "200", "NO_COLOR": "1"})


def config_for(world: EmulatedWorld, state: Path) -> Path:
    path = state.with_suffix(".yaml")
    data = world.config_data(state_url=f"sqlite:///{state}", rules=DEFAULT_RULES)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def detractors(world: EmulatedWorld, people: list[SeedContact], ago: timedelta) -> None:
    for n, person in enumerate(people):
        world.delighted.add_response(
            email=person.email, score=2, comment="slow", created_at=NOW - ago - timedelta(hours=n)
        )


def made(world: EmulatedWorld) -> tuple[Counter[str], Counter[str]]:
    tasks = Counter(t[MARKER] for t in world.salesforce.records("Task") if t.get(MARKER))
    tickets = Counter(t["external_id"] for t in world.zendesk.tickets() if t.get("external_id"))
    return tasks, tickets


def synced(config: Path) -> dict[str, int]:
    result = cli("sync", "--json", "-c", config)
    assert result.exit_code == 0, result.output
    report: dict[str, int] = json.loads(result.stdout)
    return report


@pytest.mark.parametrize(
    ("restore", "command"),
    [("a backup", True), ("a backup", False), ("an empty store", False)],
    ids=["backup, state restored", "backup alone: twice", "empty store, by itself"],
)
def test_after_a_restore_what_exists_is_found_and_only_what_is_new_is_made(
    world: EmulatedWorld, tmp_path: Path, restore: str, command: bool
) -> None:
    people = world.book.contacts[:6]
    live = tmp_path / "live.db"
    detractors(world, people[:2], timedelta(days=4))
    synced(config_for(world, live))
    shutil.copy(live, tmp_path / "backup.db")  # the nightly backup
    detractors(world, people[2:4], timedelta(days=3))
    synced(config_for(world, live))
    before = made(world)
    # The state is lost; two more answers come in meanwhile.
    detractors(world, people[4:], timedelta(hours=1))
    state = tmp_path / ("backup.db" if restore == "a backup" else "new.db")
    config = config_for(world, state)

    if command:
        marked = cli("state", "restored", "-c", config)
        assert marked.exit_code == 0, marked.output
        assert "looked up by their key before they are created" in marked.output
    report = synced(config)

    tasks, tickets = made(world)
    assert set(before[0]) < set(tasks)  # the new answers got theirs
    twice = max(tasks.values()) > 1 or max(tickets.values()) > 1
    assert twice == (restore == "a backup" and not command)
    if not twice:
        assert report["found_existing"] > 0
