"""``--json``: each command prints one JSON document on stdout, through the CLI, against the
emulators. Numbers are numbers, timestamps ISO-8601 UTC, logs and errors stay on stderr, and
the exit code is the one the tables would have given."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from emulators.base import Fault
from emulators.world import EmulatedWorld
from tests.support import acting_on_the_seeded_year, run_cli

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
#: Salesforce refuses every Task create: with one attempt allowed, each Task is a failed action.
LOCKED = Fault("lock", rate=1.0, endpoint="^composite_create$")


@dataclass
class Synced:
    world: EmulatedWorld
    config: Path
    report: dict[str, Any]
    returncode: int
    stderr: str


def document(*args: str | Path, code: int = 0) -> Any:
    done = run_cli(*args)
    assert done.returncode == code, done.stderr
    return json.loads(done.stdout)  # the whole of stdout is the document


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synced]:
    """One pass through ``nps-sync sync --json`` on a world whose Task creates all fail."""
    tmp = tmp_path_factory.mktemp("json")
    with EmulatedWorld(seed=11, accounts=20, responses=80) as world:
        data = world.config_data(
            state_url=f"sqlite:///{tmp / 'state.db'}",
            max_attempts=1,
            routing=acting_on_the_seeded_year(),
        )
        config = tmp / "nps-sync.yaml"
        config.write_text(json.dumps(data, default=str), encoding="utf-8")
        world.salesforce.inject(LOCKED)
        done = run_cli("sync", "--json", "--config", config)
        yield Synced(world, config, json.loads(done.stdout), done.returncode, done.stderr)


def test_sync_prints_the_pass_as_one_document_and_keeps_its_exit_code(synced: Synced) -> None:
    report = synced.report
    assert synced.returncode == 1  # failed Tasks: some of the work failed, as without --json
    assert "error(s) in this pass" in synced.stderr
    assert report["pulled"] == len(synced.world.book.responses)
    assert report["routed"] == report["pulled"]
    assert report["unmatched"] > 0
    assert report["tickets_created"] == len(
        [t for t in synced.world.zendesk.tickets() if t.get("external_id")]
    )
    assert report["tasks_created"] == 0
    assert report["dead"] > 0
    assert report["error_count"] >= report["dead"]
    assert len(report["errors"]) == min(report["error_count"], 50)  # the first 50, and a count
    assert all("UNABLE_TO_LOCK_ROW" in error for error in report["errors"])
    assert isinstance(report["seconds"], float)
    assert set(report["api_calls"]) == {"salesforce", "zendesk", "delighted"}
    assert all(isinstance(n, int) for n in report["api_calls"].values())
    assert report["api_usage"]["used"] <= report["api_usage"]["limit"]
    assert report["idle"] is False


def test_status(synced: Synced) -> None:
    status = document("status", "--json", "--config", synced.config)
    assert ISO_UTC.match(status["generated_at"])
    (run,) = status["runs"]
    assert run["status"] != "running"
    assert (run["pulled"], run["routed"]) == (synced.report["pulled"], synced.report["routed"])
    assert run["tickets_created"] == synced.report["tickets_created"]
    assert run["errors"] == synced.report["error_count"]
    assert ISO_UTC.match(run["started_at"])
    assert ISO_UTC.match(run["finished_at"])
    cursors = {c["source"]: c for c in status["cursors"]}
    assert "delighted" in cursors
    assert all(ISO_UTC.match(c["updated_at"]) for c in cursors.values())
    actions = {a["kind"]: a for a in status["actions"]}
    assert actions["salesforce_task"]["failed"] == synced.report["dead"]
    assert actions["zendesk_ticket"]["done"] >= synced.report["tickets_created"]
    assert status["responses"]["unmatched"] == synced.report["unmatched"]
    assert status["responses"]["pending"] == 0
    budget = status["salesforce_api"]
    assert budget["left"] == budget["limit"] - budget["used"]
    assert len(status["rules"]["hash"]) == 64


def test_failed_list(synced: Synced) -> None:
    failed = document("failed", "list", "--json", "--config", synced.config)
    assert failed["count"] == len(failed["actions"]) == synced.report["dead"]
    for action in failed["actions"]:
        assert re.fullmatch(r"[0-9a-f]{40}", action["id"])  # the whole key, not the table's 12
        assert action["kind"] == "salesforce_task"
        assert action["attempts"] == 1
        assert "UNABLE_TO_LOCK_ROW" in action["last_error"]
    # The ids work with `failed retry` as they are.
    retry = run_cli("failed", "retry", "--config", synced.config, failed["actions"][0]["id"])
    assert retry.returncode == 0, retry.stderr
    again = document("failed", "list", "--json", "--config", synced.config)
    assert again["count"] == failed["count"] - 1


def test_unmatched(synced: Synced) -> None:
    unmatched = document("unmatched", "--json", "--config", synced.config)
    known = {c.email for c in synced.world.book.contacts}
    assert unmatched["count"] == len(unmatched["responses"]) == synced.report["unmatched"]
    for row in unmatched["responses"]:
        assert row["email"].lower() not in known
        assert isinstance(row["score"], int)
        assert ISO_UTC.match(row["submitted_at"])
        assert row["why"]


def test_rules_explain_and_replay(synced: Synced) -> None:
    contacts = {c.email for c in synced.world.book.contacts}
    detractor = next(r for r in synced.world.book.responses if r.score <= 6 and r.email in contacts)
    explained = document("rules", "explain", detractor.id, "--json", "--config", synced.config)
    assert explained["response"]["score"] == detractor.score
    assert explained["match"]["status"] == "matched"
    assert explained["fields"]["score"] == detractor.score
    assert explained["stored_decision"]["ruleset"] == explained["rules_in_force"]
    fired = [t["rule"] for t in explained["trace"] if t["fired"]]
    assert fired == [m["rule"] for m in explained["decision"]]
    assert explained["stored_decision"]["rules"] == fired

    replayed = document("rules", "replay", "--since", "52w", "--json", "--config", synced.config)
    assert 0 < replayed["responses"] <= synced.report["routed"]
    assert ISO_UTC.match(replayed["since"])
    assert replayed["candidate"] is None
    in_force = replayed["in_force"]
    tickets = sum(a["count"] for a in in_force["actions"] if a["type"] == "zendesk_ticket")
    assert tickets == sum(g["tickets"] for g in in_force["tickets_by_group"]) > 0


def test_explain_account_and_segments(synced: Synced) -> None:
    accounts = {c.email: c.account_id for c in synced.world.book.contacts}
    account = next(accounts[r.email] for r in synced.world.book.responses if r.email in accounts)
    explained = document("explain", "account", account, "--json", "--config", synced.config)
    assert explained["account_id"] == account
    assert ISO_UTC.match(explained["window"]["start"])
    assert explained["responses"]
    assert all(isinstance(r["score"], int) for r in explained["responses"])
    nps = next(f for f in explained["fields"] if f["metric"] == "nps")
    assert isinstance(nps["value"], int | float)

    segments = document("explain", "segments", "--by", "tier", "--json", "--config", synced.config)
    assert segments["by"] == "tier"
    assert sum(s["accounts"] for s in segments["segments"]) > 0
    assert all(isinstance(s["arr"], int | float) for s in segments["segments"])


def test_check(synced: Synced) -> None:
    checked = document("check", "--json", "--config", synced.config)
    assert checked["ok"] is True
    assert checked["errors"] == 0
    systems = {f["system"] for f in checked["findings"]}
    assert {"salesforce", "zendesk", "state"} <= systems
    assert {f["level"] for f in checked["findings"]} <= {"ok", "warning"}


def test_a_check_that_fails_still_prints_only_the_document(synced: Synced, tmp_path: Path) -> None:
    data = json.loads(synced.config.read_text(encoding="utf-8"))
    data["zendesk"]["auth"]["token"] = {"env": "NPS_TEST_UNSET_TOKEN"}
    config = tmp_path / "broken.yaml"
    config.write_text(json.dumps(data), encoding="utf-8")
    checked = document("check", "--json", "--config", config, code=1)
    assert checked["ok"] is False
    (error,) = [f for f in checked["findings"] if f["level"] == "error"]
    assert "NPS_TEST_UNSET_TOKEN is not set" in error["message"]
