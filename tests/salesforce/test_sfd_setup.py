"""From an empty org to a passing check: ``nps-sync check`` names what is missing, ``nps-sync
fields setup --metadata`` writes it, and the files, deployed as they are (the emulator reads the
same source files the Salesforce CLI would) with the permission set assigned, make the check pass
and a sync work."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from ruamel.yaml import YAML

from emulators.salesforce import DEFAULT_USERNAME
from emulators.world import EmulatedWorld
from sync.cli import main
from sync.fields.fieldmap import suggested_mapping
from tests.support import acting_on_the_seeded_year


@pytest.fixture
def bare_world() -> Iterator[EmulatedWorld]:
    """The usual world, but its Salesforce org has none of the fields nps-sync uses."""
    with EmulatedWorld(
        seed=11, accounts=4, responses=8, salesforce_options={"bare": True}
    ) as world:
        yield world


def write_config(world: EmulatedWorld, tmp_path: Path, **salesforce: Any) -> Path:
    data = world.config_data(state_url=f"sqlite:///{tmp_path / 'state.db'}")
    data["salesforce"].update(salesforce)
    # Every Salesforce metric, the response history object and Lead matching: all of it to set up.
    data["write_back"] = suggested_mapping(zendesk=False)
    data["routing"] = acting_on_the_seeded_year()
    path = tmp_path / "nps-sync.yaml"
    with path.open("w", encoding="utf-8") as out:
        YAML().dump(data, out)
    return path


def cli(*args: str | Path) -> Result:
    env = {"COLUMNS": "250", "NO_COLOR": "1"}
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


def check(config: Path) -> tuple[int, dict[str, dict[str, Any]]]:
    """``nps-sync check --json``: the exit code and the errors by item."""
    result = cli("check", "-c", config, "--json")
    findings = json.loads(result.output)["findings"]
    return result.exit_code, {f["item"]: f for f in findings if f["level"] == "error"}


def test_setup_metadata_deployed_as_is_makes_check_pass_on_an_empty_org(
    bare_world: EmulatedWorld, tmp_path: Path
) -> None:
    config = write_config(bare_world, tmp_path, matching={"order": ["email", "lead", "domain"]})

    code, errors = check(config)
    assert code == 1
    for missing in (
        "Task.NPS_Sync_Key__c",
        "Account.Tier__c",
        "Account.Email_Domain__c",
        "Contact.NPS_Last_Score__c",
        "Lead.NPS_Category__c",
    ):
        assert "does not exist" in errors[missing]["message"]
    assert "cannot describe NPS_Response__c" in errors["NPS_Response__c"]["message"]
    summary = errors["fields to create"]
    assert "nps-sync fields setup --metadata DIR" in summary["message"]
    assert "Task.NPS_Sync_Key__c  Text(80), External ID, unique" in summary["fix"].splitlines()

    out = tmp_path / "salesforce"
    setup = cli("fields", "setup", "-c", config, "--metadata", out)
    assert setup.exit_code == 0, setup.output
    assert "sf project deploy start --manifest package.xml" in setup.output
    assert f"sf org assign permset --name NPS_Sync --on-behalf-of {DEFAULT_USERNAME}" in (
        setup.output
    )

    deployed = bare_world.salesforce.deploy(out, manifest=out / "package.xml")
    assert "Task.NPS_Sync_Key__c" in deployed.fields
    assert deployed.objects == ["NPS_Response__c"]
    assert deployed.permission_sets == ["NPS_Sync"]

    # Deployed but not yet granted: the integration user cannot see a single new field.
    code, errors = check(config)
    assert code == 1
    assert (
        "does not exist (or the integration user cannot see it)"
        in (errors["Task.NPS_Sync_Key__c"]["message"])
    )
    assert "NPS_Response__c.Score__c" in errors

    bare_world.salesforce.assign_permission_set("NPS_Sync", DEFAULT_USERNAME)
    after = cli("check", "-c", config)
    assert after.exit_code == 0, after.output
    assert check(config) == (0, {})

    synced = cli("sync", "-c", config)
    assert synced.exit_code == 0, synced.output
    tasks = bare_world.salesforce.records("Task")
    assert tasks, synced.output
    assert all(len(task["NPS_Sync_Key__c"]) >= 40 for task in tasks)
    scored = [c for c in bare_world.salesforce.records("Contact") if c["NPS_Last_Score__c"]]
    assert scored
    assert bare_world.salesforce.records("NPS_Response__c")
