"""``rules test`` cases: mismatches are reported, mistakes in the cases file are diagnosed."""

from __future__ import annotations

import pytest

from rules import RulesError, parse_cases, parse_rules, run_cases

RULESET = parse_rules(
    """
version: 1
actions:
  call: {type: salesforce_task, subject: Call, due_in: 1d}
  ticket: {type: zendesk_ticket, subject: T, body: B}
rules:
  - name: detractors
    when: {category: detractor}
    actions: [call, ticket]
  - name: default
    actions: []
""",
    "rules.yaml",
)


def test_cases_pass_and_fail_on_actions_and_rules() -> None:
    cases = parse_cases(
        """
- name: detractor
  fields: {score: 2}
  expect: [call, ticket]
- name: wrong order
  fields: {score: 2}
  expect: [ticket, call]
- name: promoter
  fields: {score: 10}
  expect_rules: [detractors]
""",
        "cases.yaml",
        RULESET,
    )
    results = run_cases(RULESET, cases)
    assert [r.passed for r in results] == [True, False, False]
    assert results[1].actions == ("call", "ticket")
    assert results[2].rules == ("default",)


def test_case_fields_are_completed_like_the_engine_does() -> None:
    (case,) = parse_cases(
        "- name: c\n  fields: {score: 8, comment: hi}\n  expect: []\n", "c.yaml", RULESET
    )
    assert case.fields["category"] == "passive"
    assert case.fields["comment_present"] is True


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "- name: c\n  fields: {scor: 2}\n  expect: []\n",
            "2:12: unknown field 'scor'; did you mean 'score'?",
        ),
        (
            "- name: c\n  fields: {score: '2'}\n  expect: []\n",
            "2:19: field 'score' is a whole number, not '2'",
        ),
        (
            "- name: c\n  fields: {score: 2}\n  expect: [cal]\n",
            "3:12: no action named 'cal' in the rules; did you mean 'call'?",
        ),
        (
            "- name: c\n  fields: {score: 2}\n  expect_rules: [detractor]\n",
            "3:18: no rule named 'detractor' in the rules; did you mean 'detractors'?",
        ),
        (
            "- name: c\n  fields: {score: 2}\n",
            "1:3: a case needs `expect` (actions) or `expect_rules`",
        ),
        (
            "- name: c\n  fields: {score: 2}\n  expects: []\n",
            "3:3: unknown key 'expects' in case; did you mean 'expect'?",
        ),
        (
            "- name: c\n  expect: []\n- name: c\n  expect: []\n",
            "3:9: duplicate case name 'c' (first used at line 1)",
        ),
        ("name: c\n", "1:1: a cases file is a non-empty list of cases (name, fields, expect)"),
    ],
)
def test_mistakes_in_cases_are_diagnosed(text: str, message: str) -> None:
    with pytest.raises(RulesError) as caught:
        parse_cases(text, "cases.yaml", RULESET)
    assert str(caught.value) == f"cases.yaml:{message}"
