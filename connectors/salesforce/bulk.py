"""Bulk API 2.0 updates for large write-backs (backfills), with per-record results.

A Bulk job costs a handful of calls whatever its size (create, upload, close, a few polls,
results), so above a threshold it is far cheaper than sObject Collections at 200 records per
call. Records of one object go into one CSV whose columns are the union of their fields; a blank
cell leaves that field untouched, so each record still only changes the values it carries.
Rows listed in ``failedResults`` or ``unprocessedrecords`` become failed :class:`WriteResult`s;
every other row landed.

The job is driven here (create, upload, close, poll) through simple-salesforce's authenticated
session, so that its state is polled on a :class:`~connectors.backoff.Backoff`: the library polls
every ``wait`` seconds, which is either slow for a small job or many calls for a large one.

A job is a handful of requests, and the caller retries a failed job whole: a new job writes
every record again. Reads about a job (a poll of its state, its failed and unprocessed rows) are
harmless to repeat and the job runs on whether or not we look, so one that fails transiently (a
5xx, a reset) is asked again here, up to :data:`READ_FAILURES` times in a row, instead of
aborting a job that may well complete. Creating, uploading and closing are not repeated.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime
from functools import partial
from typing import Any, TypeVar

from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceOperationError
from simple_salesforce.util import exception_handler

from connectors.backoff import Backoff
from connectors.errors import RetryableError
from connectors.models import WriteResult
from connectors.salesforce.error_text import plain_error
from connectors.salesforce.errors import CLIENT_ERRORS, is_expired_session, record_tier, translate

T = TypeVar("T")

#: Bulk 2.0 writes this to set a field to null; a blank cell means "leave as it is".
NULL = "#N/A"
#: CSV bytes per job; Bulk 2.0 takes up to 150 MB per upload.
MAX_UPLOAD_BYTES = 100 * 1024 * 1024
#: Job states after which nothing changes any more.
_ENDED = ("JobComplete", "Failed", "Aborted")
#: The longest wait between two polls of a job.
BULK_POLL_CAP = 10.0
#: A job still running after this long is given up on (the next attempt writes again).
JOB_TIMEOUT = 3600.0
#: Transient failures in a row of one read about a job that give it up.
READ_FAILURES = 3


@dataclasses.dataclass(frozen=True, slots=True)
class Polling:
    """How a Bulk job's state is polled: the backoff, and the clock and sleep it runs on."""

    backoff: Backoff = dataclasses.field(
        default_factory=lambda: Backoff(first=0.5, factor=1.5, cap=BULK_POLL_CAP)
    )
    timeout: float = JOB_TIMEOUT
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic


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
    sf: Salesforce, object_type: str, records: Sequence[Mapping[str, object]], *, poll: Polling
) -> list[WriteResult]:
    """Update ``records`` (each with an ``Id``) of one object in Bulk 2.0 jobs; one result each."""
    rows = [{name: csv_value(value) for name, value in rec.items()} for rec in records]
    handler: Any = getattr(sf.bulk2, object_type)
    failed: dict[str, WriteResult] = {}
    for job_id in run_jobs(sf, object_type, "update", rows, poll):
        for row in _rows(read_again(poll, partial(handler.get_failed_records, job_id))):
            result = failed_row(row)
            failed[result.record_id] = result
        for row in _rows(read_again(poll, partial(handler.get_unprocessed_records, job_id))):
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
    poll: Polling,
) -> list[WriteResult]:
    """Upsert through Bulk 2.0 jobs; failed and unprocessed rows become failed results."""
    rows = [{name: csv_value(value) for name, value in rec.items()} for rec in records]
    handler: Any = getattr(sf.bulk2, object_type)
    failed: dict[str, WriteResult] = {}
    for job_id in run_jobs(sf, object_type, "upsert", rows, poll, external_id_field):
        for row in _rows(read_again(poll, partial(handler.get_failed_records, job_id))):
            key = row.get(external_id_field, "")
            failed[key] = dataclasses.replace(failed_row(row), record_id=key)
        for row in _rows(read_again(poll, partial(handler.get_unprocessed_records, job_id))):
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
    text = plain_error(code, message.strip(), [f.strip() for f in fields.split(",")])
    return WriteResult(record_id=record_id, ok=False, error=text, code=code, tier=record_tier(code))


def _rows(text: str) -> list[dict[str, str]]:
    if not text.strip():
        return []
    return list(csv.DictReader(io.StringIO(text, newline="")))


def run_jobs(
    sf: Salesforce,
    object_type: str,
    operation: str,
    rows: Sequence[Mapping[str, str]],
    poll: Polling,
    external_id_field: str | None = None,
) -> list[str]:
    """Run ``rows`` as ingest jobs (one per :data:`MAX_UPLOAD_BYTES` of CSV); their ids once
    each job completed. A job that failed or was aborted raises ``SalesforceOperationError``."""
    job_ids: list[str] = []
    for data in _csv_parts(rows):
        spec: dict[str, Any] = {
            "object": object_type,
            "operation": operation,
            "contentType": "CSV",
            "columnDelimiter": "COMMA",
            "lineEnding": "LF",
        }
        if external_id_field:
            spec["externalIdFieldName"] = external_id_field
        job_id = str(send(sf, "POST", "jobs/ingest/", json=spec).json()["id"])
        try:
            send(
                sf,
                "PUT",
                f"jobs/ingest/{job_id}/batches/",
                data=data.encode("utf-8"),
                headers={"Content-Type": "text/csv"},
            )
            send(sf, "PATCH", f"jobs/ingest/{job_id}/", json={"state": "UploadComplete"})
            wait_for_job(sf, f"jobs/ingest/{job_id}/", poll)
        except Exception:
            _abort(sf, job_id)
            raise
        job_ids.append(job_id)
    return job_ids


def wait_for_job(sf: Salesforce, path: str, poll: Polling) -> None:
    """Poll the job at ``path`` (``jobs/ingest/ID/``, ``jobs/query/ID``) until it completed;
    a job that failed, was aborted or outran the timeout raises ``SalesforceOperationError``."""
    deadline = poll.clock() + poll.timeout
    for delay in poll.backoff.delays():
        poll.sleep(delay)
        info = read_again(poll, lambda: send(sf, "GET", path).json())
        state = info.get("state")
        if state == "JobComplete":
            return
        if state in _ENDED:
            raise SalesforceOperationError(
                f"Job failure. Response content: {info.get('errorMessage') or info}"
            )
        if poll.clock() > deadline:
            raise SalesforceOperationError(f"Job timeout. Job status: {state}")


def read_again(poll: Polling, read: Callable[[], T]) -> T:
    """``read`` (a request that changes nothing), asked again after a transient failure, on the
    polls' backoff, until it failed :data:`READ_FAILURES` times in a row."""
    delays = poll.backoff.delays()
    for failures in range(1, READ_FAILURES + 1):
        try:
            return read()
        except CLIENT_ERRORS as exc:
            transient = isinstance(translate(exc), RetryableError) and not is_expired_session(exc)
            if failures == READ_FAILURES or not transient:
                raise
        poll.sleep(next(delays))
    raise AssertionError("unreachable: the last failure is raised")


def _abort(sf: Salesforce, job_id: str) -> None:
    """Stop a job we gave up on, so it applies nothing later; best effort."""
    try:
        state = send(sf, "GET", f"jobs/ingest/{job_id}/").json().get("state")
        if state not in _ENDED:
            send(sf, "PATCH", f"jobs/ingest/{job_id}/", json={"state": "Aborted"})
    except Exception:  # the error that made us abort is the one to report
        return


def send(sf: Salesforce, method: str, path: str, **kwargs: Any) -> Any:
    """One request on the client's session; a refusal raises simple-salesforce's exception."""
    headers = {**sf.headers, **kwargs.pop("headers", {})}
    answer = sf.session.request(method, sf.base_url + path, headers=headers, **kwargs)
    if answer.status_code >= 300:
        exception_handler(answer, path)
    return answer


def _csv_parts(rows: Sequence[Mapping[str, str]]) -> Iterator[str]:
    """CSV documents of at most :data:`MAX_UPLOAD_BYTES`, with the union of the rows' columns
    (a blank cell leaves that field as it is)."""
    columns = list(dict.fromkeys(name for row in rows for name in row))
    part: list[Mapping[str, str]] = []
    size = 0
    for row in rows:
        width = sum(len(value.encode("utf-8")) + 1 for value in row.values())
        if part and size + width > MAX_UPLOAD_BYTES:
            yield _csv(columns, part)
            part, size = [], 0
        part.append(row)
        size += width
    if part:
        yield _csv(columns, part)


def _csv(columns: Sequence[str], rows: Sequence[Mapping[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
