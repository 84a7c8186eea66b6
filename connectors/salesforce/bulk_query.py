"""Bulk API 2.0 queries for large reads, answered in the shape of a REST query.

A REST query of an ``IN`` list holds at most 200 values (its URL must stay short), so reading
10,000 records by id costs 50 calls. A Bulk 2.0 query job takes its SOQL in a request body (up
to 100,000 characters: about 4,000 ids) and costs a handful of calls whatever the size: create,
a few polls, one call per page of results. The job is run by simple-salesforce's
``sf.bulk2.<Object>.query``.

Results come as CSV: every value is text, a null is an empty cell and a parent's field is a
column named ``Parent.Field``. :func:`rest_record` turns a row back into what the REST query
answers (typed by the fields' ``describe`` types, parents nested, a parent with no values
``None``), so callers cannot tell which way a record was read.

A job that ends ``Failed`` or ``Aborted`` raises; :func:`job_failure` gives it our tier from
the Salesforce code in its message (``QUERY_TIMEOUT``: retry; ``INVALID_FIELD``: configuration),
and a retry when the message names none.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, cast

from simple_salesforce.api import Salesforce
from simple_salesforce.bulk2 import SFBulk2Type

from connectors.errors import ConnectorError, RetryableError
from connectors.salesforce.errors import ERROR_CODES, SYSTEM, build

#: Values per Bulk query: the SOQL statement limit is 100,000 characters.
MAX_VALUES_PER_JOB = 4_000
#: Budget for a Bulk query's text (measured URL-encoded, which is never shorter).
MAX_JOB_QUERY = 90_000
#: Rows per page of results (``maxRecords``).
PAGE_RECORDS = 50_000

#: Describe types whose CSV text becomes a number or a boolean, as the REST API answers.
_FLOATS = frozenset({"double", "currency", "percent"})
_INTS = frozenset({"int", "long"})
_CODE = re.compile(r"\b([A-Z][A-Z_]{3,})\b")

#: The describe type of a column (``Name``, ``Account.Owner.Email``), None when unknown.
FieldTypes = Callable[[str], str | None]


def bulk_query(
    sf: Salesforce,
    object_type: str,
    soql: str,
    types: FieldTypes,
    *,
    wait: float,
    page_records: int = PAGE_RECORDS,
) -> list[dict[str, Any]]:
    """The records of ``soql`` read by a Bulk 2.0 query job, shaped as REST answers them."""
    handler = cast(SFBulk2Type, getattr(sf.bulk2, object_type))
    records: list[dict[str, Any]] = []
    # simple-salesforce types ``wait`` as int but sleeps any number of seconds.
    pages = handler.query(soql, max_records=page_records, wait=cast(int, wait))
    for page in pages:
        reader = csv.DictReader(io.StringIO(str(page), newline=""))
        records.extend(rest_record(row, types) for row in reader)
    return records


def rest_record(row: Mapping[str, str], types: FieldTypes) -> dict[str, Any]:
    """A CSV row as the REST query's record: typed values, parents nested (None if empty)."""
    record: dict[str, Any] = {}
    for column, text in row.items():
        *parents, name = column.split(".")
        target = record
        for parent in parents:
            target = target.setdefault(parent, {})
        target[name] = typed(text, types(column))
    return _prune(record)


def typed(text: str, field_type: str | None) -> Any:
    """A CSV cell as the REST API writes the value of a field of ``field_type``."""
    if text == "":
        return None
    if field_type == "boolean":
        return text.lower() == "true"
    try:
        if field_type in _FLOATS:
            return float(text)
        if field_type in _INTS:
            return int(float(text))
    except ValueError:
        return text
    return text


def _prune(record: dict[str, Any]) -> dict[str, Any]:
    """Parents whose every value is null become None, as REST shows a missing parent."""
    for key, value in record.items():
        if isinstance(value, dict):
            pruned = _prune(value)
            record[key] = pruned if any(v is not None for v in pruned.values()) else None
    return record


def job_failure(message: str) -> ConnectorError:
    """Our tier for a query job that ended ``Failed`` or ``Aborted`` or timed out."""
    for code in _CODE.findall(message):
        if code in ERROR_CODES:
            return build(ERROR_CODES[code], f"Bulk query job failed: {message}", code=code)
    return RetryableError(f"Bulk query job failed: {message}", system=SYSTEM)


def relationship_field(name: str) -> Iterable[str]:
    """The reference field names a relationship name may stand for (``Account`` →
    ``AccountId``, ``Owner__r`` → ``Owner__c``)."""
    if name.lower().endswith("__r"):
        return (name[:-3] + "__c",)
    return (name + "Id", name)
