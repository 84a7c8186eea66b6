"""Conditions: how they are written, normalized, and checked against the field catalogue.

Written forms: ``{all: [...]}``, ``{any: [...]}``, ``{not: condition}``, ``{field: value}`` (a
list means ``in``) and ``{field: {operator: operand, ...}}``. A before-validator turns the field
forms into :class:`FieldCondition` and checks operand shapes (including regex safety); whether a
field exists and its operators and values fit its type is checked by :func:`check_condition`
once the whole file, with its custom fields, is known.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Discriminator, Field, Tag, WithJsonSchema

from rules.errors import did_you_mean, one_of
from rules.fields import FieldSpec, FieldType, unknown_field
from rules.issues import Issue, Path, StrictModel, invalid, shown
from rules.operators import OPERATORS, OperandShape, operators_for
from rules.regex import RegexError, check_pattern


class FieldTest(StrictModel):
    """``field op operand``; ``shorthand`` when written as ``field: value`` or ``field: [list]``."""

    noun = "condition"
    op: str
    operand: str | int | float | bool | tuple[str | int | float | bool, ...]
    shorthand: bool = False


class FieldCondition(StrictModel):
    """One field and the operator tests it must all pass."""

    noun = "condition"
    field: str
    tests: tuple[FieldTest, ...]


class AllCondition(StrictModel):
    """Every condition holds."""

    noun = "condition"
    all: tuple[Condition, ...]


class AnyCondition(StrictModel):
    """At least one condition holds."""

    noun = "condition"
    any: tuple[Condition, ...]


class NotCondition(StrictModel):
    """The condition does not hold."""

    noun = "condition"
    negated: Condition = Field(alias="not")


_GROUP_TAGS = {"all": "all-of", "any": "any-of", "not": "not", "field": "field-test"}


_MODEL_TAGS: tuple[tuple[type[StrictModel], str], ...] = (
    (AllCondition, "all-of"),
    (AnyCondition, "any-of"),
    (NotCondition, "not"),
    (FieldCondition, "field-test"),
)


def _condition_tag(value: Any) -> str | None:
    if isinstance(value, dict):
        return next((tag for key, tag in _GROUP_TAGS.items() if key in value), None)
    for model, tag in _MODEL_TAGS:
        if isinstance(value, model):
            return tag
    return None


def _normalize_condition(raw: Any) -> Any:
    """Turn ``{field: spec}`` into ``{field, tests}``; check the shape of every condition."""
    if isinstance(raw, BaseModel):
        return raw
    if isinstance(raw, list):
        raise invalid(
            [Issue((), "a condition is a mapping, not a list; put several under `all:` or `any:`")]
        )
    if not isinstance(raw, dict):
        raise invalid([Issue((), f"expected a condition such as `score: {{lte: 6}}`, got {raw!r}")])
    if len(raw) != 1:
        keys = list(raw)
        if not keys:
            raise invalid([Issue((), "empty condition; write one such as `score: {lte: 6}`")])
        found = ", ".join(map(repr, keys))
        message = (
            f"a condition has exactly one key, found {found}; "
            "list them under `all:` (every one must hold) or `any:` (one is enough)"
        )
        raise invalid([Issue((keys[1],), message, "key")])
    ((key, value),) = raw.items()
    if key in ("all", "any"):
        if not isinstance(value, list) or not value:
            raise invalid([Issue((key,), f"`{key}:` takes a non-empty list of conditions")])
        return raw
    if key == "not":
        return raw
    return {"field": key, "tests": _parse_tests(key, value)}


def _parse_tests(name: str, spec: Any) -> list[dict[str, Any]]:
    if spec is None:
        message = (
            f"no value to compare {name!r} with; "
            f"write `{name}: {{present: false}}` to test that it is missing"
        )
        raise invalid([Issue((name,), message)])
    if _looks_like_group(name, spec):
        message = (
            f"{name!r} is followed by conditions, which only `all:`, `any:` and `not:` take"
            f"{did_you_mean(name, _GROUP_KEYS)}"
        )
        raise invalid([Issue((name,), message, "key")])
    if isinstance(spec, list):
        return [{"op": "in", "operand": _operand("in", spec, (name,)), "shorthand": True}]
    if not isinstance(spec, dict):
        return [{"op": "eq", "operand": _operand("eq", spec, (name,)), "shorthand": True}]
    if not spec:
        raise invalid([Issue((name,), f"`{name}:` needs an operator, such as {{eq: ...}}")])
    issues = [
        Issue((name, op), f"unknown operator {op!r}{did_you_mean(op, OPERATORS)}", "key")
        for op in spec
        if op not in OPERATORS
    ]
    if issues:
        raise invalid(issues)
    return [
        {"op": op, "operand": _operand(op, operand, (name, op))} for op, operand in spec.items()
    ]


_GROUP_KEYS = ("all", "any", "not")


def _looks_like_group(name: str, spec: Any) -> bool:
    """Conditions where operators or values were expected (``alll: [...]``, ``nott: {...}``)."""
    if isinstance(spec, list):
        return any(isinstance(item, dict) for item in spec)
    if not (isinstance(spec, dict) and len(spec) == 1):
        return False
    (key,) = spec
    near_operator = key in OPERATORS or did_you_mean(key, OPERATORS)
    return not near_operator and bool(did_you_mean(name, _GROUP_KEYS))


def _operand(op: str, value: Any, path: Path) -> Any:
    """Check that ``value`` has the shape operator ``op`` takes; return it as stored."""
    shape = OPERATORS[op].operand
    problem = _operand_problem(shape, value)
    if problem:
        raise invalid([Issue(path, f"{op!r} takes {shape.value}; {problem}")])
    if shape is OperandShape.PATTERN:
        _check_regex(value, path)
    return tuple(value) if isinstance(value, list) else value


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _operand_problem(shape: OperandShape, value: Any) -> str | None:
    if value is None:
        return "got nothing (null)"
    if shape is OperandShape.SCALAR and not _is_scalar(value):
        return f"got {shown(value)}"
    if shape is OperandShape.LIST:
        if not isinstance(value, list) or not value:
            return f"got {shown(value)}"
        if not all(_is_scalar(item) for item in value):
            return "list items must be single values"
    if shape is OperandShape.RANGE:
        if not (isinstance(value, list) and len(value) == 2 and all(map(_is_number, value))):
            return f"got {shown(value)}"
        if value[0] > value[1]:
            return f"low {value[0]} is above high {value[1]}"
    if shape is OperandShape.PATTERN and not isinstance(value, str):
        return f"got {shown(value)}"
    if shape is OperandShape.FLAG and not isinstance(value, bool):
        return f"got {shown(value)}"
    return None


def _check_regex(pattern: str, path: Path) -> None:
    try:
        check_pattern(pattern)
    except RegexError as error:
        raise invalid([Issue(path, f"invalid regex '{pattern}': {error}")]) from None


ConditionNode = AllCondition | AnyCondition | NotCondition | FieldCondition

# A YAML condition mapping, normalized then dispatched on its single key. Its JSON Schema is
# written by hand in rules.schema (the normalized shape is not what admins write).
Condition = Annotated[
    Annotated[
        Annotated[AllCondition, Tag("all-of")]
        | Annotated[AnyCondition, Tag("any-of")]
        | Annotated[NotCondition, Tag("not")]
        | Annotated[FieldCondition, Tag("field-test")],
        Discriminator(_condition_tag),
    ],
    BeforeValidator(_normalize_condition),
    WithJsonSchema({"x-rules-condition": True}),
]

for _model in (AllCondition, AnyCondition, NotCondition):
    _model.model_rebuild()


def check_condition(
    condition: ConditionNode,
    path: Path,
    catalogue: Mapping[str, FieldSpec],
) -> Iterator[Issue]:
    """Problems with the fields, operators and values of ``condition`` (written at ``path``)."""
    if isinstance(condition, AllCondition | AnyCondition):
        key = "all" if isinstance(condition, AllCondition) else "any"
        children = condition.all if isinstance(condition, AllCondition) else condition.any
        for index, child in enumerate(children):
            yield from check_condition(child, (*path, key, index), catalogue)
    elif isinstance(condition, NotCondition):
        yield from check_condition(condition.negated, (*path, "not"), catalogue)
    else:
        spec = catalogue.get(condition.field)
        here = (*path, condition.field)
        if spec is None:
            known = [*catalogue, "all", "any", "not"]
            yield Issue(here, unknown_field(condition.field, known), "key")
            return
        for test in condition.tests:
            yield from _check_test(spec, test, here if test.shorthand else (*here, test.op))


def _check_test(spec: FieldSpec, test: FieldTest, path: Path) -> Iterator[Issue]:
    if spec.type not in OPERATORS[test.op].types:
        allowed = ", ".join(operators_for(spec.type))
        if test.shorthand and spec.type is FieldType.LIST:
            message = (
                f"field {spec.name!r} is a list; test a member with "
                f"{{{spec.name}: {{contains: ...}}}}"
            )
            yield Issue(path, message)
        elif test.shorthand:
            message = (
                f"a list means `in`, which does not apply to {spec.type.value} field {spec.name!r}"
            )
            yield Issue(path, message)
        else:
            message = (
                f"operator {test.op!r} does not apply to {spec.type.value} field {spec.name!r}; "
                f"use one of: {allowed}"
            )
            yield Issue(path, message, "key")
        return
    if test.op in ("present", "regex"):
        return
    operands = test.operand if isinstance(test.operand, tuple) else (test.operand,)
    for operand in operands:
        problem = _value_problem(spec, test.op, operand)
        if problem:
            yield Issue(path, problem)
            return


def _value_problem(spec: FieldSpec, op: str, value: str | int | float | bool) -> str | None:
    if spec.type is FieldType.LIST:
        if not isinstance(value, str):
            return f"field {spec.name!r} is a list of text; write the value in quotes"
        return None
    if spec.type is FieldType.STRING:
        if not isinstance(value, str):
            return f"field {spec.name!r} is text; write the value in quotes: '{_yaml_text(value)}'"
        if (
            spec.choices
            and op in ("eq", "ne", "in", "not_in")
            and value.casefold() not in spec.choices
        ):
            return (
                f"{value!r} is not a valid {spec.name}; expected {one_of(spec.choices)}"
                f"{did_you_mean(value.casefold(), spec.choices)}"
            )
        return None
    if spec.type is FieldType.BOOLEAN:
        return (
            None
            if isinstance(value, bool)
            else f"field {spec.name!r} is true or false, not {value!r}"
        )
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"field {spec.name!r} is {spec.type.noun}, not {value!r}"
    if not math.isfinite(value):  # .nan compares false with everything, .inf passes no field
        return f"field {spec.name!r} is {spec.type.noun}; {value!r} is not a number to compare with"
    low, high = spec.minimum, spec.maximum
    bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
    if (low is not None and value < low) or (high is not None and value > high):
        return f"field {spec.name!r} is {bounds}; {value!r} is out of range"
    if (op == "gt" and value == high) or (op == "lt" and value == low):
        # In range, yet nothing can be beyond the end of it: the rule would never match.
        return f"field {spec.name!r} is {bounds}; {op} {value!r} never matches"
    return None


def _yaml_text(value: object) -> str:
    return "true" if value is True else "false" if value is False else str(value)
