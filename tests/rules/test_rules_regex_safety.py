"""Regexes that could backtrack exponentially are refused before they ever see a comment."""

from __future__ import annotations

import pytest

from rules.regex_safety import backtracking_risk

UNSAFE = [
    r"(a+)+",
    r"(a*)*b",
    r"(\w+\s?)*$",
    r"(a|ab)*c",
    r"(?:x+y?)+",
    r"((ab)*)+",
    r"(a{2,})+",
    r"(?P<word>a+)+",
    r"((a+))+",
    r"(.*,)*x",
    r"(refund|cancel){2,}",
]
SAFE = [
    r"refund|cancel",
    r"\(a+\)+",
    r"[(a+)]+",
    r"(ab)+",
    r"\b(refund|invoice)\b",
    r"a+b+",
    r"(?i)too (slow|expensive)",
    r"x{2}",
    r"(abc){3}",
    r"x{",
    r"(?:foo)+",
    r"(?=a+)b",
    r"[^)]+\)",
]


@pytest.mark.parametrize("pattern", UNSAFE)
def test_nested_repetition_is_refused(pattern: str) -> None:
    assert backtracking_risk(pattern) is not None


@pytest.mark.parametrize("pattern", SAFE)
def test_ordinary_patterns_pass(pattern: str) -> None:
    assert backtracking_risk(pattern) is None


def test_the_reason_quotes_the_offending_group() -> None:
    reason = backtracking_risk(r"^start (\d+ ?)+ end")
    assert reason is not None
    assert reason.startswith(r"'(\d+ ?)+' repeats a group that contains a repetition")
