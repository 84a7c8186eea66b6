"""Building SOQL safely and in batches.

Values that came from a survey are only ever inserted through simple-salesforce's
``format_soql``/``quote_soql_value`` escaping, never concatenated. ``IN`` lookups are split so each
query holds at most 200 values and its URL stays well inside Salesforce's 16,384-byte URI limit.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from urllib.parse import quote_plus

from simple_salesforce.format import format_soql, quote_soql_value

MAX_VALUES_PER_QUERY = 200
#: Budget for the URL-encoded query text; the rest of the 16 KB URI is path and headers room.
MAX_ENCODED_QUERY = 12_000
#: Salesforce rejects a string literal longer than this.
MAX_LITERAL = 4_000

__all__ = ["MAX_VALUES_PER_QUERY", "format_soql", "in_batches", "quote_soql_value"]


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
