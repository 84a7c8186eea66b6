"""Bulk API 2.0 query jobs: create, poll, page through CSV results, abort, delete.

A job is created ``UploadComplete`` with its SOQL checked at once (invalid SOQL is refused with
the REST query's error code); each poll of the job moves it on, ``InProgress`` then
``JobComplete``, and the query runs when it completes, so the results are what the org held
then. Results are CSV, columns in the order of the SELECT list, a null as an empty cell; pages
hold up to ``maxRecords`` rows and carry ``Sforce-NumberOfRecords`` and ``Sforce-Locator`` (the
next page's locator, the text ``null`` on the last page). :meth:`QueryJobs.fail_next` makes the
next jobs end ``Failed`` with an ``errorMessage``, as a query that times out does.
"""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from emulators.salesforce import values
from emulators.salesforce.bulk import DELIMITERS, JOB_PREFIX
from emulators.salesforce.errors import ApiError
from emulators.salesforce.ids import IdFactory
from emulators.salesforce.soql_bind import Plan, Resolver
from emulators.salesforce.soql_eval import select_rows
from emulators.salesforce.store import Store

OPERATIONS: Final = frozenset({"query", "queryAll"})
#: Rows per results page when the client gives no ``maxRecords``.
DEFAULT_PAGE: Final = 50_000
_ENDED: Final = ("JobComplete", "Failed", "Aborted")
_LINE_ENDINGS: Final = {"LF": "\n", "CRLF": "\r\n"}


@dataclass
class QueryJob:
    id: str
    operation: str
    plan: Plan
    created_by: str
    created_date: datetime
    api_version: str
    line_ending: str
    column_delimiter: str
    state: str = "UploadComplete"
    modstamp: datetime | None = None
    polls: int = 0
    error_message: str | None = None
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


class QueryJobs:
    """Holds query jobs and runs each one's SOQL when it is polled to completion."""

    def __init__(
        self,
        *,
        store: Store,
        ids_factory: IdFactory,
        clock: Callable[[], datetime],
        polls_to_complete: Callable[[], int],
    ) -> None:
        self.store = store
        self.jobs: dict[str, QueryJob] = {}
        self._ids = ids_factory
        self._clock = clock
        self._polls_to_complete = polls_to_complete
        self._failures: list[str] = []

    def fail_next(self, message: str, count: int = 1) -> None:
        """The next ``count`` jobs to complete end ``Failed`` with ``message``."""
        self._failures.extend([message] * count)

    # -- resources -----------------------------------------------------------------------------
    def create(
        self, body: Any, plan_for: Callable[[str], Plan], *, user_id: str, version: str
    ) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ApiError(400, "INVALIDJOB", "The request body must be a JSON object")
        operation = str(body.get("operation", ""))
        if operation not in OPERATIONS:
            raise ApiError(400, "INVALIDJOB", f"Invalid operation: {operation}")
        soql = body.get("query")
        if not isinstance(soql, str) or not soql.strip():
            raise ApiError(400, "INVALIDJOB", "A query is required for a query job")
        delimiter = str(body.get("columnDelimiter", "COMMA"))
        line_ending = str(body.get("lineEnding", "LF"))
        if delimiter not in DELIMITERS or line_ending not in _LINE_ENDINGS:
            raise ApiError(400, "INVALIDJOB", "Invalid columnDelimiter or lineEnding")
        plan = plan_for(soql)
        if plan.count_only:
            raise ApiError(400, "INVALIDJOB", "COUNT() is not supported by Bulk API 2.0 queries")
        now = self._clock()
        job = QueryJob(
            id=self._ids.new(JOB_PREFIX),
            operation=operation,
            plan=plan,
            created_by=user_id,
            created_date=now,
            modstamp=now,
            api_version=version,
            line_ending=line_ending,
            column_delimiter=delimiter,
        )
        self.jobs[job.id] = job
        return self._info(job)

    def info(self, job_id: str) -> dict[str, Any]:
        """Job info; each poll moves an unfinished job one step towards completion."""
        job = self._job(job_id)
        if job.state in ("UploadComplete", "InProgress"):
            job.polls += 1
            if job.polls >= self._polls_to_complete():
                self._run(job)
            else:
                job.state = "InProgress"
            job.modstamp = self._clock()
        return self._info(job)

    def list_jobs(self) -> dict[str, Any]:
        return {
            "done": True,
            "records": [self._info(job) for job in self.jobs.values()],
            "nextRecordsUrl": None,
        }

    def set_state(self, job_id: str, body: Any) -> dict[str, Any]:
        """Only ``Aborted`` may be asked for, of a job that has not ended."""
        job = self._job(job_id)
        state = body.get("state") if isinstance(body, dict) else None
        if state != "Aborted" or job.state in _ENDED:
            raise ApiError(
                400, "INVALIDJOBSTATE", f"Cannot change state from {job.state} to {state}"
            )
        job.state = "Aborted"
        job.modstamp = self._clock()
        return self._info(job)

    def delete(self, job_id: str) -> None:
        job = self._job(job_id)
        if job.state not in (*_ENDED, "UploadComplete"):
            raise ApiError(400, "INVALIDJOBSTATE", f"Cannot delete a job in state {job.state}")
        del self.jobs[job_id]

    def results(self, job_id: str, locator: str | None, max_records: str | None) -> ResultsPage:
        job = self._job(job_id)
        if job.state != "JobComplete":
            raise ApiError(
                400, "INVALIDJOBSTATE", f"Results are not available for a job in state {job.state}"
            )
        start = _offset(locator) if locator else 0
        size = _page_size(max_records)
        rows = job.rows[start : start + size]
        end = start + len(rows)
        out = io.StringIO()
        writer = csv.writer(
            out,
            delimiter=DELIMITERS[job.column_delimiter],
            lineterminator=_LINE_ENDINGS[job.line_ending],
            quoting=csv.QUOTE_ALL,
        )
        writer.writerow(job.header)
        writer.writerows(rows)
        following = _locator(end) if end < len(job.rows) else "null"
        return ResultsPage(out.getvalue(), len(rows), following)

    # -- processing ----------------------------------------------------------------------------
    def _job(self, job_id: str) -> QueryJob:
        job = self.jobs.get(job_id)
        if job is None:
            raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
        return job

    def _run(self, job: QueryJob) -> None:
        if self._failures:
            job.state, job.error_message = "Failed", self._failures.pop(0)
            return
        plan = job.plan
        resolver = Resolver(self.store)
        records = select_rows(plan, self.store, include_deleted=job.operation == "queryAll")
        job.header = [path.text for path in plan.select]
        job.rows = [
            [_cell(values.to_json(p.final, resolver.value(record, p))) for p in plan.select]
            for record in records
        ]
        job.state = "JobComplete"

    def _info(self, job: QueryJob) -> dict[str, Any]:
        info: dict[str, Any] = {
            "id": job.id,
            "operation": job.operation,
            "object": job.plan.sobject.name,
            "createdById": job.created_by,
            "createdDate": values.format_datetime(job.created_date),
            "systemModstamp": values.format_datetime(job.modstamp or job.created_date),
            "state": job.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(job.api_version),
            "jobType": "V2Query",
            "lineEnding": job.line_ending,
            "columnDelimiter": job.column_delimiter,
            "numberRecordsProcessed": len(job.rows),
            "retries": 0,
            "totalProcessingTime": 0,
            "isPkChunkingSupported": True,
        }
        if job.error_message:
            info["errorMessage"] = job.error_message
        return info


@dataclass(frozen=True, slots=True)
class ResultsPage:
    """One page of a query job's results: CSV text, its row count and the next locator."""

    text: str
    count: int
    locator: str


def _cell(value: Any) -> str:
    """A REST JSON value as a Bulk 2.0 CSV cell (a null is an empty cell)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _locator(offset: int) -> str:
    """An opaque locator for the page starting at ``offset``."""
    return base64.b64encode(str(offset).encode("ascii")).decode("ascii").rstrip("=")


def _offset(locator: str) -> int:
    try:
        text = base64.b64decode(locator + "=" * (-len(locator) % 4), validate=True).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        text = ""
    if not text.isdigit():
        raise ApiError(400, "INVALIDLOCATOR", f"Invalid locator: {locator}")
    return int(text)


def _page_size(max_records: str | None) -> int:
    if max_records is None or max_records == "":
        return DEFAULT_PAGE
    if not max_records.isdigit() or int(max_records) < 1:
        message = f"maxRecords must be a positive integer: {max_records}"
        raise ApiError(400, "INVALIDMAXRECORDS", message)
    return int(max_records)
