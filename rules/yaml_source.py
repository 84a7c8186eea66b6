"""Read YAML into plain Python values while remembering where every key and value was written.

ruamel.yaml keeps line/column marks on the nodes it loads; we copy them into a :class:`SourceMap`
indexed by the data path (``("rules", 2, "when", "all", 0)``) so that any later check, however far
from the parser, can say ``file:line:col`` about the exact key or value it objects to.

Problems of the YAML itself that still leave a document to check are collected, not raised at
the first: every tab used for indentation (the text is read again with the tabs as spaces, and
positions are given in the original text), every duplicate key (the first value is kept) and every
key that is not text. :func:`read_yaml` returns them with the data, so a caller can report them
together with what validation finds; :func:`load_yaml` raises them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
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
#: Spaces a tab in an indentation is read as, tried in turn until the document parses.
TAB_WIDTHS = (2, 4, 8)
TAB_MESSAGE = "invalid YAML: a tab here; indent with spaces (YAML does not allow tabs)"


class _TooLargeError(Exception):
    """The document expands past :data:`MAX_NODES`."""


@dataclass(frozen=True, slots=True)
class _Marks:
    key: tuple[int, int] | None
    value: tuple[int, int]
    block_scalar: bool


class _Columns:
    """Turns columns in the text as parsed (tabs read as spaces) into columns of the file."""

    def __init__(self, shifts: dict[int, tuple[int, int]] | None = None) -> None:
        #: 0-based line -> (indentation width as parsed, columns the tabs added).
        self.shifts = shifts or {}

    def original(self, line: int, col: int) -> int:
        indent, extra = self.shifts.get(line, (0, 0))
        if not extra:
            return col
        return col - extra if col >= indent else min(col, indent - extra)


class SourceMap:
    """Positions (1-based) of the keys and values of one loaded YAML document."""

    def __init__(self, filename: str, text: str, columns: _Columns | None = None) -> None:
        self.filename = filename
        self._lines = text.splitlines()
        self._marks: dict[Path, _Marks] = {(): _Marks(None, (1, 1), block_scalar=False)}
        self._columns = columns or _Columns()

    def add(
        self, path: Path, key: tuple[int, int] | None, value: tuple[int, int], block: bool
    ) -> None:
        """Record where the node at ``path`` was written (ruamel's 0-based marks)."""
        key_mark = (key[0] + 1, self._columns.original(*key) + 1) if key else None
        value_mark = (value[0] + 1, self._columns.original(*value) + 1)
        self._marks[path] = _Marks(key_mark, value_mark, block)

    def mark(self, line: int, col: int) -> tuple[int, int]:
        """A 1-based position in the file from a 0-based mark of the text as parsed."""
        return line + 1, self._columns.original(line, col) + 1

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

    Raises :class:`RulesError` for YAML syntax errors, tabs, duplicate keys and non-text keys.
    """
    data, source, problems = read_yaml(text, filename)
    if problems:
        raise RulesError(problems)
    return data, source


def read_yaml(text: str, filename: str) -> tuple[object, SourceMap, list[Diagnostic]]:
    """Parse ``text`` like :func:`load_yaml`, but return the problems that still leave a
    document to check (tabs, duplicate keys, non-text keys) with it instead of raising them.

    A text that cannot be read as a document at all (a syntax error, too large, nested too
    deeply, or tabs that no width makes valid) raises :class:`RulesError`.
    """
    if len(text) > MAX_TEXT:
        message = f"the file is {len(text):,} characters long; the limit is {MAX_TEXT:,}"
        raise RulesError([Diagnostic(filename, 1, 1, message)])
    tabs = _indent_tabs(text)
    problems = [Diagnostic(filename, line + 1, col + 1, TAB_MESSAGE) for line, col in tabs]
    columns = _Columns()
    if tabs:
        document, duplicates, columns = _parse_with_tabs(text, filename, problems)
    else:
        try:
            document, duplicates = _parse(text)
        except MarkedYAMLError as error:
            raise RulesError([_syntax_diagnostic(error, filename)]) from None
        except YAMLError as error:
            raise RulesError([Diagnostic(filename, 1, 1, f"invalid YAML: {error}")]) from None
    source = SourceMap(filename, text, columns)
    for key, mapping in duplicates:
        line, col = source.mark(key.start_mark.line, key.start_mark.column)
        first = mapping.start_mark.line + 1
        message = f"duplicate key {key.value!r} (the mapping starts at line {first})"
        problems.append(Diagnostic(filename, line, col, message))
    try:
        data = _plain(document, (), source, problems, [MAX_NODES])
    except _TooLargeError:
        message = (
            f"the document expands to more than {MAX_NODES:,} values; "
            "aliases (*name) that repeat anchors (&name) are limited"
        )
        raise RulesError([Diagnostic(filename, 1, 1, message)]) from None
    return data, source, problems


Duplicate = tuple[ScalarNode, MappingNode]


#: Flow collections opened one inside another with nothing between: far past any real file,
#: and refused before the parser, whose time grows with the square of such nesting (20,000
#: brackets took 8 to 11 s of CPU before it gave up).
_FLOW_NESTING = re.compile(r"(?:[\[{][ \t\r\n]*){200}")


def _parse(text: str) -> tuple[object, list[Duplicate]]:
    """The loaded document and its duplicate keys (each with the mapping it repeats a key of)."""
    if _FLOW_NESTING.search(text):
        raise YAMLError("lists or mappings are nested too deeply")
    try:
        try:
            return YAML(typ="rt").load(text), []
        except DuplicateKeyError:
            lenient = YAML(typ="rt")
            lenient.allow_duplicate_keys = True  # the first value is kept
            return lenient.load(text), _duplicates(YAML(typ="rt").compose(text))
    except RecursionError:  # lists or mappings nested hundreds deep ([[[[...)
        raise YAMLError("lists or mappings are nested too deeply") from None


def _parse_with_tabs(
    text: str, filename: str, tabs: list[Diagnostic]
) -> tuple[object, list[Duplicate], _Columns]:
    """Read a text indented with tabs as if each were spaces (the first width that parses), so
    the problems after the tabs are found too; no width parses: the tabs are all we can say."""
    for width in TAB_WIDTHS:
        expanded, shifts = _expand_tabs(text, width)
        try:
            document, duplicates = _parse(expanded)
        except YAMLError:
            continue
        return document, duplicates, _Columns(shifts)
    raise RulesError(tabs)


def _indent_tabs(text: str) -> list[tuple[int, int]]:
    """(line, column), 0-based, of the first tab in each line's indentation."""
    found = []
    for number, line in enumerate(text.splitlines()):
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if "\t" in indent and line.strip():
            found.append((number, indent.index("\t")))
    return found


def _expand_tabs(text: str, width: int) -> tuple[str, dict[int, tuple[int, int]]]:
    """``text`` with each indentation tab as ``width`` spaces, and the columns that moved."""
    lines = text.splitlines(keepends=True)
    shifts: dict[int, tuple[int, int]] = {}
    for number, line in enumerate(lines):
        body = line.lstrip(" \t")
        indent = line[: len(line) - len(body)]
        if "\t" in indent and body.strip():
            spaces = indent.replace("\t", " " * width)
            shifts[number] = (len(spaces), len(spaces) - len(indent))
            lines[number] = spaces + body
    return "".join(lines), shifts


def _duplicates(root: Node | None) -> list[Duplicate]:
    """Every repeated key of every mapping under ``root``, in document order."""
    found: list[Duplicate] = []
    seen_nodes: set[int] = set()
    stack = [root] if root is not None else []
    while stack:
        node = stack.pop()
        if id(node) in seen_nodes:  # an alias: the anchored node was walked already
            continue
        seen_nodes.add(id(node))
        if isinstance(node, MappingNode):
            keys: set[tuple[object, object]] = set()
            for key, value in node.value:
                if isinstance(key, ScalarNode) and key.value != "<<":
                    if (key.tag, key.value) in keys:
                        found.append((key, node))
                    keys.add((key.tag, key.value))
                stack.extend((key, value))
        elif isinstance(node, SequenceNode):
            stack.extend(node.value)
    return sorted(found, key=lambda d: (d[0].start_mark.line, d[0].start_mark.column))


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
                line, col = source.mark(*(key_mark or value_mark))
                problems.append(
                    Diagnostic(
                        source.filename,
                        line,
                        col,
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
