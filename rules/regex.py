"""Rule regexes run on RE2, so matching takes time linear in the comment, whatever the pattern.

Python's ``re`` backtracks: ``(a+)+$``, ``.*.*x$`` or ``a*a*a*a*a*b`` can take seconds to minutes
on one long comment, and survey comments are written by anyone. RE2 (Google's automaton-based
engine) never backtracks. It has no backreferences and no lookaround; patterns that use them are
refused when the rules are loaded, with a hint, instead of running slowly later.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import re2

from rules.fields import MAX_COMMENT_LENGTH

#: Characters of a value a regex sees: a stored comment is never longer.
REGEX_INPUT_LIMIT = MAX_COMMENT_LENGTH
#: Memory RE2 may use to compile one pattern; a pattern that needs more is refused.
_MAX_MEMORY = 8 << 20

#: RE2's message for a feature it lacks, as a regex, and the feature's name.
_UNSUPPORTED = (
    (re.compile(r"invalid escape sequence: \\\d"), "a backreference"),
    (re.compile(r"invalid perl operator: \(\?[=!]"), "lookahead"),
    (re.compile(r"invalid perl operator: \(\?<[=!]"), "lookbehind"),
)


class RegexError(ValueError):
    """A pattern RE2 cannot compile; the message says why, in words an admin can act on."""


def compile_search(pattern: str, *, ignore_case: bool) -> Callable[[str], bool]:
    """A predicate: does ``pattern`` occur in the first ``REGEX_INPUT_LIMIT`` characters?"""
    options = re2.Options()
    options.case_sensitive = not ignore_case
    options.log_errors = False
    options.max_mem = _MAX_MEMORY
    try:
        search = re2.compile(pattern, options).search
    except re2.error as error:
        raise RegexError(_reason(error)) from None
    return lambda text: search(text[:REGEX_INPUT_LIMIT]) is not None


def check_pattern(pattern: str) -> None:
    """Raise :class:`RegexError` if ``pattern`` cannot be used in a rule."""
    compile_search(pattern, ignore_case=False)


def _reason(error: re2.error) -> str:
    raw = error.args[0] if error.args else b""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    for message, feature in _UNSUPPORTED:
        if message.match(text):
            return (
                f"{text}; {feature} is not supported: rules use a linear-time regex engine "
                "(RE2), rewrite the pattern without it"
            )
    if "pattern too large" in text:
        return f"{text}; the pattern compiles to more than {_MAX_MEMORY >> 20} MB, simplify it"
    return text
