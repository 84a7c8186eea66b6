"""Bulk API 2.0 updates for large write-backs (backfills), with per-record results.

A Bulk job costs a handful of calls whatever its size (create, upload, close, a few polls,
results), so above a threshold it is far cheaper than sObject Collections at 200 records per
call. Records of one object go into one CSV whose columns are the union of their fields; a blank
cell leaves that field untouched, so each record still only changes the values it carries.
Rows listed in ``failedResults`` or ``unprocessedrecords`` become failed :class:`WriteResult`s;
every other row landed.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from simple_salesforce.api import Salesforce

from connectors.models import WriteResult
from connectors.salesforce.errors import record_tier

#: Bulk 2.0 writes this to set a field to null; a blank cell means "leave as it is".
NULL = "#N/A"


def csv_value(value: object) -> str:
    """A field value as Bulk 2.0 CSV expects it."""
    if value is None:
        return NULL
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def bulk_update(
    sf: Salesforce, object_type: str, records: Sequence[Mapping[str, object]], *, poll: float
) -> list[WriteResult]:
    """Update ``records`` (each with an ``Id``) of one object in Bulk 2.0 jobs; one result each."""
    rows = [{name: csv_value(value) for name, value in rec.items()} for rec in records]
    handler: Any = getattr(sf.bulk2, object_type)
    jobs = handler.update(records=rows, wait=poll)
    failed: dict[str, WriteResult] = {}
    for job in jobs:
        job_id = str(job["job_id"])
        for row in _rows(handler.get_failed_records(job_id)):
            result = failed_row(row)
            failed[result.record_id] = result
        for row in _rows(handler.get_unprocessed_records(job_id)):
            record_id = row.get("Id", "")
            failed[record_id] = WriteResult(
                record_id=record_id,
                ok=False,
                error="not processed: the Bulk job stopped before this record",
                code="UNPROCESSED",
                tier=record_tier("UNPROCESSED"),
            )
    return [
        failed.get(str(rec["Id"])) or WriteResult(record_id=str(rec["Id"]), ok=True)
        for rec in records
    ]


def bulk_upsert(
    sf: Salesforce,
    object_type: str,
    external_id_field: str,
    records: Sequence[Mapping[str, Any]],
    poll: float,
) -> list[WriteResult]:
    """Upsert through Bulk 2.0 jobs; failed and unprocessed rows become failed results."""
    rows = [{name: csv_value(value) for name, value in rec.items()} for rec in records]
    handler: Any = getattr(sf.bulk2, object_type)
    jobs = handler.upsert(records=rows, external_id_field=external_id_field, wait=poll)
    failed: dict[str, WriteResult] = {}
    for job in jobs:
        job_id = str(job["job_id"])
        for row in _rows(handler.get_failed_records(job_id)):
            key = row.get(external_id_field, "")
            failed[key] = dataclasses.replace(failed_row(row), record_id=key)
        for row in _rows(handler.get_unprocessed_records(job_id)):
            key = row.get(external_id_field, "")
            failed[key] = WriteResult(
                key,
                ok=False,
                error="not processed: the Bulk job stopped",
                code="UNPROCESSED",
                tier=record_tier("UNPROCESSED"),
            )
    keys = [str(rec[external_id_field]) for rec in records]
    return [failed.get(key) or WriteResult(record_id=key, ok=True) for key in keys]


def failed_row(row: Mapping[str, str]) -> WriteResult:
    """A ``failedResults`` row (``sf__Error`` is ``CODE:message:fields``) as a result."""
    record_id = row.get("Id") or row.get("sf__Id") or ""
    code, _, rest = (row.get("sf__Error") or "UNKNOWN_EXCEPTION:no error given").partition(":")
    message, _, fields = rest.rpartition(":")
    if not message:  # no field list: everything after the code is the message
        message, fields = rest, ""
    fields = fields.removesuffix("--").strip().strip(",")
    text = f"{code}: {message.strip()}" + (f" ({fields})" if fields else "")
    return WriteResult(record_id=record_id, ok=False, error=text, code=code, tier=record_tier(code))


def _rows(text: str) -> list[dict[str, str]]:
    if not text.strip():
        return []
    return list(csv.DictReader(io.StringIO(text, newline="")))
