"""List fields (``themes``, ``emerging``): member tests that ignore case, and load-time checks."""

from __future__ import annotations

import pytest

from rules import RulesError, derive_fields, parse_rules
from rules.cases import parse_cases, run_cases
from rules.fields import BUILTIN_FIELDS, parse_field_value

RULES = """version: 1
actions:
  a: {type: notify, channel: slack, webhook_env: HOOK, text: "{{ response.themes | join(', ') }}"}
rules:
  - name: hit
    when: WHEN
    actions: [a]
  - name: rest
    actions: []
"""


@pytest.mark.parametrize(
    ("when", "themes", "hit"),
    [
        ("{themes: {contains: onboarding}}", ["pricing", "Onboarding"], True),
        ("{themes: {contains: onboarding}}", ["re-onboarding"], False),  # members, not substrings
        ("{themes: {contains: onboarding}}", None, False),
        ("{themes: {not_contains: pricing}}", ["onboarding"], True),
        ("{themes: {not_contains: pricing}}", ["PRICING"], False),
        ("{themes: {present: true}}", [], False),
        ("{themes: {present: false}}", [], True),
        ("{emerging: {contains: outage}}", ["outage"], True),
    ],
)
def test_list_conditions(when: str, themes: list[str] | None, hit: bool) -> None:
    ruleset = parse_rules(RULES.replace("WHEN", when))
    field = "emerging" if "emerging" in when else "themes"
    decision = ruleset.route(derive_fields({"score": 3, field: themes}))
    assert (decision.action_names == ("a",)) is hit


@pytest.mark.parametrize(
    ("when", "message"),
    [
        ("{themes: onboarding}", "field 'themes' is a list; test a member with {themes: {contains"),
        ("{themes: {contains: 3}}", "field 'themes' is a list of text; write the value in quotes"),
        ("{sentiment: {lt: -2}}", "field 'sentiment' is between -1 and 1; -2 is out of range"),
        ("{sentiment: {lt: -1}}", "field 'sentiment' is between -1 and 1; lt -1 never matches"),
        ("{account.nps: {gt: 100}}", "is between -100 and 100; gt 100 never matches"),
        ("{score: {gt: 10}}", "field 'score' is between 0 and 10; gt 10 never matches"),
        ("{comment_length: {lt: 0}}", "field 'comment_length' is at least 0; lt 0 never matches"),
        ("{score: {gt: .nan}}", "nan is not a number to compare with"),
        ("{comment_length: {lt: .inf}}", "inf is not a number to compare with"),
    ],
)
def test_list_and_sentiment_mistakes_are_load_errors(when: str, message: str) -> None:
    with pytest.raises(RulesError, match=message):
        parse_rules(RULES.replace("WHEN", when))


def test_a_sentiment_threshold_routes_on_the_number() -> None:
    ruleset = parse_rules(RULES.replace("WHEN", "{sentiment: {lt: -0.5}}"))
    assert ruleset.route(derive_fields({"score": 3, "sentiment": -0.8})).action_names == ("a",)
    assert ruleset.route(derive_fields({"score": 3, "sentiment": -0.2})).action_names == ()


def test_a_command_line_list_is_comma_separated() -> None:
    assert parse_field_value(BUILTIN_FIELDS["themes"], "onboarding, pricing") == [
        "onboarding",
        "pricing",
    ]


def test_the_retired_sentiment_label_says_what_to_route_on_instead() -> None:
    with pytest.raises(RulesError, match=r"'labels\.sentiment': route on 'sentiment'"):
        parse_rules(RULES.replace("WHEN", "{labels.sentiment: negative}"))


CASES = """
- name: onboarding complaint
  fields: {score: 3, themes: [pricing, onboarding]}
  expect: [a]
- name: no such theme
  fields: {score: 3, themes: [pricing]}
  expect: []
"""


def test_rules_test_cases_give_list_fields_as_yaml_lists() -> None:
    ruleset = parse_rules(RULES.replace("WHEN", "{themes: {contains: onboarding}}"))
    results = run_cases(ruleset, parse_cases(CASES, "cases.yaml", ruleset))
    assert [r.passed for r in results] == [True, True]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ("{score: 3, themes: pricing}", "2:30: field 'themes' is a list of text, not 'pricing'"),
        ("{score: 3, themes: [1, 2]}", "2:30: field 'themes' is a list of text, not [1, 2]"),
        ("{score: [3]}", "2:19: field 'score' is a whole number, not [3]"),
    ],
)
def test_a_case_value_of_the_wrong_shape_is_named(fields: str, message: str) -> None:
    ruleset = parse_rules(RULES.replace("WHEN", "{themes: {contains: onboarding}}"))
    text = f"- name: wrong\n  fields: {fields}\n  expect: []\n"
    with pytest.raises(RulesError) as raised:
        parse_cases(text, "cases.yaml", ruleset)
    assert f"cases.yaml:{message}" in str(raised.value)
