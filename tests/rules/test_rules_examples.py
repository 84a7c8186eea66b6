"""The shipped examples load, pass their cases, and point editors at an up-to-date schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emulators.world import DEFAULT_RULES
from rules import (
    BUILTIN_FIELDS,
    EXAMPLES_DIR,
    TaskPayload,
    TicketPayload,
    derive_fields,
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
    detractor = ruleset.route(derive_fields({"score": 3}))
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


def _default_texts(**fields: object) -> dict[str, str]:
    """Every text the default rules render for one response, by action and part."""
    ruleset = load_rules(EXAMPLES_DIR / "default.yaml")
    values = derive_fields({"person_email": "pat@acme.example", **fields})
    texts: dict[str, str] = {}
    for name in ruleset.route(values).action_names:
        payload = ruleset.render_action(name, values)
        if isinstance(payload, TaskPayload):
            texts[f"{name}.subject"], texts[f"{name}.description"] = (
                payload.subject,
                payload.description,
            )
        elif isinstance(payload, TicketPayload):
            texts[f"{name}.subject"], texts[f"{name}.body"] = payload.subject, payload.body
    return texts


@pytest.mark.parametrize(
    "fields",
    [
        {"score": 3},
        {"score": 3, "comment": "   "},
        {"score": 3, "contact.name": "Pat Lee", "account.name": "Acme"},
        {"score": 3, "contact.name": "Pat Lee", "contact.title": "", "account.name": "Acme"},
        {"score": 3, "contact.name": "Pat Lee", "contact.title": "CTO"},
        {"score": 8, "comment": "Slow reports"},
        {"score": 10, "comment": "Great", "contact.name": "Pat Lee"},
    ],
    ids=[
        "nothing known",
        "blank comment",
        "no title",
        "empty title",
        "no account",
        "passive",
        "promoter",
    ],
)
def test_default_templates_leave_out_what_is_missing(fields: dict[str, object]) -> None:
    for where, text in _default_texts(**fields).items():
        assert "Comment:" not in text, where
        for gap in ("(,", ", )", "()", "  "):
            assert gap not in text, where
        assert not text.startswith(" "), where
        assert "\n\n\n" not in text, where


def test_default_templates_name_what_is_known() -> None:
    texts = _default_texts(
        score=3,
        comment="Support never answers",
        **{"contact.name": "Pat Lee", "contact.title": "CTO", "account.name": "Acme"},
    )
    assert texts["detractor_followup.subject"] == "NPS detractor (3): call Pat Lee"
    assert texts["detractor_followup.description"] == (
        "Pat Lee (CTO, Acme) answered 3.\n"
        "Comment: Support never answers\n"
        "Call within one business day, listen, and log what you agree on."
    )
    assert texts["detractor_ticket.subject"] == "NPS detractor (3): Acme"
    assert texts["detractor_ticket.body"] == (
        "Pat Lee (Acme) answered 3 to our NPS survey.\n\nSupport never answers\n"
    )
    unknown = _default_texts(score=3)
    assert unknown["detractor_followup.description"] == (
        "pat@acme.example answered 3.\n"
        "Call within one business day, listen, and log what you agree on."
    )


def test_default_ticket_priority_follows_the_tier() -> None:
    ruleset = load_rules(EXAMPLES_DIR / "default.yaml")
    priorities = {}
    for tier in ("Enterprise", "Mid-Market", "SMB", None):
        decision = ruleset.route(derive_fields({"score": 2, "account.tier": tier}))
        (ticket,) = [
            n for n in decision.action_names if ruleset.actions[n].type == "zendesk_ticket"
        ]
        payload = ruleset.render_action(ticket, derive_fields({"score": 2}))
        assert isinstance(payload, TicketPayload)
        assert payload.attach_to_open
        priorities[tier] = payload.priority
    assert priorities == {
        "Enterprise": "urgent",
        "Mid-Market": "high",
        "SMB": "normal",
        None: "normal",
    }
