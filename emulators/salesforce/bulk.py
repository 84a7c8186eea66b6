"""Bulk API 2.0 ingest jobs: create, upload CSV, close, poll, read per-record results.

States advance as a client polls: ``Open`` → (``UploadComplete``) → ``InProgress`` →
``JobComplete``; the rows are applied, through the same :class:`Writer` as the REST API, when
the job completes. A job whose CSV names an unknown column fails as a whole
(``InvalidBatch : Field name not found``); other problems fail single rows, which land in
``failedResults/`` with ``sf__Error`` = ``CODE:message:fields --``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from emulators.salesforce import ids, values
from emulators.salesforce.errors import ApiError, RejectedRecordError
from emulators.salesforce.schema import FieldDef, Schema, SObjectDef
from emulators.salesforce.store import Store, Txn
from emulators.salesforce.writes import AmbiguousKeyError, Writer

OPERATIONS: Final = frozenset({"insert", "update", "upsert", "delete", "hardDelete"})
DELIMITERS: Final = {
    "COMMA": ",",
    "TAB": "\t",
    "PIPE": "|",
    "SEMICOLON": ";",
    "CARET": "^",
    "BACKQUOTE": "`",
}
JOB_PREFIX: Final = "750"


@dataclass
class IngestJob:
    id: str
    sobject: SObjectDef
    operation: str
    external_id_field: str | None
    line_ending: str
    column_delimiter: str
    created_by: str
    created_date: datetime
    api_version: str
    state: str = "Open"
    modstamp: datetime | None = None
    data: str | None = None
    polls: int = 0
    processed: int = 0
    failed: int = 0
    error_message: str | None = None
    header: list[str] = field(default_factory=list)
    successes: list[list[str]] = field(default_factory=list)
    failures: list[list[str]] = field(default_factory=list)
    unprocessed: list[list[str]] = field(default_factory=list)


class BulkService:
    """Holds ingest jobs and runs them against the store when polled to completion."""

    def __init__(
        self,
        *,
        store: Store,
        writer: Writer,
        ids_factory: ids.IdFactory,
        clock: Callable[[], datetime],
        locked: Callable[[], bool],
    ) -> None:
        self.store = store
        self.writer = writer
        self.jobs: dict[str, IngestJob] = {}
        self.polls_to_complete = 2
        self._ids = ids_factory
        self._clock = clock
        self._locked = locked

    @property
    def schema(self) -> Schema:
        return self.store.schema

    # -- resources -----------------------------------------------------------------------------
    def create(self, body: Any, *, user_id: str, version: str) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ApiError(400, "INVALIDJOB", "The request body must be a JSON object")
        sobject = self.schema.get(str(body.get("object", "")))
        if sobject is None:
            raise ApiError(
                400, "INVALIDJOB", f"sObject type '{body.get('object')}' is not supported"
            )
        operation = str(body.get("operation", ""))
        if operation not in OPERATIONS:
            raise ApiError(400, "INVALIDJOB", f"Invalid operation: {operation}")
        external = body.get("externalIdFieldName")
        if operation == "upsert" and not external:
            raise ApiError(400, "INVALIDJOB", "External ID field is required for upsert")
        delimiter = str(body.get("columnDelimiter", "COMMA"))
        line_ending = str(body.get("lineEnding", "LF"))
        if delimiter not in DELIMITERS or line_ending not in ("LF", "CRLF"):
            raise ApiError(400, "INVALIDJOB", "Invalid columnDelimiter or lineEnding")
        now = self._clock()
        job = IngestJob(
            id=self._ids.new(JOB_PREFIX),
            sobject=sobject,
            operation=operation,
            external_id_field=str(external) if external else None,
            line_ending=line_ending,
            column_delimiter=delimiter,
            created_by=user_id,
            created_date=now,
            modstamp=now,
            api_version=version,
        )
        self.jobs[job.id] = job
        info = self._info(job, with_counts=False)
        info["contentUrl"] = f"services/data/v{version}/jobs/ingest/{job.id}/batches"
        return info

    def upload(self, job_id: str, data: bytes) -> None:
        job = self._job(job_id)
        if job.state != "Open":
            raise ApiError(409, "INVALIDJOBSTATE", f"Job is in state {job.state}, not Open")
        if job.data is not None:
            raise ApiError(409, "INVALIDJOBSTATE", "Data was already uploaded for this job")
        job.data = data.decode("utf-8-sig")
        job.modstamp = self._clock()

    def set_state(self, job_id: str, body: Any) -> dict[str, Any]:
        job = self._job(job_id)
        state = body.get("state") if isinstance(body, dict) else None
        if state == "UploadComplete" and job.state == "Open":
            job.state = "UploadComplete"
        elif state == "Aborted" and job.state in ("Open", "UploadComplete", "InProgress"):
            job.state = "Aborted"
            job.header, job.unprocessed = self._rows(job)
        else:
            raise ApiError(
                409, "INVALIDJOBSTATE", f"Cannot change state from {job.state} to {state}"
            )
        job.modstamp = self._clock()
        return self._info(job, with_counts=False)

    def info(self, job_id: str) -> dict[str, Any]:
        """Job info; each poll moves an uploaded job one step towards completion."""
        job = self._job(job_id)
        if job.state in ("UploadComplete", "InProgress"):
            job.polls += 1
            if job.polls >= self.polls_to_complete:
                self._run(job)
            else:
                job.state = "InProgress"
            job.modstamp = self._clock()
        return self._info(job, with_counts=True)

    def list_jobs(self) -> dict[str, Any]:
        return {
            "done": True,
            "records": [self._info(job, with_counts=False) for job in self.jobs.values()],
            "nextRecordsUrl": None,
        }

    def delete(self, job_id: str) -> None:
        job = self._job(job_id)
        if job.state not in ("JobComplete", "Failed", "Aborted", "UploadComplete"):
            raise ApiError(409, "INVALIDJOBSTATE", f"Cannot delete a job in state {job.state}")
        del self.jobs[job_id]

    def results(self, job_id: str, kind: str) -> str:
        job = self._job(job_id)
        kind = kind.lower()
        if kind == "successfulresults":
            return _csv(["sf__Id", "sf__Created", *job.header], job.successes)
        if kind == "failedresults":
            return _csv(["sf__Id", "sf__Error", *job.header], job.failures)
        return _csv(job.header, job.unprocessed)

    # -- processing ----------------------------------------------------------------------------
    def _job(self, job_id: str) -> IngestJob:
        job = self.jobs.get(job_id)
        if job is None:
            raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
        return job

    def _rows(self, job: IngestJob) -> tuple[list[str], list[list[str]]]:
        text = job.data or ""
        reader = csv.reader(
            io.StringIO(text, newline=""), delimiter=DELIMITERS[job.column_delimiter]
        )
        rows = [row for row in reader if row]
        if not rows:
            return [], []
        return rows[0], rows[1:]

    def _run(self, job: IngestJob) -> None:
        if not job.data:
            job.state, job.error_message = "Failed", "InvalidBatch : No data was uploaded"
            return
        header, rows = self._rows(job)
        job.header = header
        columns: list[FieldDef] = []
        for name in header:
            definition = job.sobject.field(name)
            if definition is None:
                job.state = "Failed"
                job.error_message = f"InvalidBatch : Field name not found : {name}"
                job.unprocessed = rows
                return
            columns.append(definition)
        key_name = job.external_id_field or "Id"
        key_field = job.sobject.field(key_name)
        if job.operation == "upsert" and (
            key_field is None or key_name.lower() not in [h.lower() for h in header]
        ):
            job.state = "Failed"
            job.error_message = f"InvalidBatch : Field name not found : {key_name}"
            job.unprocessed = rows
            return
        for row in rows:
            self._apply(job, columns, key_field, row)
        job.processed = len(rows)
        job.failed = len(job.failures)
        job.state = "JobComplete"

    def _apply(
        self, job: IngestJob, columns: list[FieldDef], key_field: FieldDef | None, row: list[str]
    ) -> None:
        txn = Txn(self.store)
        record_id = ""
        try:
            parsed = self._parse_row(columns, row)
            locked = self._locked()
            user = job.created_by
            created = False
            if job.operation == "insert":
                record_id = self.writer.create(
                    txn, job.sobject, parsed, user_id=user, locked=locked
                )
                created = True
            elif job.operation == "upsert" and key_field is not None:
                key = parsed.pop(key_field.name, None)
                record_id, created = self.writer.upsert(
                    txn, job.sobject, key_field, key, parsed, user_id=user, locked=locked
                )
            else:
                record_id = self._row_id(parsed)
                if job.operation == "update":
                    self.writer.update(
                        txn, job.sobject, record_id, parsed, user_id=user, locked=locked
                    )
                else:
                    self.writer.delete(txn, job.sobject, record_id, user_id=user, locked=locked)
        except RejectedRecordError as failure:
            detail = f"{failure.code}:{failure.message}:{','.join(failure.fields)} --"
            job.failures.append([record_id, detail, *row])
            return
        except AmbiguousKeyError as multiple:
            field_name = multiple.field
            detail = (
                f"DUPLICATE_EXTERNAL_ID:{field_name}: more than one record found:{field_name} --"
            )
            job.failures.append(["", detail, *row])
            return
        txn.commit()
        job.successes.append([record_id, "true" if created else "false", *row])

    @staticmethod
    def _parse_row(columns: list[FieldDef], row: list[str]) -> dict[str, Any]:
        parsed: dict[str, Any] = {}
        for definition, cell in zip(columns, row, strict=False):
            if cell == "":
                continue
            try:
                parsed[definition.name] = values.from_csv(definition, cell)
            except values.BadValueError:
                raise RejectedRecordError(
                    "INVALID_TYPE_ON_FIELD_IN_RECORD",
                    f"{definition.label}: value not of required type: {cell}",
                    [definition.name],
                ) from None
        return parsed

    @staticmethod
    def _row_id(parsed: dict[str, Any]) -> str:
        raw = parsed.pop("Id", None)
        if not raw:
            raise RejectedRecordError("MISSING_ARGUMENT", "Id not specified in an update call", [])
        if not ids.is_valid_id(str(raw)):
            raise RejectedRecordError("MALFORMED_ID", f"malformed id {raw}", ["Id"])
        return ids.to_18(str(raw))

    def _info(self, job: IngestJob, *, with_counts: bool) -> dict[str, Any]:
        info: dict[str, Any] = {
            "id": job.id,
            "operation": job.operation,
            "object": job.sobject.name,
            "createdById": job.created_by,
            "createdDate": values.format_datetime(job.created_date),
            "systemModstamp": values.format_datetime(job.modstamp or job.created_date),
            "state": job.state,
        }
        if job.external_id_field:
            info["externalIdFieldName"] = job.external_id_field
        info.update(
            concurrencyMode="Parallel",
            contentType="CSV",
            apiVersion=float(job.api_version),
            jobType="V2Ingest",
            lineEnding=job.line_ending,
            columnDelimiter=job.column_delimiter,
        )
        if with_counts:
            info.update(
                numberRecordsProcessed=job.processed,
                numberRecordsFailed=job.failed,
                retries=0,
                totalProcessingTime=0,
                apiActiveProcessingTime=0,
                apexProcessingTime=0,
            )
        if job.error_message:
            info["errorMessage"] = job.error_message
        return info


def _csv(header: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()
