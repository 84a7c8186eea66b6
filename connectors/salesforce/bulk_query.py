"""Bulk API 2.0 queries for large reads, answered in the shape of a REST query.

A REST query of an ``IN`` list holds at most 200 values (its URL must stay short), so reading
10,000 records by id costs 50 calls. A Bulk 2.0 query job takes its SOQL in a request body (up
to 100,000 characters: about 4,000 ids) and costs a handful of calls whatever the size: create,
a few polls, one call per page of results.

The job is driven here through simple-salesforce's authenticated session, as the ingest jobs of
:mod:`connectors.salesforce.bulk` are, so that each of its requests is asked again after a
transient failure (up to :data:`~connectors.salesforce.bulk.READ_FAILURES` times in a row): all
of them only read, so repeating one is harmless (a create whose answer was lost leaves a job
nobody reads, which Salesforce deletes after a week). The library's own ``bulk2`` query runs the
same requests but fails the whole job at the first failed poll or page, and a lookup of a large
backlog is many jobs: under a steady fault rate, all of them getting through at once is unlikely.

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
from typing import Any

from simple_salesforce.api import Salesforce

from connectors.errors import ConnectorError, RetryableError
from connectors.salesforce.bulk import Polling, read_again, send, wait_for_job
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
    soql: str,
    types: FieldTypes,
    *,
    poll: Polling,
    page_records: int = PAGE_RECORDS,
) -> list[dict[str, Any]]:
    """The records of ``soql`` read by a Bulk 2.0 query job, shaped as REST answers them. A job
    that failed, was aborted or outran the poll's timeout raises ``SalesforceOperationError``."""
    spec = {"operation": "query", "query": soql}
    job_id = str(read_again(poll, lambda: send(sf, "POST", "jobs/query", json=spec).json())["id"])
    wait_for_job(sf, f"jobs/query/{job_id}", poll)
    records: list[dict[str, Any]] = []
    params: dict[str, Any] = {"maxRecords": page_records}
    while True:
        page = read_again(
            poll,
            lambda: send(
                sf,
                "GET",
                f"jobs/query/{job_id}/results",
                params=dict(params),
                headers={"Accept": "text/csv"},
            ),
        )
        reader = csv.DictReader(io.StringIO(page.text, newline=""))
        records.extend(rest_record(row, types) for row in reader)
        locator = page.headers.get("Sforce-Locator") or "null"
        if locator == "null":
            return records
        params["locator"] = locator


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
