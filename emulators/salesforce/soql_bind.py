"""SOQL semantics: names resolved against the schema, literals type-checked, conditions compiled.

Salesforce checks a query against the org's metadata before running it: unknown objects are
``INVALID_TYPE``, unknown fields or relationships ``INVALID_FIELD``, a literal of the wrong type
for its field ``MALFORMED_QUERY`` and a malformed id ``INVALID_QUERY_FILTER_OPERATOR``. Text
comparisons (``=``, ``IN``, ``LIKE``, ordering) ignore case; ``!=`` and ``NOT IN`` also match
records whose field is null, as in Salesforce.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from emulators.salesforce import ids
from emulators.salesforce.schema import FieldDef, SObjectDef
from emulators.salesforce.soql_lexer import SoqlError
from emulators.salesforce.soql_parser import (
    Compare,
    Condition,
    InList,
    Junction,
    Like,
    Literal,
    Not,
    Path,
    Query,
)
from emulators.salesforce.store import Record, Store
from emulators.salesforce.values import parse_date, parse_datetime

MAX_OFFSET: Final = 2000
Predicate = Callable[[Record], bool]
#: Whether the querying user may see a field of an object (field-level security).
Visible = Callable[[SObjectDef, FieldDef], bool]

_UNKNOWN_TYPE: Final = (
    "sObject type '{}' is not supported. If you are attempting to use a custom object, be sure "
    "to append the '__c' after the entity name. Please reference your WSDL or the describe call "
    "for the appropriate names."
)
_UNKNOWN_FIELD: Final = (
    "No such column '{}' on entity '{}'. If you are attempting to use a custom field, be sure to "
    "append the '__c' after the custom field name. Please reference your WSDL or the describe "
    "call for the appropriate names."
)
_UNKNOWN_RELATIONSHIP: Final = (
    "Didn't understand relationship '{}' in field path. If you are attempting to use a custom "
    "relationship, be sure to append the '__r' after the custom relationship name. Please "
    "reference your WSDL or the describe call for the appropriate names."
)


@dataclass(frozen=True, slots=True)
class BoundPath:
    """A field path resolved against the schema: reference hops, then a final field."""

    hops: tuple[FieldDef, ...]
    final: FieldDef
    text: str


@dataclass(frozen=True, slots=True)
class BoundOrder:
    path: BoundPath
    descending: bool
    nulls_first: bool


@dataclass(frozen=True, slots=True)
class Plan:
    sobject: SObjectDef
    count_only: bool
    select: tuple[BoundPath, ...]
    where: Predicate | None
    order: tuple[BoundOrder, ...]
    limit: int | None
    offset: int | None


@dataclass(frozen=True, slots=True)
class _Range:
    """A relative date literal as a half-open interval ``[start, end)``."""

    start: date | datetime
    end: date | datetime


class Resolver:
    """Follows reference fields from a record to its parent records."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def parent(self, record: Record, hop: FieldDef) -> tuple[SObjectDef, Record] | None:
        target_id = record.get(hop.name)
        if not isinstance(target_id, str):
            return None
        target = self.store.schema.by_prefix(target_id[:3])
        if target is None or target.name not in hop.reference_to:
            return None
        found = self.store.get(target, target_id)
        return (target, found) if found is not None else None

    def value(self, record: Record, path: BoundPath) -> Any:
        current = record
        for hop in path.hops:
            step = self.parent(current, hop)
            if step is None:
                return None
            current = step[1]
        return current.get(path.final.name)


def bind(
    query: Query,
    store: Store,
    now: datetime,
    visible: Visible | None = None,
    time_zone: str = "UTC",
) -> Plan:
    """Check ``query`` against the schema and compile it, or raise :class:`SoqlError`.

    With ``visible``, a field the querying user may not see is unknown, as in Salesforce.
    """
    sobject = store.schema.get(query.sobject)
    if sobject is None:
        raise SoqlError(_UNKNOWN_TYPE.format(query.sobject), query.sobject_pos, "INVALID_TYPE")
    binder = _Binder(
        sobject, Resolver(store), now, visible or (lambda _obj, _field: True), ZoneInfo(time_zone)
    )
    select = tuple(binder.path(path) for path in query.fields)
    seen: set[str] = set()
    for path, bound in zip(query.fields, select, strict=True):
        if bound.text.lower() in seen:
            raise SoqlError(f"duplicate field selected: {bound.text}", path.pos)
        seen.add(bound.text.lower())
    where = binder.condition(query.where) if query.where is not None else None
    order = tuple(
        binder.order(item.path, item.descending, item.nulls_first) for item in query.order_by
    )
    if query.offset is not None and query.offset > MAX_OFFSET:
        raise SoqlError(
            f"Maximum SOQL offset allowed is {MAX_OFFSET}", 0, "NUMBER_OUTSIDE_VALID_RANGE"
        )
    return Plan(sobject, query.count_only, select, where, order, query.limit, query.offset)


class _Binder:
    def __init__(
        self,
        sobject: SObjectDef,
        resolver: Resolver,
        now: datetime,
        visible: Visible,
        zone: ZoneInfo,
    ) -> None:
        self.sobject = sobject
        self.resolver = resolver
        self.now = now
        self.visible = visible
        #: The querying user's time zone: date literals are days of that user's calendar.
        self.zone = zone

    # -- names ---------------------------------------------------------------------------------
    def path(self, path: Path) -> BoundPath:
        schema = self.resolver.store.schema
        parts = list(path.parts)
        offset = path.pos
        if (
            len(parts) > 1
            and parts[0].lower() == self.sobject.name.lower()
            and self.sobject.relationship(parts[0]) is None
        ):
            offset += len(parts[0]) + 1
            parts = parts[1:]
        candidates = [self.sobject]
        hops: list[FieldDef] = []
        names: list[str] = []
        for part in parts[:-1]:
            owner = next((c for c in candidates if c.relationship(part)), None)
            hop = owner.relationship(part) if owner is not None else None
            if owner is not None and hop is not None and not self.visible(owner, hop):
                hop = None
            targets = [t for t in (schema.get(n) for n in hop.reference_to) if t] if hop else []
            if hop is None or not targets:
                raise SoqlError(_UNKNOWN_RELATIONSHIP.format(part), offset, "INVALID_FIELD")
            hops.append(hop)
            names.append(hop.relationship_name or part)
            candidates = targets
            offset += len(part) + 1
        owner = next((c for c in candidates if c.field(parts[-1])), None)
        final = owner.field(parts[-1]) if owner is not None else None
        if owner is None or final is None or not self.visible(owner, final):
            raise SoqlError(
                _UNKNOWN_FIELD.format(parts[-1], candidates[0].name), offset, "INVALID_FIELD"
            )
        return BoundPath(tuple(hops), final, ".".join([*names, final.name]))

    def order(self, path: Path, descending: bool, nulls_first: bool) -> BoundOrder:
        bound = self.path(path)
        if not bound.final.sortable:
            raise SoqlError(
                f"field '{bound.final.name}' can not be sorted in a query call",
                path.pos,
                "INVALID_FIELD",
            )
        return BoundOrder(bound, descending, nulls_first)

    def filtered(self, path: Path) -> BoundPath:
        bound = self.path(path)
        if not bound.final.filterable:
            raise SoqlError(
                f"field '{bound.final.name}' can not be filtered in a query call",
                path.pos,
                "INVALID_FIELD",
            )
        return bound

    # -- conditions ----------------------------------------------------------------------------
    def condition(self, node: Condition) -> Predicate:
        if isinstance(node, Junction):
            parts = [self.condition(operand) for operand in node.operands]
            if node.op == "AND":
                return lambda record: all(part(record) for part in parts)
            return lambda record: any(part(record) for part in parts)
        if isinstance(node, Not):
            inner = self.condition(node.operand)
            return lambda record: not inner(record)
        if isinstance(node, Like):
            return self.like(node)
        if isinstance(node, InList):
            return self.in_list(node)
        return self.compare(node)

    def getter(self, bound: BoundPath) -> Callable[[Record], Any]:
        if not bound.hops:
            name = bound.final.name
            return lambda record: record.get(name)
        resolver = self.resolver
        return lambda record: resolver.value(record, bound)

    def compare(self, node: Compare) -> Predicate:
        bound = self.filtered(node.path)
        field, get, op = bound.final, self.getter(bound), node.op
        value = self.typed(field, node.literal)
        if field.type == "boolean" and op not in ("=", "!="):
            raise SoqlError(f"invalid operator on boolean field: {op}", node.literal.pos)
        if value is None:
            if op == "=":
                return lambda record: get(record) is None
            if op == "!=":
                return lambda record: get(record) is not None
            return lambda record: False
        if isinstance(value, _Range):
            return _range_predicate(get, op, value)
        norm = _normalizer(field)
        wanted = norm(value)
        return _compare_predicate(get, norm, op, wanted)

    def in_list(self, node: InList) -> Predicate:
        bound = self.filtered(node.path)
        field, get = bound.final, self.getter(bound)
        typed = [self.typed(field, literal) for literal in node.literals]
        norm = _normalizer(field)
        accepts_null = any(v is None for v in typed)
        ranges = [v for v in typed if isinstance(v, _Range)]
        wanted = {norm(v) for v in typed if v is not None and not isinstance(v, _Range)}
        range_tests = [_range_predicate(get, "=", r) for r in ranges]

        def member(record: Record) -> bool:
            current = get(record)
            if current is None:
                return accepts_null
            return norm(current) in wanted or any(test(record) for test in range_tests)

        if node.negated:
            return lambda record: not member(record)
        return member

    def like(self, node: Like) -> Predicate:
        bound = self.filtered(node.path)
        field, get, literal = bound.final, self.getter(bound), node.literal
        if not field.is_text:
            raise SoqlError(
                f"invalid operator on {field.type} field: LIKE", node.path.pos, "INVALID_FIELD"
            )
        if literal.kind != "string" or literal.like_regex is None:
            raise SoqlError(
                f"value of filter criterion for field '{field.name}' must be of type string "
                "and should be enclosed in quotes",
                literal.pos,
            )
        pattern = re.compile(literal.like_regex, re.IGNORECASE | re.DOTALL)

        def matches(record: Record) -> bool:
            current = get(record)
            return isinstance(current, str) and pattern.fullmatch(current) is not None

        return matches

    # -- literals ------------------------------------------------------------------------------
    def typed(self, field: FieldDef, literal: Literal) -> Any:
        """The literal as a value comparable with ``field``'s stored values."""
        if literal.like_only:
            raise SoqlError(
                "Invalid string literal: the escapes \\% and \\_ are only allowed in a LIKE "
                "pattern",
                literal.pos,
            )
        if literal.kind == "null":
            return None
        if field.is_id:
            text = literal.value if literal.kind == "string" else str(literal.value)
            if literal.kind != "string" or not ids.is_valid_id(text):
                raise SoqlError(
                    f"invalid ID field: {text}", literal.pos, "INVALID_QUERY_FILTER_OPERATOR"
                )
            return ids.to_18(text)
        if field.is_text:
            self.expect(field, literal, "string", quoted=True)
            return literal.value
        if field.type == "boolean":
            self.expect(field, literal, "boolean")
            return literal.value
        if field.is_number:
            self.expect(field, literal, "number")
            return literal.value
        if literal.kind == "relative":
            return self.relative(field, literal.value)
        if field.type == "date":
            self.expect(field, literal, "date")
            return parse_date(literal.value)
        if field.type == "datetime":
            self.expect(field, literal, "datetime", type_name="dateTime")
            return parse_datetime(literal.value)
        raise SoqlError(f"field '{field.name}' can not be filtered in a query call", literal.pos)

    @staticmethod
    def expect(
        field: FieldDef, literal: Literal, kind: str, *, quoted: bool = False, type_name: str = ""
    ) -> None:
        if literal.kind == kind:
            if kind in ("date", "datetime") and (
                parse_date(literal.value) is None and parse_datetime(literal.value) is None
            ):
                raise SoqlError(f"invalid date: {literal.value}", literal.pos)
            return
        enclosed = "should be enclosed in quotes" if quoted else "should not be enclosed in quotes"
        raise SoqlError(
            f"value of filter criterion for field '{field.name}' must be of type "
            f"{type_name or field.type} and {enclosed}",
            literal.pos,
        )

    def relative(self, field: FieldDef, spec: tuple[str, int]) -> _Range:
        if field.type not in ("date", "datetime"):
            raise SoqlError(
                f"value of filter criterion for field '{field.name}' must be of type "
                f"{field.type} and should not be a date literal",
                0,
            )
        name, amount = spec
        today = self.now.astimezone(self.zone).date()
        offsets = {
            "TODAY": (0, 1),
            "YESTERDAY": (-1, 0),
            "TOMORROW": (1, 2),
            "LAST_N_DAYS": (-amount, 1),
            "NEXT_N_DAYS": (1, amount + 1),
            "N_DAYS_AGO": (-amount, -amount + 1),
        }
        first, last = offsets[name]
        start, end = today + timedelta(days=first), today + timedelta(days=last)
        if field.type == "datetime":
            return _Range(_midnight(start, self.zone), _midnight(end, self.zone))
        return _Range(start, end)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    """The instant (UTC) at which ``day`` begins in ``zone``."""
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def _normalizer(field: FieldDef) -> Callable[[Any], Any]:
    if field.is_text:
        return lambda value: value.casefold() if isinstance(value, str) else value
    return lambda value: value


def _compare_predicate(
    get: Callable[[Record], Any], norm: Callable[[Any], Any], op: str, wanted: Any
) -> Predicate:
    if op == "=":
        return lambda record: (v := get(record)) is not None and norm(v) == wanted
    if op == "!=":
        return lambda record: (v := get(record)) is None or norm(v) != wanted
    if op == "<":
        return lambda record: (v := get(record)) is not None and norm(v) < wanted
    if op == "<=":
        return lambda record: (v := get(record)) is not None and norm(v) <= wanted
    if op == ">":
        return lambda record: (v := get(record)) is not None and norm(v) > wanted
    return lambda record: (v := get(record)) is not None and norm(v) >= wanted


def _range_predicate(get: Callable[[Record], Any], op: str, span: _Range) -> Predicate:
    tests: dict[str, Callable[[Any], bool]] = {
        "=": lambda v: span.start <= v < span.end,
        "!=": lambda v: not span.start <= v < span.end,
        "<": lambda v: v < span.start,
        "<=": lambda v: v < span.end,
        ">": lambda v: v >= span.end,
        ">=": lambda v: v >= span.start,
    }
    test = tests[op]
    if op == "!=":
        return lambda record: (v := get(record)) is None or test(v)
    return lambda record: (v := get(record)) is not None and test(v)
