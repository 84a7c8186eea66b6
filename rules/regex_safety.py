"""Reject regular expressions that can take exponential time, before they ever run.

Python's ``re`` backtracks. A repeated group that itself contains a repetition or an alternation
(``(a+)+``, ``(\\w+\\s?)*``, ``(a|ab)*``) can try exponentially many ways to split a long comment
before failing, and a survey comment is attacker-controlled text. Such patterns are refused at load
time with a hint; every other pattern is run on at most :data:`REGEX_INPUT_LIMIT` characters so a
merely polynomial pattern stays fast.

The scanner walks a pattern that ``re.compile`` has already accepted, tracking groups, character
classes and escapes; it errs on the side of refusing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

REGEX_INPUT_LIMIT = 2000
_QUANTIFIER_BRACES = re.compile(r"\{(\d*)(?:(,)(\d*))?\}")


@dataclass(slots=True)
class _Group:
    start: int
    repeats: bool = False
    alternates: bool = False


def backtracking_risk(pattern: str) -> str | None:
    """Describe why ``pattern`` risks catastrophic backtracking, or return None if it does not."""
    stack = [_Group(0)]
    last_group: _Group | None = None
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i, last_group = i + 2, None
            continue
        if char == "[":
            i, last_group = _skip_class(pattern, i), None
            continue
        if char == "(":
            stack.append(_Group(i))
            i, last_group = _skip_group_prefix(pattern, i), None
            continue
        if char == ")" and len(stack) > 1:
            last_group = stack.pop()
            stack[-1].repeats |= last_group.repeats
            i += 1
            continue
        if char == "|":
            stack[-1].alternates = True
            i, last_group = i + 1, None
            continue
        repeat = _quantifier_at(pattern, i)
        if repeat is None:
            i, last_group = i + 1, None
            continue
        end, unbounded_or_many = repeat
        if unbounded_or_many:
            if last_group is not None and (last_group.repeats or last_group.alternates):
                snippet = pattern[last_group.start : end]
                inner = "a repetition" if last_group.repeats else "an alternation"
                return (
                    f"'{snippet}' repeats a group that contains {inner}, which can take "
                    "exponential time on a long comment; rewrite it without the nesting"
                )
            stack[-1].repeats = True
        i, last_group = end, None
    return None


def _skip_class(pattern: str, i: int) -> int:
    """Index just past the character class opening at ``i``."""
    i += 1
    if i < len(pattern) and pattern[i] == "^":
        i += 1
    if i < len(pattern) and pattern[i] == "]":
        i += 1
    while i < len(pattern) and pattern[i] != "]":
        i += 2 if pattern[i] == "\\" else 1
    return i + 1


def _skip_group_prefix(pattern: str, i: int) -> int:
    """Index of the first character inside the group opening at ``i`` (past ``(?:``, ``(?P<n>``)."""
    if not pattern.startswith("(?", i):
        return i + 1
    named = pattern.startswith("(?P<", i)
    if named or (pattern.startswith("(?<", i) and pattern[i + 3] not in "=!"):
        return pattern.index(">", i) + 1
    match = re.compile(r"\(\?(?:[aiLmsux-]*:|[=!:]|<[=!]|P=\w+\)|#[^)]*\)|[aiLmsux]+\))").match(
        pattern, i
    )
    return match.end() if match else i + 2


def _quantifier_at(pattern: str, i: int) -> tuple[int, bool] | None:
    """(end, repeats more than once) for a quantifier starting at ``i``, else None."""
    char = pattern[i]
    if char in "*+?":
        end, many = i + 1, char != "?"
    elif char == "{" and (braces := _QUANTIFIER_BRACES.match(pattern, i)):
        low, comma, high = braces.groups()
        if not low and not comma:
            return None
        end = braces.end()
        many = bool(comma and not high) or int(high or low or "0") > 1
    else:
        return None
    if end < len(pattern) and pattern[end] in "?+":
        end += 1
    return end, many
