"""Condition operators: which field types each applies to, what operand it takes, and how it
compiles into a predicate over the field mapping.

Semantics every admin can rely on:

- A missing value (``None``) fails every operator except ``present: false``; use
  ``present: false`` or ``not:`` to catch missing data on purpose.
- Text comparisons (``eq ne in not_in contains not_contains starts_with regex``) ignore case, except
  on identifier fields (``*.id``, ``*.owner_id``), whose case is significant.
- ``regex`` searches anywhere in the text (anchor with ``^``/``$``), on at most the first
  :data:`~rules.regex.REGEX_INPUT_LIMIT` characters, in linear time (RE2).
- ``between: [low, high]`` includes both ends.
- ``present: true`` means the value is there and, for text, not blank; for a list, not empty.
- On a list field (``themes``, ``emerging``), ``contains``/``not_contains`` test whether one of
  its members equals the value, ignoring case.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from rules.fields import FieldSpec, FieldType
from rules.regex import compile_search

# Values are typed Any: the router has checked them against the catalogue before any predicate
# runs, and the hot path cannot afford a cast per comparison.
Fields = Mapping[str, Any]
Predicate = Callable[[Fields], bool]
Scalar = str | int | float | bool
Operand = Scalar | tuple[Scalar, ...]


class OperandShape(StrEnum):
    """The shape of the value an operator takes."""

    SCALAR = "a single value"
    LIST = "a list of values"
    RANGE = "a list [low, high]"
    PATTERN = "a regular expression"
    FLAG = "true or false"


_NUMERIC = frozenset({FieldType.INTEGER, FieldType.NUMBER})
_TEXT = frozenset({FieldType.STRING})
_LIST = frozenset({FieldType.LIST})
_SCALAR = frozenset(FieldType) - _LIST
_ANY = frozenset(FieldType)


@dataclass(frozen=True, slots=True)
class OperatorSpec:
    """An operator's name, the field types it applies to and the operand it takes."""

    name: str
    types: frozenset[FieldType]
    operand: OperandShape


OPERATORS: Mapping[str, OperatorSpec] = MappingProxyType(
    {
        spec.name: spec
        for spec in (
            OperatorSpec("eq", _SCALAR, OperandShape.SCALAR),
            OperatorSpec("ne", _NUMERIC | _TEXT, OperandShape.SCALAR),
            OperatorSpec("lt", _NUMERIC, OperandShape.SCALAR),
            OperatorSpec("lte", _NUMERIC, OperandShape.SCALAR),
            OperatorSpec("gt", _NUMERIC, OperandShape.SCALAR),
            OperatorSpec("gte", _NUMERIC, OperandShape.SCALAR),
            OperatorSpec("in", _NUMERIC | _TEXT, OperandShape.LIST),
            OperatorSpec("not_in", _NUMERIC | _TEXT, OperandShape.LIST),
            OperatorSpec("between", _NUMERIC, OperandShape.RANGE),
            OperatorSpec("contains", _TEXT | _LIST, OperandShape.SCALAR),
            OperatorSpec("not_contains", _TEXT | _LIST, OperandShape.SCALAR),
            OperatorSpec("starts_with", _TEXT, OperandShape.SCALAR),
            OperatorSpec("regex", _TEXT, OperandShape.PATTERN),
            OperatorSpec("present", _ANY, OperandShape.FLAG),
        )
    }
)


def operators_for(field_type: FieldType) -> tuple[str, ...]:
    """Operator names that apply to ``field_type``, in catalogue order."""
    return tuple(name for name, spec in OPERATORS.items() if field_type in spec.types)


def make_predicate(op: str, field: FieldSpec, operand: Operand) -> Predicate:
    """Compile one ``field op operand`` test into a closure over the field mapping.

    The operand has been validated against the field's type by the loader, and the router checks
    the mapping's value types once per call, so the closures do no type checks of their own. Each
    closure is written out per operator: this is the innermost loop of routing.
    """
    key = field.name
    if op == "present":
        return _present(key, wanted=operand is True)
    if field.type is FieldType.BOOLEAN:
        return lambda fields: fields.get(key) is operand
    if field.type is FieldType.LIST:
        return _LIST_TESTS[op](key, str(operand).casefold())
    if field.type is not FieldType.STRING:
        members = frozenset(_items(operand))
        return _NUMBER_TESTS[op](key, members if op in ("in", "not_in") else operand)
    fold = not field.case_sensitive
    if op == "regex":
        return _regex(key, str(operand), ignore_case=fold)
    norm: Callable[[str], str] = str.casefold if fold else str
    wanted: Any = (
        frozenset(norm(str(item)) for item in _items(operand))
        if op in ("in", "not_in")
        else norm(str(operand))
    )
    return (_FOLDED_TEXT_TESTS if fold else _EXACT_TEXT_TESTS)[op](key, wanted)


def _present(key: str, *, wanted: bool) -> Predicate:
    def test(fields: Fields) -> bool:
        value = fields.get(key)
        blank = (isinstance(value, str) and not value.strip()) or value in ([], ())
        there = value is not None and not blank
        return there is wanted

    return test


def _regex(key: str, pattern: str, *, ignore_case: bool) -> Predicate:
    found = compile_search(pattern, ignore_case=ignore_case)
    return lambda fields: (v := fields.get(key)) is not None and found(v)


def _items(operand: Operand) -> tuple[Scalar, ...]:
    return operand if isinstance(operand, tuple) else (operand,)


# Factories: (field name, prepared operand) -> predicate. A missing value (None) fails them all.
_Factory = Callable[[str, Any], Predicate]

_NUMBER_TESTS: Mapping[str, _Factory] = {
    "eq": lambda key, x: lambda f: (v := f.get(key)) is not None and v == x,
    "ne": lambda key, x: lambda f: (v := f.get(key)) is not None and v != x,
    "lt": lambda key, x: lambda f: (v := f.get(key)) is not None and v < x,
    "lte": lambda key, x: lambda f: (v := f.get(key)) is not None and v <= x,
    "gt": lambda key, x: lambda f: (v := f.get(key)) is not None and v > x,
    "gte": lambda key, x: lambda f: (v := f.get(key)) is not None and v >= x,
    "in": lambda key, xs: lambda f: (v := f.get(key)) is not None and v in xs,
    "not_in": lambda key, xs: lambda f: (v := f.get(key)) is not None and v not in xs,
    "between": lambda key, r: lambda f: (v := f.get(key)) is not None and r[0] <= v <= r[1],
}

_FOLDED_TEXT_TESTS: Mapping[str, _Factory] = {
    "eq": lambda key, w: lambda f: (v := f.get(key)) is not None and v.casefold() == w,
    "ne": lambda key, w: lambda f: (v := f.get(key)) is not None and v.casefold() != w,
    "in": lambda key, ws: lambda f: (v := f.get(key)) is not None and v.casefold() in ws,
    "not_in": lambda key, ws: lambda f: (v := f.get(key)) is not None and v.casefold() not in ws,
    "contains": lambda key, w: lambda f: (v := f.get(key)) is not None and w in v.casefold(),
    "not_contains": lambda key, w: (
        lambda f: (v := f.get(key)) is not None and w not in v.casefold()
    ),
    "starts_with": lambda key, w: (
        lambda f: (v := f.get(key)) is not None and v.casefold().startswith(w)
    ),
}

#: A list field holds a member equal to the operand, ignoring case (not a substring of one).
_LIST_TESTS: Mapping[str, _Factory] = {
    "contains": lambda key, w: (
        lambda f: (v := f.get(key)) is not None and any(x.casefold() == w for x in v)
    ),
    "not_contains": lambda key, w: (
        lambda f: (v := f.get(key)) is not None and all(x.casefold() != w for x in v)
    ),
}

_EXACT_TEXT_TESTS: Mapping[str, _Factory] = {
    "eq": lambda key, w: lambda f: f.get(key) == w,
    "ne": lambda key, w: lambda f: (v := f.get(key)) is not None and v != w,
    "in": lambda key, ws: lambda f: (v := f.get(key)) is not None and v in ws,
    "not_in": lambda key, ws: lambda f: (v := f.get(key)) is not None and v not in ws,
    "contains": lambda key, w: lambda f: (v := f.get(key)) is not None and w in v,
    "not_contains": lambda key, w: lambda f: (v := f.get(key)) is not None and w not in v,
    "starts_with": lambda key, w: lambda f: (v := f.get(key)) is not None and v.startswith(w),
}
