"""The customer's own list of themes, read from YAML and checked with ``file:line:col`` errors.

The file is what an admin edits::

    themes:
      - name: onboarding
        description: Getting started, setup and the first weeks with the product
        examples: [setup was confusing, nobody helped us get started]

Positions come from ruamel.yaml's line/column marks (the same approach as the rules loader), so
each mistake is reported where it was written, all of them at once.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from insights.text.errors import Problem, TaxonomyError

THEME_KEYS = ("name", "description", "examples")
#: Longest theme name: it becomes a ticket tag and a routing value.
MAX_NAME = 60
#: Example phrases per theme; more belong in a labelled training file.
MAX_EXAMPLES = 20


@dataclass(frozen=True, slots=True)
class Theme:
    """One theme: its name (used in routing and tags), what it means, and a few example phrases."""

    name: str
    description: str
    examples: tuple[str, ...] = ()

    @property
    def text(self) -> tuple[str, ...]:
        """Everything that describes the theme, for matching comments against it."""
        return (self.description, *self.examples)


@dataclass(frozen=True, slots=True)
class Taxonomy:
    """The themes, in file order."""

    themes: tuple[Theme, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(theme.name for theme in self.themes)


#: Longest taxonomy text read: hundreds of themes with their examples fit in a fraction of it.
MAX_TEXT = 1_000_000


def parse_taxonomy(text: str, filename: str) -> Taxonomy:
    """Read and check a taxonomy; raises :class:`TaxonomyError` listing every problem."""
    if len(text) > MAX_TEXT:
        message = f"the file has {len(text):,} characters; a taxonomy has at most {MAX_TEXT:,}"
        raise TaxonomyError([Problem(filename, 1, 1, message)])
    try:
        document = YAML(typ="rt").load(text)
    except RecursionError:
        message = "invalid YAML: nested too deeply (a taxonomy is themes with a few keys each)"
        raise TaxonomyError([Problem(filename, 1, 1, message)]) from None
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = error.problem or error.context or "invalid YAML"
        raise TaxonomyError([Problem(filename, line, col, f"invalid YAML: {problem}")]) from None
    except YAMLError as error:
        raise TaxonomyError([Problem(filename, 1, 1, f"invalid YAML: {error}")]) from None
    checker = _Checker(filename)
    themes = checker.document(document)
    if checker.problems:
        raise TaxonomyError(checker.problems)
    return Taxonomy(themes)


class _Checker:
    """Walks the loaded document, collecting every problem with its position."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.problems: list[Problem] = []

    def problem(self, at: tuple[int, int], message: str) -> None:
        self.problems.append(Problem(self.filename, at[0] + 1, at[1] + 1, message))

    def document(self, document: Any) -> tuple[Theme, ...]:
        if not isinstance(document, CommentedMap):
            self.problem((0, 0), "a taxonomy is a mapping with one key, 'themes'")
            return ()
        for key in document:
            if key != "themes":
                self.problem(_key(document, key), f"unknown key {key!r}{_hint(key, ['themes'])}")
        entries = document.get("themes")
        if not isinstance(entries, CommentedSeq) or not entries:
            at = _value(document, "themes") if "themes" in document else (0, 0)
            self.problem(at, "'themes' must be a non-empty list of themes")
            return ()
        themes: list[Theme] = []
        seen: dict[str, int] = {}
        for index, entry in enumerate(entries):
            at = _item(entries, index)
            theme = self.theme(entry, at)
            if theme is None:
                continue
            folded = theme.name.casefold()
            if folded in seen:
                message = f"theme {theme.name!r} is already defined (theme {seen[folded] + 1})"
                self.problem(_value(entry, "name"), message)
                continue
            seen[folded] = index
            themes.append(theme)
        return tuple(themes)

    def theme(self, entry: Any, at: tuple[int, int]) -> Theme | None:
        if not isinstance(entry, CommentedMap):
            self.problem(at, "a theme is a mapping with 'name', 'description' and 'examples'")
            return None
        ok = True
        for key in entry:
            if key not in THEME_KEYS:
                self.problem(_key(entry, key), f"unknown key {key!r}{_hint(key, THEME_KEYS)}")
                ok = False
        name = self.text(entry, "name", at, limit=MAX_NAME)
        description = self.text(entry, "description", at)
        examples = self.examples(entry)
        if not ok or name is None or description is None or examples is None:
            return None
        return Theme(name, description, examples)

    def text(
        self, entry: CommentedMap, key: str, at: tuple[int, int], *, limit: int = 0
    ) -> str | None:
        if key not in entry:
            self.problem(at, f"the theme has no {key!r}")
            return None
        value = entry[key]
        if not isinstance(value, str) or not value.strip():
            self.problem(_value(entry, key), f"{key!r} must be non-empty text")
            return None
        if limit and len(value.strip()) > limit:
            self.problem(_value(entry, key), f"{key!r} is longer than {limit} characters")
            return None
        return " ".join(value.split())

    def examples(self, entry: CommentedMap) -> tuple[str, ...] | None:
        value = entry.get("examples", [])
        if value is None:
            return ()
        if not isinstance(value, CommentedSeq | list):
            self.problem(_value(entry, "examples"), "'examples' must be a list of short phrases")
            return None
        if len(value) > MAX_EXAMPLES:
            message = f"at most {MAX_EXAMPLES} examples; put more in a labelled training file"
            self.problem(_value(entry, "examples"), message)
            return None
        found: list[str] = []
        wrong = False
        for index, example in enumerate(value):
            if not isinstance(example, str) or not example.strip():
                at = _item(value, index) if isinstance(value, CommentedSeq) else (0, 0)
                self.problem(at, "each example must be non-empty text")
                wrong = True  # every such example is named, not only the first
            else:
                found.append(" ".join(example.split()))
        return None if wrong else tuple(found)


def _key(mapping: CommentedMap, key: Any) -> tuple[int, int]:
    try:
        line, col = mapping.lc.key(key)
    except (KeyError, TypeError):
        return mapping.lc.line, mapping.lc.col
    return line, col


def _value(mapping: Any, key: Any) -> tuple[int, int]:
    try:
        line, col = mapping.lc.value(key)
    except (KeyError, TypeError, AttributeError):
        return _key(mapping, key) if isinstance(mapping, CommentedMap) else (0, 0)
    return line, col


def _item(sequence: CommentedSeq, index: int) -> tuple[int, int]:
    try:
        line, col = sequence.lc.item(index)
    except (KeyError, TypeError):
        return sequence.lc.line, sequence.lc.col
    return line, col


def _hint(word: object, choices: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""
