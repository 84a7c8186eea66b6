"""Read a config file: YAML with positions, strict validation, paths made absolute.

Problems are reported like the rules loader reports them (and with its machinery): one
``file:line:col: message`` per problem, all of them in one pass, unknown keys with a "did you
mean", a misplaced secret or a tab with the fix.
"""

from __future__ import annotations

import types
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from rules.errors import Diagnostic, RulesError, did_you_mean, one_of
from rules.issues import ISSUES_ERROR
from rules.loader import issue_diagnostics, reword
from rules.yaml_source import SourceMap, load_yaml
from sync.core.config.model import Config, DelightedSourceConfig, FileSourceConfig, StateConfig
from sync.core.errors import ConfigFileError

Loc = tuple[str | int, ...]


def load_config(path: Path) -> Config:
    """Read, validate and resolve relative paths of a config file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigFileError(f"{path}: cannot read config: {exc.strerror}") from exc
    except UnicodeDecodeError:
        raise ConfigFileError(f"{path}: cannot read config: not UTF-8 text") from None
    return parse_config(text, path)


def parse_config(text: str, path: Path) -> Config:
    """Validate a config given as YAML text; ``path`` names it and anchors relative paths."""
    filename = str(path)
    try:
        data, source = load_yaml(text, filename)
    except RulesError as error:
        raise ConfigFileError(diagnostics=error.diagnostics) from None
    if not isinstance(data, dict):
        what = "empty" if data is None else "not a mapping of sections"
        message = f"the config file is {what}; it needs at least salesforce, zendesk and rules"
        raise ConfigFileError(diagnostics=[Diagnostic(filename, 1, 1, message)])
    try:
        config = Config.model_validate(data)
    except ValidationError as error:
        # ``from None``: pydantic's own text would repeat the input, which may hold a secret.
        raise ConfigFileError(diagnostics=config_diagnostics(error, source)) from None
    return _resolve_paths(config, path.parent)


def config_diagnostics(error: ValidationError, source: SourceMap) -> list[Diagnostic]:
    """One positioned diagnostic per problem pydantic found in a config file."""
    found: list[Diagnostic] = []
    for detail in error.errors(include_url=False):
        loc = detail["loc"]
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

    sources: list[DelightedSourceConfig | FileSourceConfig] = [
        s.model_copy(update={"path": rel(s.path)}) if isinstance(s, FileSourceConfig) else s
        for s in config.sources
    ]
    state_url = config.state.url
    prefix = "sqlite:///"
    if state_url.startswith(prefix) and not state_url.startswith(prefix + "/"):
        relative = state_url[len(prefix) :]
        if relative and relative != ":memory:":
            state_url = prefix + str(rel(Path(relative)))
    return config.model_copy(
        update={
            "rules": rel(config.rules),
            "sources": sources,
            "state": StateConfig(url=state_url),
        }
    )
