"""Routing semantics an admin relies on: order, continue, catch-all, operators, missing data."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from rules import FieldsError, Ruleset, parse_rules
from rules.regex import REGEX_INPUT_LIMIT


def one_rule(condition: str, custom_fields: str = "") -> Ruleset:
    """A ruleset whose only rule, 'hit', has ``condition`` as its `when`."""
    return parse_rules(
        f"version: 1\n{custom_fields}actions: {{}}\n"
        f"rules:\n  - name: hit\n    when: {condition}\n    actions: []\n",
        "one.yaml",
    )


def matches(condition: str, fields: dict[str, object]) -> bool:
    return one_rule(condition).route(fields).rule_names == ("hit",)


OPERATOR_CASES = [
    # condition, fields, expected
    ("{score: 6}", {"score": 6}, True),
    ("{score: 6}", {"score": 7}, False),
    ("{score: [9, 10]}", {"score": 10}, True),
    ("{score: {lte: 6}}", {"score": 6}, True),
    ("{score: {lt: 6}}", {"score": 6}, False),
    ("{score: {gt: 8}}", {"score": 9}, True),
    ("{score: {gte: 9}}", {"score": 8}, False),
    ("{score: {ne: 5}}", {"score": 4}, True),
    ("{score: {between: [7, 8]}}", {"score": 7}, True),
    ("{score: {between: [7, 8]}}", {"score": 8}, True),
    ("{score: {between: [7, 8]}}", {"score": 9}, False),
    ("{score: {not_in: [0, 1]}}", {"score": 2}, True),
    ("{score: {gte: 0, lte: 6}}", {"score": 3}, True),
    ("{score: {gte: 0, lte: 6}}", {"score": 7}, False),
    ("{account.arr: {gte: 50000}}", {"account.arr": 50000.0}, True),
    ("{account.arr: {gte: 50000}}", {"account.arr": 49999.5}, False),
    # text comparisons ignore case ...
    ("{account.tier: Enterprise}", {"account.tier": "ENTERPRISE"}, True),
    ("{account.tier: [SMB, Startup]}", {"account.tier": "startup"}, True),
    ("{account.tier: {ne: Enterprise}}", {"account.tier": "enterprise"}, False),
    ("{comment: {contains: Refund}}", {"comment": "I want a REFUND now"}, True),
    ("{comment: {not_contains: refund}}", {"comment": "all good"}, True),
    ("{contact.email: {starts_with: Ceo@}}", {"contact.email": "ceo@acme.test"}, True),
    ("{comment: {regex: '^too (slow|expensive)'}}", {"comment": "Too Expensive!"}, True),
    ("{comment: {regex: '^too (slow|expensive)'}}", {"comment": "not too slow"}, False),
    # ... except identifiers
    ("{account.id: 001AbC}", {"account.id": "001abc"}, False),
    ("{account.id: 001AbC}", {"account.id": "001AbC"}, True),
    # booleans
    ("{matched.zendesk: true}", {"matched.zendesk": True}, True),
    ("{matched.zendesk: true}", {"matched.zendesk": False}, False),
    # present: text must be non-blank
    ("{comment: {present: true}}", {"comment": "  "}, False),
    ("{comment: {present: true}}", {"comment": "ok"}, True),
    ("{comment: {present: false}}", {}, True),
    # groups
    ("{any: [{score: 0}, {score: 10}]}", {"score": 10}, True),
    ("{any: [{score: 0}, {score: 10}]}", {"score": 5}, False),
    ("{all: [{score: {lte: 6}}, {account.tier: SMB}, {matched.salesforce: true}]}",
     {"score": 2, "account.tier": "smb", "matched.salesforce": True}, True),
    ("{all: [{score: {lte: 6}}, {account.tier: SMB}, {matched.salesforce: true}]}",
     {"score": 2, "account.tier": "smb", "matched.salesforce": False}, False),
    ("{not: {account.tier: Enterprise}}", {"account.tier": "SMB"}, True),
]  # fmt: skip


@pytest.mark.parametrize(("condition", "fields", "expected"), OPERATOR_CASES)
def test_operator_semantics(condition: str, fields: dict[str, object], expected: bool) -> None:
    assert matches(condition, fields) is expected


MISSING_VALUE_CASES = [
    "{account.tier: Enterprise}",
    "{account.tier: {ne: Enterprise}}",
    "{account.tier: {not_in: [SMB]}}",
    "{comment: {not_contains: refund}}",
    "{account.arr: {lt: 1000}}",
    "{previous_score: {lte: 6}}",
    "{matched.zendesk: false}",
    "{comment: {present: true}}",
]


@pytest.mark.parametrize("condition", MISSING_VALUE_CASES)
def test_a_missing_value_fails_every_test_but_present_false(condition: str) -> None:
    assert not matches(condition, {"account.tier": None})


def test_not_turns_a_missing_value_into_a_match() -> None:
    assert matches("{not: {account.tier: Enterprise}}", {})


def test_regex_only_reads_the_start_of_very_long_comments() -> None:
    assert matches("{comment: {regex: needle}}", {"comment": "x" * 100 + "needle"})
    assert not matches(
        "{comment: {regex: needle}}", {"comment": "x" * REGEX_INPUT_LIMIT + "needle"}
    )


ORDERED = parse_rules(
    """
version: 1
actions:
  a: {type: salesforce_task, subject: A, due_in: 1d}
  b: {type: salesforce_task, subject: B, due_in: 1d}
  c: {type: salesforce_task, subject: C, due_in: 1d}
rules:
  - name: enterprise
    when: {account.tier: Enterprise}
    actions: [a]
    continue: true
    cooldown: {key: account.id, period: 14d}
    settle: 15m
  - name: detractors
    when: {category: detractor}
    actions: [b, c]
    escalate: [{after: 4h, business_hours: true, action: a}]
  - name: also-detractors
    when: {score: {lte: 6}}
    actions: [c]
  - name: default
    actions: []
""",
    "ordered.yaml",
)


@pytest.mark.parametrize(
    ("fields", "rules"),
    [
        ({"category": "detractor", "account.tier": "Enterprise"}, ("enterprise", "detractors")),
        ({"category": "detractor", "score": 3}, ("detractors",)),
        ({"score": 3}, ("also-detractors",)),
        ({"account.tier": "Enterprise"}, ("enterprise", "default")),
        ({}, ("default",)),
    ],
)
def test_first_match_wins_unless_continue(fields: dict[str, object], rules: tuple[str]) -> None:
    assert ORDERED.route(fields).rule_names == rules


def test_decision_carries_actions_and_timing_of_matched_rules() -> None:
    decision = ORDERED.route({"category": "detractor", "account.tier": "Enterprise"})
    assert decision.ruleset_hash == ORDERED.hash
    assert decision.action_names == ("a", "b", "c")
    assert decision.planned == (("enterprise", "a"), ("detractors", "b"), ("detractors", "c"))
    enterprise, detractors = decision.matches
    assert enterprise.cooldown is not None
    assert (enterprise.cooldown.field, enterprise.cooldown.period) == ("account.id", timedelta(14))
    assert enterprise.settle == timedelta(minutes=15)
    assert enterprise.continues
    (step,) = detractors.escalations
    assert (step.after, step.business_hours, step.action) == (timedelta(hours=4), True, "a")


def test_no_rule_matching_is_an_empty_decision() -> None:
    decision = one_rule("{score: 10}").route({"score": 0})
    assert decision.matches == ()
    assert decision.action_names == ()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"score": "3"}, "field 'score' expects a whole number, got '3'"),
        ({"score": True}, "field 'score' expects a whole number, got True"),
        ({"account.tier": 3}, "field 'account.tier' expects text, got 3"),
    ],
)
def test_wrong_value_types_are_caller_bugs(fields: dict[str, object], message: str) -> None:
    with pytest.raises(FieldsError, match=message):
        ORDERED.route(fields)
    with pytest.raises(FieldsError):
        ORDERED.explain(fields)


def test_fields_the_rules_do_not_read_are_ignored() -> None:
    assert ORDERED.route({"score": 9, "labels.theme": 42, "unknown": object()}).rule_names == (
        "default",
    )


def test_custom_fields_are_typed_and_routable() -> None:
    ruleset = one_rule(
        "{account.custom.Health_Score__c: {lt: 40}}",
        "fields:\n  account.custom.Health_Score__c: number\n",
    )
    assert ruleset.route({"account.custom.Health_Score__c": 12.5}).rule_names == ("hit",)
    # Text (a survey property, an export's column) is read as the declared type, or missing.
    assert ruleset.route({"account.custom.Health_Score__c": " 12 "}).rule_names == ("hit",)
    assert ruleset.route({"account.custom.Health_Score__c": "twelve"}).rule_names == ()
    # A record's value of another kind (a checkbox, a list) is missing too, never an error that
    # would stop routing.
    for other in ([12], True):
        assert ruleset.route({"account.custom.Health_Score__c": other}).rule_names == ()


def test_explain_shows_every_condition_with_the_value_seen() -> None:
    traces = ORDERED.explain({"category": "detractor", "score": 3, "account.tier": "SMB"})
    assert [(t.rule, t.reached, t.matched, t.fired) for t in traces] == [
        ("enterprise", True, False, False),
        ("detractors", True, True, True),
        ("also-detractors", False, True, False),
        ("default", False, True, False),
    ]
    (tier,) = traces[0].conditions
    assert (tier.label, tier.field, tier.value, tier.matched) == (
        "account.tier eq 'Enterprise'",
        "account.tier",
        "SMB",
        False,
    )
    assert traces[3].conditions == ()


def test_explain_lists_nested_conditions_depth_first() -> None:
    ruleset = one_rule("{all: [{score: {gte: 0, lte: 6}}, {not: {account.tier: [SMB]}}]}")
    (trace,) = ruleset.explain({"score": 4, "account.tier": "smb"})
    assert [(c.depth, c.label, c.matched) for c in trace.conditions] == [
        (0, "all", False),
        (1, "score (all of)", True),
        (2, "score gte 0", True),
        (2, "score lte 6", True),
        (1, "not", False),
        (2, "account.tier in ['SMB']", True),
    ]


RANDOM_RULES = parse_rules(
    """
version: 1
actions: {}
rules:
  - name: r1
    when:
      any:
        - score: {lte: 3}
        - all: [{account.tier: Enterprise}, {not: {comment: {contains: ok}}}]
    actions: []
    continue: true
  - name: r2
    when: {all: [{category: [passive, detractor]}, {account.arr: {between: [1000, 90000]}}]}
    actions: []
  - name: r3
    when: {not: {any: [{comment: {present: true}}, {score: {gt: 8}}]}}
    actions: []
    continue: true
  - name: r4
    when: {score: {ne: 5}}
    actions: []
""",
    "random.yaml",
)


def test_explain_always_agrees_with_route() -> None:
    pick = random.Random(3)
    for _ in range(500):
        score = pick.choice([None, *range(11)])
        fields = {
            "score": score,
            "category": pick.choice([None, "promoter", "passive", "detractor"]),
            "account.tier": pick.choice([None, "Enterprise", "SMB"]),
            "account.arr": pick.choice([None, 500.0, 5000, 200000]),
            "comment": pick.choice([None, "", "ok thanks", "bad"]),
        }
        fired = tuple(t.rule for t in RANDOM_RULES.explain(fields) if t.fired)
        assert fired == RANDOM_RULES.route(fields).rule_names, fields


def test_routing_is_deterministic_and_leaves_the_input_alone() -> None:
    fields = {"category": "detractor", "score": 3, "account.tier": "Enterprise"}
    snapshot = dict(fields)
    first = ORDERED.route(fields)
    assert all(ORDERED.route(fields) == first for _ in range(10))
    assert fields == snapshot


def test_a_hundred_rules_route_to_the_right_one() -> None:
    rules = "".join(
        f"  - name: region-{i}\n    when: {{account.region: r{i}}}\n    actions: [task]\n"
        for i in range(100)
    )
    ruleset = parse_rules(
        "version: 1\nactions:\n  task: {type: salesforce_task, subject: x, due_in: 1d}\n"
        f"rules:\n{rules}",
        "hundred.yaml",
    )
    assert len(ruleset.rules) == 100
    for index in (0, 57, 99):
        assert ruleset.route({"account.region": f"R{index}"}).rule_names == (f"region-{index}",)
    assert ruleset.route({"account.region": "elsewhere"}).matches == ()


def test_the_ruleset_is_frozen() -> None:
    with pytest.raises(AttributeError):
        ORDERED.hash = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        ORDERED.actions["new"] = ORDERED.actions["a"]  # type: ignore[index]


def test_a_skip_is_expected_when_its_action_or_its_rule_says_so_or_it_is_a_cooldown() -> None:
    ruleset = parse_rules(
        """
version: 1
actions:
  ticket:
    type: zendesk_ticket
    subject: x
    body: y
    expect_skip: [no_requester]
  call: {type: salesforce_task, subject: Call, due_in: 1d}
rules:
  - name: unmatched
    when: {matched.salesforce: false}
    actions: [call, ticket]
    expect_skip: [no_owner]
    continue: true
  - name: everyone
    actions: [call, ticket]
""",
        "expect.yaml",
    )
    first, second = ruleset.route({"score": 3, "matched.salesforce": False}).matches
    assert ruleset.skip_expected(first, "ticket", "no_requester")
    assert ruleset.skip_expected(second, "ticket", "no_requester")  # the action's, in any rule
    assert ruleset.skip_expected(first, "call", "no_owner")
    assert not ruleset.skip_expected(second, "call", "no_owner")  # the rule's, in that rule only
    assert not ruleset.skip_expected(first, "ticket", "template_failed")
    assert ruleset.skip_expected(second, "call", "cooldown")
    # Steering the engine, not part of what is sent: the payload has no trace of it.
    assert "expect_skip" not in repr(ruleset.render_action("ticket", {"score": 3}))


def test_a_survey_property_is_found_whatever_the_case_of_its_name() -> None:
    ruleset = one_rule(
        "{response.custom.Plan: {eq: gold}}", "fields:\n  response.custom.Plan: string\n"
    )
    assert ruleset.route({"response.custom.plan": "gold"}).rule_names == ("hit",)
    assert ruleset.route({"response.custom.PLAN": "silver"}).rule_names == ()


@pytest.mark.parametrize(
    ("declared", "property_name", "hit"),
    [
        ("Salesforce_Contact_Id", "Salesforce Contact Id", True),
        ("plan_tier", "Plan-Tier", True),
        ("utm_source", "utm.source", True),
        ("Contact_Id", "  contact   id ", True),
        ("ContactId", "Contact Id", False),  # an underscore stands for the space, not nothing
    ],
)
def test_a_survey_property_with_spaces_is_declared_with_underscores(
    declared: str, property_name: str, hit: bool
) -> None:
    ruleset = one_rule(
        f"{{response.custom.{declared}: {{eq: X1}}}}",
        f"fields:\n  response.custom.{declared}: string\n",
    )
    fields = {f"response.custom.{property_name}": "X1"}
    assert ruleset.route(fields).rule_names == (("hit",) if hit else ())
