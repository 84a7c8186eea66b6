"""Building SOQL safely and in batches.

Values that came from a survey are only ever inserted through simple-salesforce's
``format_soql``/``quote_soql_value`` escaping, never concatenated. ``IN`` lookups are split so each
query holds at most 200 values and its URL stays well inside Salesforce's 16,384-byte URI limit.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from urllib.parse import quote_plus

from simple_salesforce.format import format_soql, quote_soql_value

MAX_VALUES_PER_QUERY = 200
#: Budget for the URL-encoded query text; the rest of the 16 KB URI is path and headers room.
MAX_ENCODED_QUERY = 12_000
#: Salesforce rejects a string literal longer than this.
MAX_LITERAL = 4_000

#: LIKE clauses per query when a lookup cannot use IN (matching a domain inside Website).
MAX_LIKE_CLAUSES = 50

__all__ = [
    "MAX_VALUES_PER_QUERY",
    "format_soql",
    "in_batches",
    "like_batches",
    "or_in_batches",
    "quote_soql_value",
]


def in_batches(
    template: str, values: Sequence[str], *, max_values: int = MAX_VALUES_PER_QUERY
) -> Iterator[tuple[str, list[str]]]:
    """Yield ``(soql, values)`` for a template with one ``{values}`` placeholder for an IN list.

    Values longer than a SOQL literal may be are dropped (nothing can match them). Each query has
    at most ``max_values`` values and an encoded length under :data:`MAX_ENCODED_QUERY`.
    """
    usable = sorted({v for v in values if len(v) <= MAX_LITERAL})
    base = len(quote_plus(template.replace("{values}", "")))
    batch: list[str] = []
    size = base
    for value in usable:
        cost = len(quote_plus(quote_soql_value(value))) + 3
        if batch and (len(batch) >= max_values or size + cost > MAX_ENCODED_QUERY):
            yield _render(template, batch), batch
            batch, size = [], base
        batch.append(value)
        size += cost
    if batch:
        yield _render(template, batch), batch


def _render(template: str, values: list[str]) -> str:
    return format_soql(template.replace("{values}", "{}"), values)


def or_in_batches(
    select_from: str,
    clauses: Mapping[str, Sequence[str]],
    *,
    max_values: int = MAX_VALUES_PER_QUERY,
    max_encoded: int = MAX_ENCODED_QUERY,
) -> Iterator[tuple[str, dict[str, list[str]]]]:
    """Yield ``(soql, values per field)`` for ``select_from WHERE f1 IN (..) OR f2 IN (..)``.

    One query answers several lookups at once (contacts by id *or* by email), so a batch of
    responses costs one call instead of one per kind of key. The limits of :func:`in_batches`
    apply to the values of all fields together (``max_encoded`` raises the length limit for a
    query that does not travel in a URL, a Bulk job's); a field without values in a batch is
    left out.
    """
    pending = [
        (name, value)
        for name, values in clauses.items()
        for value in sorted({v for v in values if len(v) <= MAX_LITERAL})
    ]
    base = len(quote_plus(select_from + " WHERE "))
    batch: dict[str, list[str]] = {}
    count, size = 0, base
    for name, value in pending:
        value_cost = len(quote_plus(quote_soql_value(value))) + 3
        clause_cost = 0 if name in batch else len(quote_plus(f" OR {name} IN ()"))
        if count and (count >= max_values or size + value_cost + clause_cost > max_encoded):
            yield _render_or(select_from, batch), batch
            batch, count, size = {}, 0, base
            clause_cost = len(quote_plus(f" OR {name} IN ()"))
        batch.setdefault(name, []).append(value)
        count += 1
        size += value_cost + clause_cost
    if batch:
        yield _render_or(select_from, batch), batch


def like_batches(
    select_from: str, field: str, fragments: Sequence[str], *, max_clauses: int = MAX_LIKE_CLAUSES
) -> Iterator[tuple[str, list[str]]]:
    """Yield ``(soql, fragments)`` for ``select_from WHERE (field LIKE '%f1%' OR ...)``.

    Wildcards inside a fragment are escaped, so ``%`` and ``_`` match only themselves. LIKE
    matches more than the caller wants (``acme.com`` inside ``notacme.com``): the caller filters
    the answer exactly.
    """
    usable = sorted({f for f in fragments if f and len(f) <= MAX_LITERAL - 2})
    for start in range(0, len(usable), max_clauses):
        chunk = usable[start : start + max_clauses]
        where = " OR ".join(format_soql(f"{field} LIKE '%{{:like}}%'", f) for f in chunk)
        yield f"{select_from} WHERE ({where})", chunk


def _render_or(select_from: str, batch: Mapping[str, list[str]]) -> str:
    where = " OR ".join(format_soql(f"{name} IN {{}}", values) for name, values in batch.items())
    return f"{select_from} WHERE {where}"
