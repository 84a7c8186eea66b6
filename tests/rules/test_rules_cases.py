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
            "- name: c\n  earlier: [{ago: 1d, fields: {scroe: 2}}]\n  expect: []\n",
            "2:32: unknown field 'scroe'; did you mean 'score'?",
        ),
        (
            "- name: c\n  earlier: [{ago: 2, fields: {score: 2}}]\n  expect: []\n",
            "2:19: expected a duration like 30m, 4h, 2d or 1w, got 2 (write '2m', '2h' or '2d')",
        ),
        (
            "- name: c\n  fields: {score: 2}\n  expect_rules: [detractor]\n",
            "3:18: no rule named 'detractor' in the rules; did you mean 'detractors'?",
        ),
        (
            "- name: c\n  fields: {score: 2}\n",
            "1:3: a case needs `expect` (actions), `expect_rules` or `expect_settle`",
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


THROTTLED = parse_rules(
    """
version: 1
actions:
  call: {type: salesforce_task, subject: Call, due_in: 1d}
  ticket: {type: zendesk_ticket, subject: T, body: B}
rules:
  - name: calls
    when: {category: detractor}
    actions: [call]
    continue: true
    cooldown: {key: account.id, period: 7d}
    settle: 15m
  - name: tickets
    when: {category: detractor}
    actions: [ticket]
  - name: default
    actions: []
""",
    "throttled.yaml",
)


def test_earlier_responses_claim_cooldowns_as_live_routing_does() -> None:
    cases = parse_cases(
        """
- name: held back by an answer three days before
  earlier: [{ago: 3d, fields: {score: 1, account.id: A}}]
  fields: {score: 2, account.id: A}
  expect: [ticket]
  expect_rules: [calls, tickets]
- name: a week apart is outside the cooldown
  earlier: [{ago: 7d, fields: {score: 1, account.id: A}}]
  fields: {score: 2, account.id: A}
  expect: [call, ticket]
- name: the latest earlier answer that acted holds the cooldown
  earlier:
    - {ago: 2d, fields: {score: 1, account.id: A}}
    - {ago: 10d, fields: {score: 1, account.id: A}}
  fields: {score: 2, account.id: A}
  expect: [ticket]
- name: another account is not held back
  earlier: [{ago: 1d, fields: {score: 1, account.id: B}}]
  fields: {score: 2, account.id: A}
  expect: [call, ticket]
- name: no key value, no cooldown
  earlier: [{ago: 1d, fields: {score: 1}}]
  fields: {score: 2}
  expect: [call, ticket]
""",
        "cases.yaml",
        THROTTLED,
    )
    results = run_cases(THROTTLED, cases)
    assert [(r.case.name, r.actions) for r in results if not r.passed] == []


def test_expect_settle_compares_the_longest_settle_of_the_matched_rules() -> None:
    cases = parse_cases(
        """
- name: detractors settle
  fields: {score: 2}
  expect_settle: 15m
- name: passives do not
  fields: {score: 8}
  expect_settle: 0m
- name: wrong
  fields: {score: 2}
  expect_settle: 5m
""",
        "cases.yaml",
        THROTTLED,
    )
    results = run_cases(THROTTLED, cases)
    assert [r.passed for r in results] == [True, True, False]
    assert results[2].settle.total_seconds() == 15 * 60
