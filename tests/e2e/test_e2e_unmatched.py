"""The review list through the CLI: ``unmatched`` suggests a fix that works as printed, and
``unmatched rematch`` acts on what it then matches, once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from ruamel.yaml import YAML

from emulators.seed_model import SeedAccount
from emulators.world import EmulatedWorld
from sync.cli import main
from sync.state import StateStore

MARKER = "NPS_Sync_Key__c"
NOW = datetime.now(UTC).replace(microsecond=0)
#: Act on every matched detractor, and only on matched ones: what rematch makes possible.
RULES = """
version: 1
actions:
  owner_call:
    type: salesforce_task
    owner: account_owner
    subject: "Call {{ response.person_email }} at {{ account.name }}"
    due_in: 1d
rules:
  - name: matched-detractors
    when:
      all:
        - category: detractor
        - matched.salesforce: true
    actions: [owner_call]
  - name: default
    actions: []
"""


@pytest.fixture
def world() -> Iterator[EmulatedWorld]:
    with EmulatedWorld(seed=5, accounts=12, responses=0) as w:
        yield w


@pytest.fixture
def config(world: EmulatedWorld, tmp_path: Path) -> Path:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    path = tmp_path / "nps-sync.yaml"
    data = world.config_data(state_url=f"sqlite:///{tmp_path / 'state.db'}", rules=rules)
    path.write_text(json.dumps(data), encoding="utf-8")  # JSON is YAML
    return path


def cli(*args: str | Path) -> Result:
    return CliRunner().invoke(main, list(map(str, args)), env={"COLUMNS": "200", "NO_COLOR": "1"})


def tasks(world: EmulatedWorld) -> list[dict[str, Any]]:
    return [t for t in world.salesforce.records("Task") if t.get(MARKER)]


def merge(into: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            merge(into[key], value)
        else:
            into[key] = value


def snippet(output: str, number: int) -> str:
    """The YAML that fix ``number`` says to add, as printed (indentation removed)."""
    block = output.split(f"\n{number}. ", 1)[1].split("\n\n", 1)[0]
    lines = block.split("Add to nps-sync.yaml:\n", 1)[1].splitlines()
    return "\n".join(line[5:] for line in lines)


def test_a_suggested_alias_applied_as_printed_matches_on_rematch_and_acts_once(
    world: EmulatedWorld, config: Path
) -> None:
    account: SeedAccount = world.book.accounts[0]
    label, _, _ = account.domain.partition(".")
    elsewhere = f"{label}.io"  # the customer's other domain, on no account
    assert all(a.domain != elsewhere for a in world.book.accounts)
    for name, score in (("pat", 2), ("kim", 9)):
        world.delighted.add_response(
            email=f"{name}@{elsewhere}", score=score, created_at=NOW - timedelta(days=2)
        )
    world.delighted.add_response(
        email="someone1@gmail.com", score=1, created_at=NOW - timedelta(days=2)
    )
    assert cli("sync", "--config", config).exit_code == 0
    assert tasks(world) == []  # the rules act only on matched responses

    listed = cli("unmatched", "--config", config)
    assert listed.exit_code == 0, listed.output
    out = listed.output
    assert "Unmatched responses (3)" in out
    assert f"1. email domain {elsewhere} is on no account (2 responses)" in out
    assert f"closest account: {account.name} ({account.domain})" in out
    assert "then run `nps-sync unmatched rematch`" in out
    assert snippet(out, 1) == (
        "salesforce:\n"
        "  matching:\n"
        "    account_aliases:\n"
        f"      # {account.name}\n"
        f"      {elsewhere}: {account.id}"
    )
    assert "2. personal addresses (gmail.com) say nothing about the employer (1 response)" in out

    as_json = json.loads(cli("unmatched", "--json", "--config", config).output)
    assert [f["kind"] for f in as_json["fixes"]] == ["alias", "personal_address"]
    assert as_json["fixes"][0]["accounts"][0]["id"] == account.id
    assert {r["fix"] for r in as_json["responses"]} == {0, 1}

    # Apply the fix as printed, then match the review list again.
    data = json.loads(config.read_text(encoding="utf-8"))
    merge(data, YAML(typ="safe").load(StringIO(snippet(out, 1))))
    config.write_text(json.dumps(data), encoding="utf-8")
    first = cli("unmatched", "rematch", "--config", config)
    assert first.exit_code == 0, first.output
    assert "Review list: 3 responses; 2 now match (alias 2), 1 still unmatched." in first.output
    assert "1 tasks and 0 tickets created" in first.output
    (task,) = tasks(world)
    assert task["WhatId"] == account.id
    assert task["OwnerId"] == account.owner_id
    assert task["Subject"] == f"Call pat@{elsewhere} at {account.name}"

    # Nothing twice: a second rematch finds nothing new, and so does a pass.
    second = cli("unmatched", "--config", config, "rematch")
    assert second.exit_code == 0, second.output
    assert "Review list: 1 response; none matches yet, 1 still unmatched." in second.output
    assert cli("sync", "--config", config).exit_code == 0
    assert len(tasks(world)) == 1
    after = cli("unmatched", "--config", config)
    assert "Unmatched responses (1)" in after.output
    assert elsewhere not in after.output


def test_unmatched_keeps_its_plain_form_and_checks_the_config_file(
    world: EmulatedWorld, config: Path, tmp_path: Path
) -> None:
    assert cli("sync", "--config", config).exit_code == 0
    plain = cli("unmatched", "-c", config)
    assert plain.exit_code == 0, plain.output
    assert "Unmatched responses (0)" in plain.output
    missing = cli("unmatched", "--config", tmp_path / "nope.yaml")
    assert missing.exit_code == 2
    assert f"{tmp_path / 'nope.yaml'} does not exist. Name your config file with --config" in (
        " ".join(missing.output.split())
    )
    missing = cli("unmatched", "rematch", "--config", tmp_path / "nope.yaml")
    assert missing.exit_code == 2


def test_rematch_while_another_worker_routes_matches_nothing_and_exits_75(
    world: EmulatedWorld, tmp_path: Path, pg_url: str
) -> None:
    path = tmp_path / "pg.yaml"
    path.write_text(json.dumps(world.config_data(state_url=pg_url)), encoding="utf-8")
    world.delighted.add_response(
        email="pat@nowhere-known.example", score=2, created_at=NOW - timedelta(days=1)
    )
    assert cli("sync", "--config", path).exit_code == 0
    store = StateStore(pg_url)
    try:
        with store.locks.singleton("route") as mine:
            assert mine
            busy = cli("unmatched", "rematch", "--config", path)
    finally:
        store.close()
    assert busy.exit_code == 75, busy.output
    assert "Another nps-sync holds the routing lock: nothing was matched." in busy.output
    assert "another nps-sync is routing at the moment: run rematch again" in busy.output
    again = cli("unmatched", "rematch", "--config", path)
    assert again.exit_code == 0, again.output
    assert "Review list: 1 response; none matches yet, 1 still unmatched." in again.output
