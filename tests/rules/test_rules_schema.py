"""The published JSON Schema, read by a standard validator as an editor would read it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from ruamel.yaml import YAML

from rules import EXAMPLES_DIR, rules_json_schema

VALIDATOR = Draft202012Validator(rules_json_schema())
EXAMPLES = sorted(p for p in EXAMPLES_DIR.glob("*.yaml") if not p.name.endswith(".cases.yaml"))


def document(path: Path) -> Any:
    return json.loads(json.dumps(YAML(typ="safe").load(path.read_text("utf-8")), default=str))


def test_the_schema_is_valid_json_schema() -> None:
    Draft202012Validator.check_schema(rules_json_schema())


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_rules_file_validates(path: Path) -> None:
    assert [error.message for error in VALIDATOR.iter_errors(document(path))] == []


TASK = {"type": "salesforce_task", "subject": "Call", "due_in": "1d", "owner": "account_owner"}


@pytest.mark.parametrize(
    ("action", "where", "message"),
    [
        ({**TASK, "due_in": "2 days"}, ["due_in"], "'2 days' does not match '^[0-9]+[smhdw]$'"),
        ({**TASK, "priority": "Urgent"}, ["priority"], "'Urgent' is not one of"),
        ({**TASK, "subjct": "Call"}, [], "Additional properties are not allowed ('subjct'"),
        ({**TASK, "type": "salesforce_tsk"}, ["type"], "'salesforce_tsk' is not one of"),
        ({"subject": "Call"}, [], "'type' is a required property"),
    ],
)
def test_an_editor_is_pointed_at_the_real_mistake(
    action: dict[str, Any], where: list[str], message: str
) -> None:
    rules_file = {"version": 1, "actions": {"call": action}, "rules": []}
    error = best_match(VALIDATOR.iter_errors(rules_file))
    assert error is not None
    assert list(error.absolute_path) == ["actions", "call", *where]
    assert error.message.startswith(message)
