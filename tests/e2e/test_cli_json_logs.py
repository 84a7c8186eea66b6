"""``--log-format json``: every line a command writes on stderr is one JSON object with the
stable keys, structured extras where the record has them, and no survey text or identity of the
respondent, through the CLI against the emulators."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from emulators.base import Fault
from emulators.world import EmulatedWorld
from tests.support import acting_on_the_seeded_year, run_cli

#: Salesforce refuses every Task create: with one attempt allowed, each Task fails for good and
#: is logged with the response it was for.
LOCKED = Fault("lock", rate=1.0, endpoint="^composite_create$")
EMAIL = "zephyrine.quixbury@orchidvale-example.net"
NAME = "Zephyrine Quixbury"
COMMENT = "Marmalade-7731 keeps failing our quarterly export"
PII = (EMAIL, "zephyrine", "quixbury", "orchidvale", "Marmalade-7731", "quarterly export")
STABLE_KEYS = {"ts", "level", "logger", "message"}


def json_lines(stderr: str) -> list[dict[str, Any]]:
    records = [json.loads(line) for line in stderr.splitlines() if line.strip()]
    assert all(isinstance(r, dict) and set(r) >= STABLE_KEYS for r in records), stderr
    return records


def test_sync_logs_one_redacted_json_object_per_line(tmp_path: Path) -> None:
    with EmulatedWorld(seed=3, accounts=12, responses=20) as world:
        response_id = world.delighted.add_response(email=EMAIL, name=NAME, score=8, comment=COMMENT)
        data = world.config_data(
            state_url=f"sqlite:///{tmp_path / 'state.db'}",
            max_attempts=1,
            routing=acting_on_the_seeded_year(),
        )
        config = tmp_path / "nps-sync.yaml"
        config.write_text(json.dumps(data, default=str), encoding="utf-8")
        world.salesforce.inject(LOCKED)
        done = run_cli("--log-format", "json", "sync", "--config", config)

    assert done.returncode == 1  # the failed Tasks, as with text logs
    records = json_lines(done.stderr)
    failed = [r for r in records if r.get("response_id") == response_id]
    assert failed, done.stderr
    assert all(r["source"] == "delighted" and r["level"] == "error" for r in failed)
    assert {r.get("action") for r in failed} == {"salesforce_task"}
    assert records[-1]["logger"] == "sync.cli"  # the closing error is a record too
    assert "error(s) in this pass" in records[-1]["message"]
    for secret in PII:
        assert secret.lower() not in done.stderr.lower()


def test_the_config_can_ask_for_json_logs_and_the_command_line_wins(tmp_path: Path) -> None:
    with EmulatedWorld(seed=3, accounts=12, responses=20) as world:
        world.salesforce.inject(LOCKED)
        done = {}
        for asked in ("", "text"):  # each on a state of its own, so its Tasks fail too
            data = world.config_data(
                state_url=f"sqlite:///{tmp_path / f'state-{asked}.db'}",
                max_attempts=1,
                routing=acting_on_the_seeded_year(),
                logging={"format": "json"},
            )
            config = tmp_path / f"nps-sync-{asked}.yaml"
            config.write_text(json.dumps(data, default=str), encoding="utf-8")
            chosen = ("--log-format", asked) if asked else ()
            done[asked] = run_cli(*chosen, "sync", "--config", config)

    assert json_lines(done[""].stderr)
    assert "Error: " in done["text"].stderr
    assert not any(line.startswith("{") for line in done["text"].stderr.splitlines())
