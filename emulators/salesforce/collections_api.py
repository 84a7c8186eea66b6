"""sObject Collections (``/composite/sobjects``): create, update, upsert and delete in batches.

Always HTTP 200 with one result per record, in request order. With ``allOrNone`` false (the
default) each record stands alone; with true, one failure rolls every record back and the
others report ``ALL_OR_NONE_OPERATION_ROLLED_BACK``. Problems with the request itself (more
than 200 records, unknown field, unparseable value, missing sObject type) fail it as a whole.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from emulators.base import Request, Response
from emulators.salesforce import ids
from emulators.salesforce.auth import Session
from emulators.salesforce.errors import ApiError, RejectedRecordError, json_parser_error
from emulators.salesforce.org import Org
from emulators.salesforce.responses import path_param, read_object, sf_json, sobject_of
from emulators.salesforce.schema import FieldDef, SObjectDef
from emulators.salesforce.store import RecordSource, Txn
from emulators.salesforce.writes import AmbiguousKeyError

MAX_RECORDS: Final = 200
_ROLLED_BACK: Final = RejectedRecordError(
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "Record rolled back because not all records were valid and the request was using AllOrNone "
    "header",
)


@dataclass(slots=True)
class _Item:
    sobject: SObjectDef
    fields: dict[str, Any]
    known_id: str | None = None


#: Applies one record inside a transaction; returns ``(id, created)``.
_Apply = Callable[[RecordSource, _Item, bool], tuple[str, bool]]


def create(org: Org, request: Request, session: Session) -> Response:
    def apply(txn: RecordSource, item: _Item, locked: bool) -> tuple[str, bool]:
        user = session.user_id
        return org.writer.create(txn, item.sobject, item.fields, user_id=user, locked=locked), True

    return _run(org, request, session, "composite_create", apply, None)


def update(org: Org, request: Request, session: Session) -> Response:
    def apply(txn: RecordSource, item: _Item, locked: bool) -> tuple[str, bool]:
        record_id = _update_id(item)
        user = session.user_id
        org.writer.update(txn, item.sobject, record_id, item.fields, user_id=user, locked=locked)
        return record_id, False

    return _run(org, request, session, "composite_update", apply, None)


def upsert(org: Org, request: Request, session: Session) -> Response:
    sobject = sobject_of(org.store, request)
    name = path_param(request, "field")
    key_field = sobject.field(name)
    if key_field is None or not (key_field.external_id or key_field.id_lookup):
        raise ApiError(
            400,
            "INVALID_FIELD",
            f"Provided external ID field does not exist or is not accessible: {name}",
        )

    def apply(txn: RecordSource, item: _Item, locked: bool) -> tuple[str, bool]:
        fields = dict(item.fields)
        key = (
            fields.pop(key_field.name, None)
            if key_field.type == "id"
            else fields.get(key_field.name)
        )
        try:
            return org.writer.upsert(
                txn, item.sobject, key_field, key, fields, user_id=session.user_id, locked=locked
            )
        except AmbiguousKeyError as multiple:
            raise RejectedRecordError(
                "DUPLICATE_EXTERNAL_ID",
                f"{key_field.name}: more than one record found for external id field: "
                f"[{', '.join(multiple.record_ids)}]",
                [key_field.name],
            ) from None

    return _run(org, request, session, "composite_upsert", apply, sobject, key_field)


def delete(org: Org, request: Request, session: Session) -> Response:
    raw_ids = [i for i in (request.arg("ids") or "").split(",") if i]
    if len(raw_ids) > MAX_RECORDS:
        raise _too_many()
    all_or_none = (request.arg("allOrNone") or "false").lower() == "true"
    batch = Txn(org.store)
    results: list[dict[str, Any]] = []
    failed = False
    for raw in raw_ids:
        txn = Txn(batch if all_or_none else org.store)
        try:
            sobject = org.schema.by_prefix(raw[:3]) if ids.is_valid_id(raw) else None
            if sobject is None:
                raise RejectedRecordError("MALFORMED_ID", f"malformed id {raw}", [])
            locked = org.record_locked("composite_delete")
            org.writer.delete(txn, sobject, ids.to_18(raw), user_id=session.user_id, locked=locked)
        except RejectedRecordError as failure:
            failed = True
            results.append({"id": raw, "success": False, "errors": [failure.collection_error()]})
            continue
        txn.commit()
        results.append({"id": ids.to_18(raw), "success": True, "errors": []})
    return sf_json(_settle(results, [True] * len(results), batch, all_or_none, failed))


# -- shared machinery ----------------------------------------------------------------------------
def _run(
    org: Org,
    request: Request,
    session: Session,
    endpoint: str,
    apply: _Apply,
    path_sobject: SObjectDef | None,
    key_field: FieldDef | None = None,
) -> Response:
    body = read_object(request)
    records = body.get("records")
    if not isinstance(records, list):
        raise json_parser_error("The request body must contain a 'records' array")
    if len(records) > MAX_RECORDS:
        raise _too_many()
    all_or_none = body.get("allOrNone", False)
    if not isinstance(all_or_none, bool):
        raise json_parser_error("allOrNone must be a boolean")
    items = [_prepare(org, record, path_sobject) for record in records]
    for item in items:  # a field the user may not see or edit fails the whole request
        written = [name for name in item.fields if name != "Id"]
        creating = endpoint == "composite_create"
        org.security.check_write(session.user_id, item.sobject.name, written, creating=creating)
    batch = Txn(org.store)
    results: list[dict[str, Any]] = []
    existed: list[bool] = []
    failed = False
    for item in items:
        txn = Txn(batch if all_or_none else org.store)
        try:
            record_id, created = apply(txn, item, org.record_locked(endpoint))
        except RejectedRecordError as failure:
            failed = True
            result: dict[str, Any] = {"success": False, "errors": [failure.collection_error()]}
            if item.known_id:
                result = {"id": item.known_id, **result}
            results.append(result)
            existed.append(item.known_id is not None)
            continue
        txn.commit()
        success: dict[str, Any] = {"id": record_id, "success": True, "errors": []}
        if key_field is not None:
            success["created"] = created
        results.append(success)
        existed.append(not created)
    return sf_json(_settle(results, existed, batch, all_or_none, failed))


def _settle(
    results: list[dict[str, Any]],
    existed: list[bool],
    batch: Txn,
    all_or_none: bool,
    failed: bool,
) -> list[dict[str, Any]]:
    """Commit an allOrNone batch, or turn its successes into rolled-back failures.

    A rolled-back record keeps its id only if it existed before the request.
    """
    if not all_or_none:
        return results
    if not failed:
        batch.commit()
        return results
    settled = []
    for result, had_id in zip(results, existed, strict=True):
        if not result["success"]:
            settled.append(result)
            continue
        rolled: dict[str, Any] = {"success": False, "errors": [_ROLLED_BACK.collection_error()]}
        settled.append({"id": result["id"], **rolled} if had_id else rolled)
    return settled


def _prepare(org: Org, record: Any, path_sobject: SObjectDef | None) -> _Item:
    if not isinstance(record, dict):
        raise json_parser_error("Each record must be a JSON object")
    attributes = record.get("attributes")
    type_name = attributes.get("type") if isinstance(attributes, dict) else None
    if path_sobject is not None and type_name is None:
        type_name = path_sobject.name
    if not isinstance(type_name, str):
        raise ApiError(
            400,
            "INVALID_TYPE",
            "Invalid sObject type: the attributes of each record must name its type",
        )
    sobject = org.schema.get(type_name)
    if sobject is None:
        raise ApiError(400, "INVALID_TYPE", f"sObject type '{type_name}' is not supported.")
    if path_sobject is not None and sobject.name != path_sobject.name:
        raise ApiError(
            400, "INVALID_TYPE", f"Record type {sobject.name} does not match {path_sobject.name}"
        )
    fields = org.writer.parse_body(sobject, record)
    raw_id = fields.get("Id")
    known = ids.to_18(raw_id) if isinstance(raw_id, str) and ids.is_valid_id(raw_id) else None
    return _Item(sobject, fields, known)


def _update_id(item: _Item) -> str:
    raw = item.fields.get("Id")
    if not raw:
        raise RejectedRecordError("MISSING_ARGUMENT", "Id not specified in an update call", [])
    if item.known_id is None or item.known_id[:3] != item.sobject.key_prefix:
        raise RejectedRecordError(
            "MALFORMED_ID", f"{item.sobject.label} ID: id value of incorrect type: {raw}", ["Id"]
        )
    return item.known_id


def _too_many() -> ApiError:
    return ApiError(
        400,
        "EXCEEDED_ID_LIMIT",
        f"record limit reached. cannot submit more than {MAX_RECORDS} records into this call",
    )
