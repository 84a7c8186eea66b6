"""Load a rules file: YAML with positions, strict validation, then compilation into a router.

Every problem becomes a :class:`~rules.errors.Diagnostic` (``file:line:col: message``); all the
problems of a stage are reported together, in file order. Stages: YAML syntax, then the models
(unknown keys, types, shapes), then whole-file checks (references, field types, templates).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from rules.errors import Diagnostic, RulesError, did_you_mean
from rules.issues import ISSUES_ERROR, Issue, shown
from rules.model import ACTION_TYPES, RulesFile
from rules.router import Ruleset, compile_ruleset
from rules.yaml_source import MAX_TEXT, SourceMap, load_yaml

ModelT = TypeVar("ModelT", bound=BaseModel)


#: Checks of a valid rules file against what the caller knows (the engine's configuration):
#: issues with paths from the top of the file, reported like the loader's own.
RulesCheck = Callable[[RulesFile], Iterable[Issue]]


def load_rules(path: str | os.PathLike[str], *, check: RulesCheck | None = None) -> Ruleset:
    """Read, validate and compile the rules file at ``path``; raise :class:`RulesError`."""
    text = read_text(path)
    return parse_rules(text, os.fspath(path), check=check)


def parse_rules(
    text: str, filename: str = "<rules>", *, check: RulesCheck | None = None
) -> Ruleset:
    """Validate and compile rules given as YAML text; ``filename`` is used in diagnostics.

    ``check``, when given, runs on the valid model; its issues fail the load like any other.
    """
    data, source = load_yaml(text, filename)
    if data is None:
        message = "the file is empty; a rules file needs `version`, `actions` and `rules`"
        raise RulesError([Diagnostic(filename, 1, 1, message)])
    model = validate_document(RulesFile, data, source)
    if check is not None:
        issues = tuple(check(model))
        if issues:
            raise RulesError(issue_diagnostics(issues, source))
    return compile_ruleset(model, source=filename, digest=canonical_hash(data))


def locate(path: str | os.PathLike[str], issues: Iterable[Issue]) -> list[Diagnostic]:
    """Diagnostics for issues found outside the loader (a check against live systems), placed
    at their paths in the rules file at ``path``; raises :class:`RulesError` if it cannot be
    read."""
    name = os.fspath(path)
    _, source = load_yaml(read_text(path), name)
    return sorted(issue_diagnostics(tuple(issues), source))


def read_text(path: str | os.PathLike[str]) -> str:
    """The UTF-8 text of ``path``; unreadable files are a :class:`RulesError` too.

    Only a regular file is read, and only if it can be a rules file by size: a pipe (opened
    without waiting for a writer) or a device is refused, where reading one hung the command or
    took gigabytes."""
    name = os.fspath(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise RulesError([Diagnostic(name, 0, 0, "cannot read file: not a regular file")])
            limit = 4 * MAX_TEXT  # bytes: UTF-8 takes up to four a character
            if info.st_size > limit:
                message = f"the file is larger than {limit:,} bytes; the limit is {MAX_TEXT:,}"
                raise RulesError([Diagnostic(name, 0, 0, f"{message} characters")])
            with os.fdopen(fd, "rb", closefd=False) as handle:
                return handle.read(limit + 1).decode("utf-8")
        finally:
            os.close(fd)
    except OSError as error:
        reason = error.strerror or str(error)
        if isinstance(error, FileNotFoundError):
            reason += " (check the path; a config's rules path is read from its folder)"
        raise RulesError([Diagnostic(name, 0, 0, f"cannot read file: {reason}")]) from None
    except UnicodeDecodeError:
        raise RulesError([Diagnostic(name, 0, 0, "not UTF-8 text")]) from None


def canonical_hash(data: object) -> str:
    """sha256 of the file's content in canonical form (sorted keys, no comments or layout).

    Cosmetic edits keep the hash; any change that can alter a decision changes it.
    """
    canonical = json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def validate_document(model: type[ModelT], data: object, source: SourceMap) -> ModelT:
    """``model.model_validate(data)``, with failures turned into positioned diagnostics."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise RulesError(diagnostics(error, source)) from None


def diagnostics(error: ValidationError, source: SourceMap) -> list[Diagnostic]:
    """One diagnostic per problem in ``error``, positioned through ``source``."""
    found: list[Diagnostic] = []
    for detail in error.errors(include_url=False):
        base, where = source.resolve(detail["loc"])
        if detail["type"] == ISSUES_ERROR:
            found.extend(issue_diagnostics(detail.get("ctx", {})["issues"], source, base))
        else:
            path, message = reword(detail, base)
            found.append(source.diagnostic(path, message, where=where))
    return _merge_alternatives(found)


_EXPECTED = re.compile(r"^expected (?P<wanted>.+), got (?P<got>.+)$")


def _merge_alternatives(found: list[Diagnostic]) -> list[Diagnostic]:
    """One diagnostic per place for values that fit none of a union's types.

    Pydantic reports each member of ``str | int | bool`` separately; admins need one line:
    ``expected text, a number or true or false, got a list``.
    """
    merged: dict[tuple[int, int, str], list[str]] = {}
    others: list[Diagnostic] = []
    for diagnostic in found:
        match = _EXPECTED.match(diagnostic.message)
        if match is None:
            others.append(diagnostic)
            continue
        wanted = merged.setdefault((diagnostic.line, diagnostic.col, match["got"]), [])
        if match["wanted"] not in wanted:
            wanted.append(match["wanted"])
    file = found[0].file if found else ""
    for (line, col, got), wanted in merged.items():
        alternatives = (
            ", ".join(wanted[:-1]) + " or " + wanted[-1] if len(wanted) > 1 else wanted[0]
        )
        others.append(Diagnostic(file, line, col, f"expected {alternatives}, got {got}"))
    return others


def issue_diagnostics(
    issues: tuple[Issue, ...], source: SourceMap, base: tuple[str | int, ...] = ()
) -> Iterator[Diagnostic]:
    """Diagnostics for :class:`Issue` objects whose paths are relative to ``base``."""
    for issue in issues:
        message = issue.message
        if issue.related is not None:
            line, _ = source.position((*base, *issue.related))
            message = message.replace("{related_line}", str(line))
        yield source.diagnostic(
            (*base, *issue.path),
            message,
            where=issue.where,
            scalar_line=issue.scalar_line,
            needle=issue.needle,
        )


def reword(detail: ErrorDetails, path: tuple[str | int, ...]) -> tuple[tuple[str | int, ...], str]:
    """Pydantic's generic messages, reworded for someone editing YAML (also used for config)."""
    kind, loc, value = detail["type"], detail["loc"], detail.get("input")
    ctx: dict[str, Any] = dict(detail.get("ctx") or {})
    got = shown(value)
    if kind == "missing":
        return path, f"missing required key {loc[-1]!r}"
    if kind == "value_error":
        return path, str(ctx.get("error", detail["msg"]))
    if kind == "literal_error":
        expected = ctx.get("expected", "")
        if loc == ("version",):
            return path, f"unsupported version {got}; this nps-sync reads version 1"
        choices = re.findall(r"'([^']*)'", expected)
        hint = did_you_mean(value, choices) if isinstance(value, str) else ""
        return path, f"expected {expected}, got {got}{hint}"
    if kind == "union_tag_invalid":
        tag = str(ctx.get("tag", ""))
        message = (
            f"unknown action type {tag!r}; expected {_types()}{did_you_mean(tag, ACTION_TYPES)}"
        )
        return (*path, "type"), message
    if kind == "union_tag_not_found":
        return path, f"missing required key 'type' ({_types()})"
    if kind in ("string_type", "str_type"):
        return path, f"expected text, got {got}"
    if kind == "bool_type":
        return path, f"expected true or false, got {got}"
    if kind in ("int_type", "int_from_float", "float_type", "int_parsing", "float_parsing"):
        return path, f"expected a number, got {got}"
    if kind in ("list_type", "tuple_type"):
        return path, f"expected a list, got {got}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return path, f"expected a mapping, got {got}"
    return path, str(detail["msg"])


def _types() -> str:
    return ", ".join(ACTION_TYPES[:-1]) + " or " + ACTION_TYPES[-1]
