"""Every error the text analytics raise, grouped by what the caller should do about it.

- :class:`TaxonomyError`: the taxonomy file is wrong; nothing is scored with it until a person
  fixes the file. Carries one :class:`Problem` per mistake, rendered ``file:line:col: message``.
- :class:`ModelUnavailableError`: the embedding model was asked for but its optional extra is not
  installed; install ``nps-sync[text-model]`` or choose the lexicon.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, order=True)
class Problem:
    """One mistake at one place in a file; lines and columns count from 1."""

    file: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.message}"


class TextError(Exception):
    """Root of every error raised by :mod:`insights.text`."""


class TaxonomyError(TextError):
    """A taxonomy file cannot be used; lists every problem found, in file order."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.diagnostics: tuple[Problem, ...] = tuple(sorted(set(problems)))
        super().__init__("\n".join(str(p) for p in self.diagnostics))


class ModelUnavailableError(TextError):
    """The sentence-embedding model is not installed (the ``text-model`` extra)."""
