"""``nps-sync check`` against the emulated org: what is missing, unfit or read-only, and the
exact list of fields to create; exit 1 while the configuration cannot work."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from ruamel.yaml import YAML

from connectors.salesforce.describe import FieldInfo
from emulators.world import EmulatedWorld
from sync.checks.salesforce import Expected, expected_problem
from sync.cli import main

CheckRunner = Callable[..., Result]


@pytest.fixture
def world() -> Iterator[EmulatedWorld]:
    with EmulatedWorld(seed=4, accounts=5, responses=5) as w:
        yield w


@pytest.fixture
def check(world: EmulatedWorld, tmp_path: Path) -> CheckRunner:
    """``check(**salesforce_overrides)`` runs the command on a config file for the world."""

    def run(**salesforce: Any) -> Result:
        data = world.config_data(state_url=f"sqlite:///{tmp_path / 'state.db'}")
        data["salesforce"].update(salesforce)
        path = tmp_path / "nps-sync.yaml"
        with path.open("w") as out:
            YAML().dump(data, out)
        return CliRunner().invoke(main, ["check", "-c", str(path)], env={"COLUMNS": "300"})

    return run


def rows(result: Result, level: str) -> list[str]:
    return [line for line in result.output.splitlines() if f"│ {level} " in line]


def to_create(result: Result) -> list[str]:
    """The fix column of the "fields to create" row: one field per line."""
    lines = result.output.splitlines()
    start = next(i for i, line in enumerate(lines) if "fields to create" in line)
    cells: list[str] = []
    for line in lines[start:]:
        if cells and not line.startswith("│            │"):
            break
        cells.append(line.split("│")[-2].strip())
    return [c for c in cells if c]


def test_a_fitting_org_passes(check: CheckRunner) -> None:
    result = check()
    assert result.exit_code == 0, result.output
    assert "Task.NPS_Sync_Key__c" in result.output
    assert rows(result, "error") == []


def test_a_missing_field_fails_and_is_listed_to_create(
    world: EmulatedWorld, check: CheckRunner
) -> None:
    world.salesforce.remove_field("Contact", "NPS_Last_Score__c")
    result = check()
    assert result.exit_code == 1
    errors = rows(result, "error")
    assert any("Contact.NPS_Last_Score__c" in line and "does not exist" in line for line in errors)
    assert to_create(result) == ["Contact.NPS_Last_Score__c  Number(2, 0)"]


def test_a_read_only_field_fails_with_the_permission_to_grant(
    world: EmulatedWorld, check: CheckRunner
) -> None:
    world.salesforce.set_field_updateable("Account", "NPS_Score__c", False)
    result = check()
    assert result.exit_code == 1
    [row] = [line for line in rows(result, "error") if "Account.NPS_Score__c" in line]
    assert "read-only" in row
    assert "field-level security" in row


def test_leads_need_the_contact_fields_too(check: CheckRunner) -> None:
    result = check(matching={"order": ["crm_id", "email", "lead", "domain"]})
    assert result.exit_code == 1
    assert "Lead.Email" in result.output
    assert to_create(result) == [
        "Lead.NPS_Last_Score__c  Number(2, 0)",
        "Lead.NPS_Category__c  Picklist: promoter, passive, detractor",
        "Lead.NPS_Last_Comment__c  LongTextArea(1000)",
        "Lead.NPS_Last_Response_Date__c  Date",
    ]


@pytest.mark.parametrize(
    ("overrides", "item", "text"),
    [
        ({"fallback_owner_id": "005000000000001AAA"}, "fallback_owner_id", "not an active user"),
        (
            {"matching": {"account_aliases": {"old.example": "No Such Account Ltd"}}},
            "alias old.example",
            "names no account",
        ),
        ({"fields": {"account_tier": "Segment__c"}}, "Account.Segment__c", "does not exist"),
    ],
    ids=["fallback-owner", "alias", "renamed-field"],
)
def test_configured_names_that_point_nowhere_fail(
    check: CheckRunner, overrides: dict[str, Any], item: str, text: str
) -> None:
    result = check(**overrides)
    assert result.exit_code == 1
    assert any(item in line and text in line for line in rows(result, "error")), result.output


STRING80 = FieldInfo("Key__c", "string", length=80, createable=True, filterable=True)


@pytest.mark.parametrize(
    ("described", "problem"),
    [
        (STRING80, None),
        (None, "does not exist"),
        (FieldInfo("Key__c", "double", createable=True, filterable=True), "does not fit"),
        (FieldInfo("Key__c", "string", length=20, createable=True, filterable=True), "at least 40"),
        (FieldInfo("Key__c", "string", length=80, filterable=True), "cannot be set on create"),
        (FieldInfo("Key__c", "string", length=80, createable=True), "query filter"),
    ],
)
def test_what_a_task_marker_must_be(described: FieldInfo | None, problem: str | None) -> None:
    marker = Expected(
        "Task",
        "Key__c",
        frozenset({"create", "filter"}),
        frozenset({"string"}),
        "Text(80)",
        min_length=40,
    )
    found = expected_problem(marker, described)
    assert found is None if problem is None else (found is not None and problem in found)
