"""``nps-sync backfill --since --until`` imports the answers given in that range, whatever
happened to them since, and takes a later answer for what it is: out of range, not a fault. A
pass after a backfill that was stopped part-way says what its fields leave out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from connectors.models import SurveyResponse
from emulators.base import Fault
from emulators.world import EmulatedWorld
from sync.app.runtime import open_store
from sync.cli import main
from sync.core.config import Config
from sync.ops.backfill import import_page

NOW = datetime.now(UTC).replace(microsecond=0)


def day(days_ago: int) -> datetime:
    return NOW - timedelta(days=days_ago)


@pytest.fixture
def world() -> Iterator[EmulatedWorld]:
    with EmulatedWorld(seed=7, accounts=4, responses=0) as w:
        yield w


def test_backfill_until_a_past_date_imports_that_range_and_reports_no_problem(
    world: EmulatedWorld, tmp_path: Path
) -> None:
    a, b, c = world.book.contacts[:3]
    export = tmp_path / "export.csv"
    export.write_text(
        "id,email,score,comment,created_at\n"
        f"f1,{a.email},3,slow,{day(20).isoformat()}\n"
        f"f2,{b.email},9,good,{day(10).isoformat()}\n"
        f"f3,{c.email},6,meh,{day(2).isoformat()}\n",  # after --until: out of range
        encoding="utf-8",
    )
    # Answered inside the range, its comment edited after it: still an answer of the range.
    edited = world.delighted.add_response(
        email=a.email, score=4, comment="edited later", created_at=day(12), updated_at=day(1)
    )
    world.delighted.add_response(email=b.email, score=10, created_at=day(3))  # out of range
    data = world.config_data(state_url=f"sqlite:///{tmp_path / 'state.db'}")
    data["sources"].append({"type": "file", "name": "export", "path": str(export)})
    config = tmp_path / "nps-sync.yaml"
    config.write_text(json.dumps(data, default=str), encoding="utf-8")

    since, until = day(25).date().isoformat(), day(5).date().isoformat()
    result = CliRunner().invoke(
        main,
        ["backfill", "--since", since, "--until", until, "--config", str(config)],
        env={"COLUMNS": "200", "NO_COLOR": "1"},
    )

    assert result.exit_code == 0, result.output
    assert "in the future" not in result.output
    assert "read 3, imported 3" in result.output
    rejected = CliRunner().invoke(main, ["rejected", "--json", "--config", str(config)])
    assert rejected.exit_code == 0, rejected.output
    assert json.loads(rejected.output) == {"total": 0, "rejected": []}
    store = open_store(Config.model_validate(data))
    try:
        assert store.inbox.get("delighted", edited) is not None
        assert store.inbox.get("export", "f3") is None
    finally:
        store.close()


def test_passes_after_an_interrupted_backfill_say_what_their_fields_leave_out_until_it_ends(
    world: EmulatedWorld, tmp_path: Path
) -> None:
    data = world.config_data(state_url=f"sqlite:///{tmp_path / 'state.db'}")
    config = tmp_path / "nps-sync.yaml"
    config.write_text(json.dumps(data, default=str), encoding="utf-8")
    store = open_store(Config.model_validate(data))
    try:  # what a backfill killed between storing a page and matching it leaves
        old = [
            SurveyResponse(
                source="delighted",
                response_id=f"h{i}",
                email=contact.email,
                score=9,
                comment="",
                created_at=day(40),
                updated_at=day(40),
            )
            for i, contact in enumerate(world.book.contacts[:3])
        ]
        import_page(store, "delighted", old, NOW)
    finally:
        store.close()
    env = {"COLUMNS": "200", "NO_COLOR": "1"}

    shown = CliRunner().invoke(main, ["sync", "--config", str(config)], env=env)
    as_json = CliRunner().invoke(main, ["sync", "--json", "--config", str(config)], env=env)

    assert shown.exit_code == 0, shown.output
    assert "warning: 3 responses an interrupted backfill imported are not matched yet" in (
        " ".join(shown.output.split())
    )
    assert json.loads(as_json.output)["unfinished_backfill"] == 3

    finished = CliRunner().invoke(
        main, ["backfill", "--since", day(60).date().isoformat(), "--config", str(config)], env=env
    )
    assert finished.exit_code == 0, finished.output
    assert (
        "read 0, imported 0 (3 matched, 0 unmatched, with the 3 an interrupted backfill left)"
        in (" ".join(finished.output.split()))
    )
    after = CliRunner().invoke(main, ["sync", "--json", "--config", str(config)], env=env)
    assert json.loads(after.output)["unfinished_backfill"] == 0


def test_answers_in_the_range_of_a_backfill_that_did_not_finish_stay_history_whoever_reads_them(
    world: EmulatedWorld, tmp_path: Path
) -> None:
    a, b = world.book.contacts[:2]
    inside = world.delighted.add_response(email=a.email, score=1, created_at=day(4))
    after = world.delighted.add_response(email=b.email, score=1, created_at=day(1))
    data = world.config_data(state_url=f"sqlite:///{tmp_path / 'state.db'}")
    config = tmp_path / "nps-sync.yaml"
    config.write_text(json.dumps(data, default=str), encoding="utf-8")
    env = {"COLUMNS": "200", "NO_COLOR": "1"}
    since, until = day(30).date().isoformat(), day(2).date().isoformat()
    backfill = ["backfill", "--since", since, "--until", until, "--config", str(config)]

    world.delighted.inject(Fault("500", rate=1.0))  # the backfill never reads its source
    stopped = CliRunner().invoke(main, backfill, env=env)
    assert stopped.exit_code == 75, stopped.output
    world.delighted.clear_faults()

    # The daemon pulls both answers first: the one inside the range is history, as the
    # backfill would have recorded it; the one after it is news.
    synced = CliRunner().invoke(main, ["sync", "--config", str(config)], env=env)
    assert synced.exit_code == 0, synced.output
    said = " ".join(synced.output.split())
    assert (
        f"warning: a backfill of the answers given from {since} to {until} did not finish" in said
    )
    assert f"until `nps-sync backfill --since {since} --until {until}` runs again" in said
    store = open_store(Config.model_validate(data))
    try:
        acted_on = {action.response_id for action in store.outbox.actions()}
    finally:
        store.close()
    assert after in acted_on
    assert inside not in acted_on
    explained = CliRunner().invoke(main, ["rules", "explain", inside, "--config", str(config)])
    assert "no action is taken: history: answered inside the range of an unfinished backfill" in (
        " ".join(explained.output.split())
    )
    replayed = CliRunner().invoke(
        main, ["rules", "replay", "--since", "30d", "--json", "--config", str(config)]
    )
    assert json.loads(replayed.output)["too_old"] == 1, replayed.output

    status = CliRunner().invoke(main, ["status", "--config", str(config)], env=env)
    shown = " ".join(status.output.split())
    assert f"A backfill of the answers given from {since} to {until} did not finish" in shown
    assert "(no Tasks, tickets or notifications)" in shown
    status_json = CliRunner().invoke(main, ["status", "--json", "--config", str(config)])
    assert json.loads(status_json.output)["backfilling"]["since"].startswith(since)

    finished = CliRunner().invoke(main, backfill, env=env)
    assert finished.exit_code == 0, finished.output
    again = CliRunner().invoke(main, ["sync", "--json", "--config", str(config)], env=env)
    assert json.loads(again.output)["backfilling"] is None
    status_json = CliRunner().invoke(main, ["status", "--json", "--config", str(config)])
    assert json.loads(status_json.output)["backfilling"] is None
