"""A state database restored from a backup, or started anew, against systems that already hold
what it forgot: after ``nps-sync state restored`` the next pass finds those Tasks and tickets
instead of making them again, and makes what is new."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

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


def config_for(world: EmulatedWorld, state: Path, path: Path) -> Path:
    data = world.config_data(state_url=f"sqlite:///{state}", rules=DEFAULT_RULES)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def made(world: EmulatedWorld) -> tuple[Counter[str], Counter[str]]:
    tasks = Counter(t[MARKER] for t in world.salesforce.records("Task") if t.get(MARKER))
    tickets = Counter(t["external_id"] for t in world.zendesk.tickets() if t.get("external_id"))
    return tasks, tickets


@pytest.mark.parametrize("restore", ["a backup", "an empty store"])
def test_after_a_restore_what_exists_is_found_and_only_what_is_new_is_made(
    world: EmulatedWorld, tmp_path: Path, restore: str
) -> None:
    detractors = world.book.contacts[:6]
    for n, person in enumerate(detractors[:4]):
        world.delighted.add_response(
            email=person.email, score=2, comment="slow", created_at=NOW - timedelta(days=3, hours=n)
        )
    live = config_for(world, tmp_path / "live.db", tmp_path / "live.yaml")
    backup = tmp_path / "backup.db"
    if restore == "a backup":  # taken before the first pass: it has seen nothing
        assert cli("status", "-c", live).exit_code == 0
        (tmp_path / "live.db").rename(backup)
        live = config_for(world, tmp_path / "live.db", tmp_path / "live.yaml")
    first = cli("sync", "-c", live)
    assert first.exit_code == 0, first.output
    before = made(world)
    assert sum(before[0].values()) >= 4
    assert sum(before[1].values()) >= 1
    # Two more answers after the backup, then the state is lost and the backup (or nothing) used.
    for person in detractors[4:]:
        world.delighted.add_response(
            email=person.email, score=1, comment="worse", created_at=NOW - timedelta(hours=1)
        )
    restored = config_for(world, backup if restore == "a backup" else tmp_path / "new.db",
                          tmp_path / "restored.yaml")  # fmt: skip

    marked = cli("state", "restored", "-c", restored)
    assert marked.exit_code == 0, marked.output
    assert "looked up by their key before they are created" in marked.output
    again = cli("sync", "--json", "-c", restored)
    assert again.exit_code == 0, again.output

    tasks, tickets = made(world)
    assert max(tasks.values()) == 1
    assert max(tickets.values()) == 1
    assert set(before[0]) < set(tasks)  # the two new answers got theirs
    report = json.loads(again.output)
    assert report["found_existing"] >= sum(before[0].values()) + sum(before[1].values())
