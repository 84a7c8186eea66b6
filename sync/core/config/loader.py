"""Read a config file: YAML with positions, strict validation, paths made absolute.

Problems are reported like the rules loader reports them (and with its machinery): one
``file:line:col: message`` per problem, all of them in one pass, unknown keys with a "did you
mean", a misplaced secret or a tab with the fix. "All of them" includes the YAML's own problems
(every tab, every duplicate key) next to the invalid values, and the checks across sections
(two metrics written to one field...), which pydantic runs only once every section is valid: they
are run again on the file without its invalid values. A key misspelt is one problem (the unknown
key, with the key it probably meant), not two.
"""

from __future__ import annotations

import copy
import os
import types
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from rules.errors import Diagnostic, RulesError, closest, did_you_mean, one_of
from rules.issues import ISSUES_ERROR, Issue
from rules.loader import issue_diagnostics, reword
from rules.yaml_source import SourceMap, read_yaml
from sync.core.config.model import Config, FileSourceConfig, SourceConfig, StateConfig
from sync.core.errors import ConfigFileError
from sync.core.files import MAX_ADMIN_FILE, read_file_text

Loc = tuple[str | int, ...]


def load_config(path: Path) -> Config:
    """Read, validate and resolve relative paths of a config file."""
    try:
        text = read_file_text(path, MAX_ADMIN_FILE)
    except OSError as exc:
        raise ConfigFileError(f"{path}: cannot read config: {exc.strerror}") from exc
    except UnicodeDecodeError:
        raise ConfigFileError(f"{path}: cannot read config: not UTF-8 text") from None
    return parse_config(text, path)


def parse_config(text: str, path: Path) -> Config:
    """Validate a config given as YAML text; ``path`` names it and anchors relative paths."""
    filename = str(path)
    try:
        data, source, problems = read_yaml(text, filename)
    except RulesError as error:
        raise ConfigFileError(diagnostics=error.diagnostics) from None
    if not isinstance(data, dict):
        what = "empty" if data is None else "not a mapping of sections"
        message = f"the config file is {what}; it needs at least salesforce, zendesk and rules"
        raise ConfigFileError(diagnostics=[*problems, Diagnostic(filename, 1, 1, message)])
    try:
        config = Config.model_validate(data)
    except ValidationError as error:
        problems += config_diagnostics(error, source)
        problems += cross_section_despite(error, data, source)
        # ``from None``: pydantic's own text would repeat the input, which may hold a secret.
        raise ConfigFileError(diagnostics=problems) from None
    if problems:
        raise ConfigFileError(diagnostics=problems)
    resolved = _resolve_paths(config, path.parent)
    repeated = _repeated_files(resolved, source)
    if repeated:
        raise ConfigFileError(diagnostics=repeated)
    return resolved


def _repeated_files(config: Config, source: SourceMap) -> list[Diagnostic]:
    """A file source naming a file another one reads already (``exports/a.csv`` and
    ``./exports/a.csv``, or a link to it): each of its responses would be read, and acted on,
    under two source names."""
    first: dict[str, int] = {}
    found: list[Diagnostic] = []
    for index, spec in enumerate(config.sources):
        if not isinstance(spec, FileSourceConfig):
            continue
        key = os.path.realpath(spec.path)
        if key in first:
            message = (
                f"sources[{index}].path: the same file as sources[{first[key]}]; every response "
                "in it would be acted on twice: list the file once"
            )
            found.append(source.diagnostic(("sources", index, "path"), message))
        else:
            first[key] = index
    return found


def config_diagnostics(error: ValidationError, source: SourceMap) -> list[Diagnostic]:
    """One positioned diagnostic per problem pydantic found in a config file.

    A required key that is missing because it was misspelt is reported once, as the unknown key
    with a "did you mean" for it.
    """
    found: list[Diagnostic] = []
    details = error.errors(include_url=False)
    misspelt = _misspelt(details)
    for detail in details:
        loc = detail["loc"]
        if detail["type"] == "missing" and _walk(loc)[0] in misspelt:
            continue
        base, where = source.resolve(loc)
        steps, _ = _walk(loc)
        if detail["type"] == ISSUES_ERROR:
            issues = detail.get("ctx", {})["issues"]
            named = [
                replace(issue, message=f"{_dotted((*steps, *issue.path))}: {issue.message}")
                for issue in issues
            ]
            found.extend(issue_diagnostics(tuple(named), source, base))
        elif detail["type"] == "extra_forbidden":
            found.append(source.diagnostic(base, _unknown_key(loc), where="key"))
        elif detail["type"] == "union_tag_invalid":  # point at the type written
            found.append(source.diagnostic((*base, "type"), _message(detail, steps)))
        else:
            found.append(source.diagnostic(base, _message(detail, steps), where=where))
    return found


def _misspelt(details: list[ErrorDetails]) -> set[Loc]:
    """Data paths of the keys that unknown keys were probably meant to be."""
    meant: set[Loc] = set()
    for detail in details:
        if detail["type"] != "extra_forbidden":
            continue
        steps, model = _walk(detail["loc"][:-1])
        if model is not None:
            guess = closest(str(detail["loc"][-1]), model.model_fields)
            if guess:
                meant.add((*steps, guess))
    return meant


def cross_section_despite(
    error: ValidationError, data: dict[str, Any], source: SourceMap
) -> list[Diagnostic]:
    """The checks across sections, run on ``data`` without the values ``error`` rejected.

    Pydantic skips them while any section is invalid, which would leave them for a second pass.
    An invalid value is removed (its default takes its place) up to three rounds; a required key
    that would go, or a list item, ends the attempt. Issues about a removed value are left out.
    """
    pruned = copy.deepcopy(data)
    removed: list[Loc] = []
    details = error.errors(include_url=False)
    for _ in range(3):
        if all(d["loc"] == () for d in details):
            return []  # nothing below the top failed: the checks ran and are reported already
        for detail in details:
            steps, _ = _walk(detail["loc"])
            if detail["type"] == "missing" or not _drop(pruned, steps):
                return []
            removed.append(steps)
        try:
            Config.model_validate(pruned)
        except ValidationError as again:
            details = again.errors(include_url=False)
            if all(d["loc"] == () and d["type"] == ISSUES_ERROR for d in details):
                issues = [
                    replace(issue, message=f"{_dotted(issue.path)}: {issue.message}")
                    for d in details
                    for issue in d.get("ctx", {})["issues"]
                    if not _touches(issue, removed)
                ]
                return list(issue_diagnostics(tuple(issues), source))
            continue
        return []
    return []


def _drop(data: dict[str, Any], steps: Loc) -> bool:
    """Remove the value at ``steps`` from a mapping; False when it is not a mapping's key."""
    if not steps:
        return False
    parent: Any = data
    for step in steps[:-1]:
        try:
            parent = parent[step]
        except (KeyError, IndexError, TypeError):
            return False
    if not isinstance(parent, dict) or steps[-1] not in parent:
        return False
    del parent[steps[-1]]
    return True


def _touches(issue: Issue, removed: list[Loc]) -> bool:
    paths = [issue.path, *([issue.related] if issue.related is not None else [])]
    return any(p[: len(r)] == r or r[: len(p)] == p for p in paths for r in removed)


def _unknown_key(loc: Loc) -> str:
    steps, model = _walk(loc[:-1])
    key = str(loc[-1])
    section = _dotted(steps) or "the config file"
    allowed = list(model.model_fields) if model is not None else []
    return f"unknown key {key!r} in {section}{did_you_mean(key, allowed)}"


_LIMITS = {
    "greater_than_equal": ("ge", "at least"),
    "greater_than": ("gt", "more than"),
    "less_than_equal": ("le", "at most"),
    "less_than": ("lt", "less than"),
}


def _message(detail: ErrorDetails, steps: Loc) -> str:
    """Pydantic's message for one problem, reworded, after the dotted key it is about."""
    kind, ctx, loc = detail["type"], dict(detail.get("ctx") or {}), detail["loc"]
    name = _dotted(steps)
    if kind == "missing":
        parent = _dotted(steps[:-1])
        text = f"missing required key {steps[-1]!r}"
        return f"{parent}: {text}" if parent else text
    if kind in _LIMITS:
        bound, words = _LIMITS[kind]
        return f"{name}: must be {words} {_number(ctx[bound])}, got {detail.get('input')!r}"
    if kind == "too_short":
        return f"{name}: give at least {ctx.get('min_length')} item(s)"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        choices = [str(tag) for tag in (_tag(m) for m in _members(_annotation(loc))) if tag]
        expected = one_of(choices)
        if kind == "union_tag_not_found":
            return f"{name}: missing required key 'type' ({expected})"
        tag = str(ctx.get("tag", ""))
        return f"{name}.type: unknown type {tag!r}; expected {expected}{did_you_mean(tag, choices)}"
    _, text = reword(detail, ())
    return f"{name}: {text}" if name else text


def _number(value: object) -> object:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _dotted(steps: Loc) -> str:
    out = ""
    for step in steps:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out


def _walk(loc: Loc) -> tuple[Loc, type[BaseModel] | None]:
    """The data steps of a validation location (union tags dropped) and the model it ends in."""
    steps, annotation = _follow(loc)
    members = _members(annotation)
    return steps, members[0] if len(members) == 1 else None


def _annotation(loc: Loc) -> Any:
    """The type annotation a validation location ends in."""
    return _follow(loc)[1]


def _follow(loc: Loc) -> tuple[Loc, Any]:
    steps: list[str | int] = []
    current: Any = Config
    for step in loc:
        members = _members(current)
        tagged = [m for m in members if _tag(m) == step]
        if tagged:  # a discriminated union's tag: no step in the data
            current = tagged[0]
            continue
        current = members[0] if len(members) == 1 else _strip(current)
        steps.append(step)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(step))
            current = field.annotation if field is not None else None
        elif get_origin(current) in (list, tuple) and isinstance(step, int):
            current = get_args(current)[0]
        elif get_origin(current) is dict:
            current = get_args(current)[1]
        else:
            current = None
    return tuple(steps), current


def _strip(annotation: Any) -> Any:
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def _members(annotation: Any) -> list[type[BaseModel]]:
    """The models an annotation admits (``X | None`` -> ``[X]``, a union -> its members)."""
    annotation = _strip(annotation)
    if get_origin(annotation) in (Union, types.UnionType):
        candidates = [_strip(member) for member in get_args(annotation)]
    else:
        candidates = [annotation]
    return [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]


def _tag(model: type[BaseModel]) -> object:
    field = model.model_fields.get("type")
    if field is None:
        return None
    values = get_args(field.annotation)
    return values[0] if len(values) == 1 else None


def _resolve_paths(config: Config, base: Path) -> Config:
    def rel(p: Path) -> Path:
        return p if p.is_absolute() else (base / p)

    sources: list[SourceConfig] = [
        s.model_copy(update={"path": rel(s.path)}) if isinstance(s, FileSourceConfig) else s
        for s in config.sources
    ]
    state_url = config.state.url
    prefix = "sqlite:///"
    if state_url.startswith(prefix) and not state_url.startswith(prefix + "/"):
        relative = state_url[len(prefix) :]
        if relative and relative != ":memory:":
            state_url = prefix + str(rel(Path(relative)))
    text = config.text
    if text.taxonomy is not None:
        text = text.model_copy(update={"taxonomy": rel(text.taxonomy)})
    return config.model_copy(
        update={
            "text": text,
            "rules": rel(config.rules),
            "sources": sources,
            "state": StateConfig(url=state_url),
        }
    )
