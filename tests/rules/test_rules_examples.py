"""The shipped examples load, pass their cases, and point editors at an up-to-date schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emulators.world import DEFAULT_RULES
from rules import (
    BUILTIN_FIELDS,
    EXAMPLES_DIR,
    load_cases,
    load_rules,
    rules_json_schema,
    run_cases,
)

EXAMPLES = sorted(p for p in EXAMPLES_DIR.glob("*.yaml") if not p.name.endswith(".cases.yaml"))


def test_three_examples_ship_and_the_demo_runs_the_default() -> None:
    assert [p.name for p in EXAMPLES] == ["closed-loop.yaml", "default.yaml", "themes.yaml"]
    assert DEFAULT_RULES.resolve() == (EXAMPLES_DIR / "default.yaml").resolve()


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_cases_reach_every_rule(path: Path) -> None:
    """Passing cases prove little if they never reach a rule: each rule is matched by one."""
    ruleset = load_rules(path)
    cases = load_cases(path.with_suffix(".cases.yaml"), ruleset)
    reached = {rule for result in run_cases(ruleset, cases) for rule in result.rules}
    assert set(ruleset.rule_names) - reached == set()


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_passes_its_cases(path: Path) -> None:
    ruleset = load_rules(path)
    cases = load_cases(path.with_suffix(".cases.yaml"), ruleset)
    failures = [r.case.name for r in run_cases(ruleset, cases) if not r.passed]
    assert failures == []


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_declares_the_schema_for_editors(path: Path) -> None:
    first_line = path.read_text(encoding="utf-8").splitlines()[0]
    assert first_line == "# yaml-language-server: $schema=./rules.schema.json"


def test_every_example_action_is_used_by_a_rule() -> None:
    for path in EXAMPLES:
        ruleset = load_rules(path)
        used = {a for r in ruleset.rules for a in r.match.actions}
        used |= {e.action for r in ruleset.rules for e in r.match.escalations}
        assert used == set(ruleset.actions), path.name


def test_shipped_schema_is_current() -> None:
    """Regenerate with: nps-sync rules schema > rules/examples/rules.schema.json"""
    shipped = json.loads((EXAMPLES_DIR / "rules.schema.json").read_text(encoding="utf-8"))
    assert shipped == rules_json_schema()


def test_default_rules_match_the_demo_contract() -> None:
    ruleset = load_rules(EXAMPLES_DIR / "default.yaml")
    detractor = ruleset.route({"score": 3, "category": "detractor"})
    assert detractor.action_names == ("detractor_followup", "detractor_ticket")
    task = ruleset.actions["detractor_followup"]
    ticket = ruleset.actions["detractor_ticket"]
    assert task.type == "salesforce_task"
    assert ticket.type == "zendesk_ticket"
    assert ruleset.rule_names[-1] == "default"


def test_the_rules_reference_lists_every_builtin_field() -> None:
    readme = (EXAMPLES_DIR.parent / "README.md").read_text(encoding="utf-8")
    listed = {line.split("`")[1] for line in readme.splitlines() if line.startswith("| `")}
    assert set(BUILTIN_FIELDS) <= listed
