"""Running a bound SOQL plan: filter, order, offset/limit, then shape records as the REST API does.

Relationship fields come back nested under the relationship name, each level with its own
``attributes``; a missing parent is ``null``. Without ORDER BY, records come in creation order.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cmp_to_key
from typing import Any

from emulators.salesforce import values
from emulators.salesforce.schema import SObjectDef
from emulators.salesforce.soql_bind import BoundOrder, BoundPath, Plan, Resolver
from emulators.salesforce.store import Record, Store


def record_url(version: str, sobject: str, record_id: str) -> str:
    return f"/services/data/v{version}/sobjects/{sobject}/{record_id}"


def attributes(version: str, sobject: SObjectDef, record: Record) -> dict[str, str]:
    return {"type": sobject.name, "url": record_url(version, sobject.name, record["Id"])}


def execute(
    plan: Plan, store: Store, *, include_deleted: bool, version: str
) -> tuple[int, list[dict[str, Any]]]:
    """``(totalSize, records)`` for the plan; COUNT() queries return no records."""
    resolver = Resolver(store)
    selected = select_rows(plan, store, include_deleted=include_deleted)
    if plan.count_only:
        return len(selected), []
    shaped = [_shape(resolver, plan.sobject, record, plan.select, version) for record in selected]
    return len(shaped), shaped


def select_rows(plan: Plan, store: Store, *, include_deleted: bool) -> list[Record]:
    """The stored records the plan selects, filtered, ordered and cut by OFFSET and LIMIT."""
    resolver = Resolver(store)
    rows = store.rows(plan.sobject, include_deleted=include_deleted)
    matched = [r for r in rows if plan.where(r)] if plan.where is not None else list(rows)
    if plan.order:
        matched.sort(key=cmp_to_key(_comparator(resolver, plan.order)))
    start = plan.offset or 0
    stop = start + plan.limit if plan.limit is not None else None
    return matched[start:stop]


def _comparator(
    resolver: Resolver, order: tuple[BoundOrder, ...]
) -> Callable[[Record, Record], int]:
    def sort_value(record: Record, item: BoundOrder) -> Any:
        value = resolver.value(record, item.path)
        return value.casefold() if isinstance(value, str) else value

    def compare(left: Record, right: Record) -> int:
        for item in order:
            a, b = sort_value(left, item), sort_value(right, item)
            if a is None and b is None:
                continue
            if a is None or b is None:
                first_is_null = a is None
                return (-1 if item.nulls_first else 1) * (1 if first_is_null else -1)
            try:
                outcome = int(a > b) - int(a < b)
            except TypeError:
                outcome = (str(a) > str(b)) - (str(a) < str(b))
            if outcome:
                return -outcome if item.descending else outcome
        return 0

    return compare


def _shape(
    resolver: Resolver,
    sobject: SObjectDef,
    record: Record,
    select: tuple[BoundPath, ...],
    version: str,
) -> dict[str, Any]:
    shaped: dict[str, Any] = {"attributes": attributes(version, sobject, record)}
    for path in select:
        target: dict[str, Any] | None = shaped
        current_type, current = sobject, record
        for hop in path.hops:
            name = hop.relationship_name or hop.name
            assert target is not None
            step = resolver.parent(current, hop)
            if step is None:
                target.setdefault(name, None)
                target = None
                break
            current_type, current = step
            nested = target.get(name)
            if nested is None:
                nested = {"attributes": attributes(version, current_type, current)}
                target[name] = nested
            target = nested
        if target is None:
            continue
        definition = current_type.field(path.final.name) or path.final
        target[definition.name] = values.to_json(definition, current.get(definition.name))
    return shaped
