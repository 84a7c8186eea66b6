"""Rule regexes run in linear time, whatever the pattern, and refuse what RE2 cannot do."""

from __future__ import annotations

import time

import pytest

from rules import parse_rules
from rules.regex import REGEX_INPUT_LIMIT, RegexError, check_pattern, compile_search

# Patterns that make a backtracking engine take seconds to minutes on one long comment.
HOSTILE = [
    (r"(a+)+$", "a" * (REGEX_INPUT_LIMIT - 1) + "!"),
    (r".*.*x$", "y" * REGEX_INPUT_LIMIT),
    (r"a*a*a*a*a*b", "a" * REGEX_INPUT_LIMIT),
    (r"^(\w+\s?)*$", "word " * (REGEX_INPUT_LIMIT // 5 - 1) + "!"),
    (r"(a|ab)*c", "ab" * (REGEX_INPUT_LIMIT // 2)),
    (r"(.*,)*x", "," * REGEX_INPUT_LIMIT),
]


@pytest.mark.parametrize(("pattern", "text"), HOSTILE)
def test_hostile_patterns_run_in_bounded_time(pattern: str, text: str) -> None:
    found = compile_search(pattern, ignore_case=True)
    started = time.perf_counter()
    for _ in range(10):
        assert found(text) is False
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize(
    ("pattern", "text", "ignore_case", "expected"),
    [
        (r"refund|cancel", "I want a REFUND", True, True),
        (r"refund|cancel", "I want a REFUND", False, False),
        (r"\b(refund|invoice)\b", "refunded", True, False),
        (r"^too (slow|expensive)", "Too slow, sorry", True, True),
        (r"(?P<word>é+)", "ÉÉ", True, True),
        (r"x{2}", "x", False, False),
        (r"\d{3}-\d{4}", "call 555-1234", False, True),
    ],
)
def test_patterns_match_like_python_regexes(
    pattern: str, text: str, ignore_case: bool, expected: bool
) -> None:
    assert compile_search(pattern, ignore_case=ignore_case)(text) is expected


def test_only_the_first_characters_are_searched() -> None:
    found = compile_search("needle", ignore_case=False)
    assert found("x" * (REGEX_INPUT_LIMIT - 6) + "needle")
    assert not found("x" * REGEX_INPUT_LIMIT + "needle")


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        (r"(a)\1", "a backreference is not supported"),
        (r"foo(?=bar)", "lookahead is not supported"),
        (r"foo(?!bar)", "lookahead is not supported"),
        (r"(?<=a)b", "lookbehind is not supported"),
        (r"(unclosed", r"missing \)"),
        (r"x{1001}", "invalid repetition size"),
    ],
)
def test_unsupported_patterns_are_refused_with_a_reason(pattern: str, reason: str) -> None:
    with pytest.raises(RegexError, match=reason):
        check_pattern(pattern)


def test_a_rules_file_with_a_nested_repetition_loads_and_routes_fast() -> None:
    ruleset = parse_rules(
        """
version: 1
actions:
  tag: {type: update_fields, system: salesforce, object: Contact, values: {NPS_Flag__c: x}}
rules:
  - name: slow-pattern
    when: {comment: {regex: '(a+)+$'}}
    actions: [tag]
""",
        "rules.yaml",
    )
    started = time.perf_counter()
    decision = ruleset.route({"comment": "a" * 30_000 + "!", "score": 3})
    assert time.perf_counter() - started < 0.5
    assert decision.action_names == ()
    assert ruleset.route({"comment": "aaaa", "score": 3}).action_names == ("tag",)


def test_a_lookbehind_in_a_rules_file_is_reported_with_its_position() -> None:
    from rules import RulesError

    with pytest.raises(RulesError) as caught:
        parse_rules(
            """
version: 1
actions: {}
rules:
  - name: r
    when: {comment: {regex: '(?<=not )happy'}}
    actions: []
""",
            "rules.yaml",
        )
    text = str(caught.value)
    assert "rules.yaml:6:" in text
    assert "lookbehind is not supported" in text
