"""Read YAML into plain Python values while remembering where every key and value was written.

ruamel.yaml keeps line/column marks on the nodes it loads; we copy them into a :class:`SourceMap`
indexed by the data path (``("rules", 2, "when", "all", 0)``) so that any later check, however far
from the parser, can say ``file:line:col`` about the exact key or value it objects to.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.scalarbool import ScalarBoolean
from ruamel.yaml.scalarstring import FoldedScalarString, LiteralScalarString

from rules.errors import Diagnostic, RulesError

Path = tuple[str | int, ...]
Where = Literal["key", "value"]

#: Most values one document may expand to. Anchors and aliases let a few hundred bytes stand for
#: billions of values (the "billion laughs"); a real rules or config file has a few thousand.
MAX_NODES = 100_000
#: Largest YAML text accepted, in characters: far above any hand-written file.
MAX_TEXT = 2_000_000


class _TooLargeError(Exception):
    """The document expands past :data:`MAX_NODES`."""


@dataclass(frozen=True, slots=True)
class _Marks:
    key: tuple[int, int] | None
    value: tuple[int, int]
    block_scalar: bool


class SourceMap:
    """Positions (1-based) of the keys and values of one loaded YAML document."""

    def __init__(self, filename: str, text: str) -> None:
        self.filename = filename
        self._lines = text.splitlines()
        self._marks: dict[Path, _Marks] = {(): _Marks(None, (1, 1), block_scalar=False)}

    def add(
        self, path: Path, key: tuple[int, int] | None, value: tuple[int, int], block: bool
    ) -> None:
        """Record where the node at ``path`` was written (ruamel's 0-based marks)."""
        key_mark = (key[0] + 1, key[1] + 1) if key else None
        self._marks[path] = _Marks(key_mark, (value[0] + 1, value[1] + 1), block)

    def resolve(self, loc: Iterable[str | int]) -> tuple[Path, Where]:
        """Map a validation location to the deepest data path it names.

        Locations may contain steps that are not in the data (union tags, ``[key]`` for errors on
        a mapping key); those are skipped, except ``[key]``, which points at the key itself.
        """
        path: Path = ()
        where: Where = "value"
        for step in loc:
            if step == "[key]":
                where = "key"
            elif (*path, step) in self._marks:
                path = (*path, step)
        return path, where

    def position(
        self,
        path: Path,
        *,
        where: Where = "value",
        scalar_line: int | None = None,
        needle: str | None = None,
    ) -> tuple[int, int]:
        """Line and column of the node at ``path`` (or its nearest recorded ancestor).

        ``scalar_line`` counts lines inside a multi-line string value (for template errors);
        ``needle`` moves the column to the first occurrence of that text on the line.
        """
        while path not in self._marks:
            path, where = path[:-1], "value"
        marks = self._marks[path]
        line, col = marks.key if where == "key" and marks.key else marks.value
        if scalar_line is not None and (marks.block_scalar or scalar_line > 1):
            line += scalar_line if marks.block_scalar else scalar_line - 1
            col = self._indent(line)
        if needle:
            found = self._text(line).find(needle, col - 1)
            col = found + 1 if found >= 0 else col
        return line, col

    def diagnostic(self, path: Path, message: str, **where: Any) -> Diagnostic:
        """A :class:`Diagnostic` for ``message`` at ``path`` (see :meth:`position`)."""
        line, col = self.position(path, **where)
        return Diagnostic(self.filename, line, col, message)

    def _text(self, line: int) -> str:
        return self._lines[line - 1] if 0 < line <= len(self._lines) else ""

    def _indent(self, line: int) -> int:
        text = self._text(line)
        return len(text) - len(text.lstrip()) + 1


def load_yaml(text: str, filename: str) -> tuple[object, SourceMap]:
    """Parse ``text`` into plain dicts/lists/scalars and its :class:`SourceMap`.

    Raises :class:`RulesError` for YAML syntax errors, duplicate keys and non-text keys.
    """
    if len(text) > MAX_TEXT:
        message = f"the file is {len(text):,} characters long; the limit is {MAX_TEXT:,}"
        raise RulesError([Diagnostic(filename, 1, 1, message)])
    yaml = YAML(typ="rt")
    try:
        document = yaml.load(text)
    except MarkedYAMLError as error:
        raise RulesError([_syntax_diagnostic(error, filename)]) from None
    except YAMLError as error:
        raise RulesError([Diagnostic(filename, 1, 1, f"invalid YAML: {error}")]) from None
    except RecursionError:  # lists or mappings nested hundreds deep ([[[[...)
        message = "invalid YAML: lists or mappings are nested too deeply"
        raise RulesError([Diagnostic(filename, 1, 1, message)]) from None
    source = SourceMap(filename, text)
    problems: list[Diagnostic] = []
    try:
        data = _plain(document, (), source, problems, [MAX_NODES])
    except _TooLargeError:
        message = (
            f"the document expands to more than {MAX_NODES:,} values; "
            "aliases (*name) that repeat anchors (&name) are limited"
        )
        raise RulesError([Diagnostic(filename, 1, 1, message)]) from None
    if problems:
        raise RulesError(problems)
    return data, source


def _syntax_diagnostic(error: MarkedYAMLError, filename: str) -> Diagnostic:
    mark = error.problem_mark or error.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem = str(error.problem or error.context or "invalid YAML")
    if problem.startswith("found duplicate key"):
        key = problem.split('"')[1]
        first = error.context_mark.line + 1 if error.context_mark else 0
        message = f"duplicate key {key!r} (the mapping starts at line {first})"
    elif "'\\t'" in problem:
        message = "invalid YAML: a tab here; indent with spaces (YAML does not allow tabs)"
    else:
        message = f"invalid YAML: {problem}"
    return Diagnostic(filename, line, col, message)


def _plain(
    node: object, path: Path, source: SourceMap, problems: list[Diagnostic], budget: list[int]
) -> object:
    """Copy ``node`` into plain values, spending one unit of ``budget`` per value copied.

    Aliases are shared references in the loaded document; copying them is what expands them, so
    the budget bounds time and memory whatever the anchors say.
    """
    budget[0] -= 1
    if budget[0] < 0:
        raise _TooLargeError
    if isinstance(node, CommentedMap):
        result: dict[str, object] = {}
        for key, value in node.items():
            key_mark, value_mark = _map_marks(node, key)
            if not isinstance(key, str):
                line, col = key_mark or value_mark
                problems.append(
                    Diagnostic(
                        source.filename,
                        line + 1,
                        col + 1,
                        f"keys must be text; write {str(key)!r} in quotes",
                    )
                )
                continue
            child = (*path, key)
            block = isinstance(value, LiteralScalarString | FoldedScalarString)
            source.add(child, key_mark, value_mark, block)
            result[key] = _plain(value, child, source, problems, budget)
        return result
    if isinstance(node, CommentedSeq):
        items: list[object] = []
        for index, value in enumerate(node):
            child = (*path, index)
            block = isinstance(value, LiteralScalarString | FoldedScalarString)
            source.add(child, None, _seq_mark(node, index), block)
            items.append(_plain(value, child, source, problems, budget))
        return items
    return _scalar(node)


def _map_marks(node: CommentedMap, key: object) -> tuple[tuple[int, int] | None, tuple[int, int]]:
    try:
        return tuple(node.lc.key(key)), tuple(node.lc.value(key))
    except (KeyError, TypeError):  # merged (<<) keys carry no marks of their own
        return None, (node.lc.line, node.lc.col)


def _seq_mark(node: CommentedSeq, index: int) -> tuple[int, int]:
    try:
        return tuple(node.lc.item(index))
    except (KeyError, TypeError):
        return node.lc.line, node.lc.col


def _scalar(value: object) -> object:
    """ruamel's scalar subclasses (kept for round-tripping) as the plain built-in types."""
    if isinstance(value, ScalarBoolean | bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    return value
