"""Every error the rules package raises, grouped by what the caller should do about it.

- :class:`RulesError`: the rules file (or a cases file) is wrong. Nothing should be routed with it;
  a human fixes the file. Carries one :class:`Diagnostic` per problem, rendered
  ``file:line:col: message`` like a compiler.
- :class:`FieldsError`: the field mapping handed to the router has a value of the wrong type. That
  is a bug in the code that built the mapping, never in the rules file.
- :class:`RenderError`: a template failed on this one response's data. Skip (and report) this
  response's action; other responses are unaffected.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, order=True)
class Diagnostic:
    """One problem at one place in a file; lines and columns count from 1 (0: the whole file)."""

    file: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        if self.line <= 0:  # about the whole file (cannot be read, ...)
            return f"{self.file}: {self.message}"
        return f"{self.file}:{self.line}:{self.col}: {self.message}"


class RulesBaseError(Exception):
    """Root of every error raised by the rules package."""


class RulesError(RulesBaseError):
    """A rules or cases file cannot be used; lists every problem found, in file order."""

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics: tuple[Diagnostic, ...] = tuple(sorted(set(diagnostics)))
        super().__init__("\n".join(str(d) for d in self.diagnostics))


class FieldsError(RulesBaseError, ValueError):
    """A field value given to the router has the wrong type (a caller bug)."""

    def __init__(self, field: str, expected: str, value: object) -> None:
        self.field = field
        self.expected = expected
        self.value = value
        super().__init__(f"field {field!r} expects {expected}, got {value!r}")


class RenderError(RulesBaseError):
    """A template could not be rendered with one response's data."""

    def __init__(self, message: str, *, template: str) -> None:
        self.template = template
        super().__init__(message)


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate ``word`` was probably meant to be, or None when none is close."""
    pool = sorted(set(candidates))
    close = difflib.get_close_matches(word, pool, n=1, cutoff=0.6)
    if close:
        return close[0]
    lowered = {c.casefold(): c for c in pool}
    return lowered.get(word.casefold())


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """Return ``"; did you mean 'x'?"`` for the closest candidate, or ``""`` when none is close."""
    found = closest(word, candidates)
    return f"; did you mean {found!r}?" if found else ""


def one_of(choices: Sequence[str]) -> str:
    """``a, b or c`` for messages listing the allowed values."""
    quoted = [repr(c) for c in choices]
    if len(quoted) == 1:
        return quoted[0]
    return ", ".join(quoted[:-1]) + " or " + quoted[-1]
