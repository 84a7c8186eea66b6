"""The ``/sobjects`` resources: describe, and single-record create/read/update/delete/upsert.

Status codes follow the REST API: create 201 ``{"id","success","errors"}``; update and delete
204; upsert by external id 201 when created, 200 with ``"created": false`` (API 46.0 and later,
204 before) when updated, 300 with the matching record URLs when the key is ambiguous, 404 when
the external-id field does not exist, 400 ``INVALID_FIELD`` when the body names the key field or
``Id`` (documented: neither may be in an upsert body).
"""

from __future__ import annotations

from typing import Any, Final

from emulators.base import Request, Response
from emulators.salesforce import describe as describing
from emulators.salesforce import ids, values
from emulators.salesforce.auth import Session
from emulators.salesforce.errors import ApiError, RejectedRecordError, not_found
from emulators.salesforce.org import Org
from emulators.salesforce.responses import (
    path_param,
    read_object,
    sf_json,
    sobject_of,
    version,
)
from emulators.salesforce.schema import FieldDef, SObjectDef
from emulators.salesforce.soql_eval import attributes, record_url
from emulators.salesforce.store import Record, Txn
from emulators.salesforce.writes import AmbiguousKeyError

#: From this API version on, an upsert that updates answers 200 with a body instead of 204.
UPSERT_BODY_VERSION: Final = 46.0


def describe_global(org: Org, request: Request, session: Session) -> Response:
    return sf_json(describing.global_describe(org.schema, version(request)))


def basic_info(org: Org, request: Request, session: Session) -> Response:
    sobject = sobject_of(org.store, request)
    summary = describing.object_summary(sobject, version(request))
    return sf_json({"objectDescribe": summary, "recentItems": []})


def describe(org: Org, request: Request, session: Session) -> Response:
    sobject = sobject_of(org.store, request)
    described = describing.describe_object(
        org.schema,
        sobject,
        version(request),
        lambda field: org.security.access(session.user_id, sobject.name, field.name),
    )
    return sf_json(described)


def create(org: Org, request: Request, session: Session) -> Response:
    sobject = sobject_of(org.store, request)
    fields = org.writer.parse_body(sobject, read_object(request))
    org.security.check_write(session.user_id, sobject.name, fields, creating=True)
    txn = Txn(org.store)
    try:
        record_id = org.writer.create(txn, sobject, fields, user_id=session.user_id)
    except RejectedRecordError as failure:
        raise failure.as_api_error() from None
    txn.commit()
    return sf_json({"id": record_id, "success": True, "errors": []}, 201)


def get(org: Org, request: Request, session: Session) -> Response:
    sobject = sobject_of(org.store, request)
    record = _live_record(org, sobject, path_param(request, "record_id"))
    wanted = request.arg("fields")
    return sf_json(_render(sobject, record, version(request), wanted))


def update(org: Org, request: Request, session: Session) -> Response:
    sobject = sobject_of(org.store, request)
    record = _live_record(org, sobject, path_param(request, "record_id"))
    fields = org.writer.parse_body(sobject, read_object(request))
    org.security.check_write(session.user_id, sobject.name, fields, creating=False)
    _write(
        org,
        lambda txn: org.writer.update(txn, sobject, record["Id"], fields, user_id=session.user_id),
    )
    return Response.empty(204)


def delete(org: Org, request: Request, session: Session) -> Response:
    sobject = sobject_of(org.store, request)
    record = _live_record(org, sobject, path_param(request, "record_id"))
    _write(org, lambda txn: org.writer.delete(txn, sobject, record["Id"], user_id=session.user_id))
    return Response.empty(204)


def get_by_external_id(org: Org, request: Request, session: Session) -> Response:
    sobject = sobject_of(org.store, request)
    key_field = _key_field(sobject, path_param(request, "field"))
    matches = org.store.find_by(
        sobject, key_field.name, _key(key_field, path_param(request, "value"))
    )
    if len(matches) > 1:
        return _ambiguous(sobject, matches, version(request))
    if not matches:
        raise not_found()
    record = org.store.get(sobject, matches[0])
    assert record is not None
    return sf_json(_render(sobject, record, version(request), request.arg("fields")))


def upsert(org: Org, request: Request, session: Session) -> Response:
    sobject = sobject_of(org.store, request)
    key_field = _key_field(sobject, path_param(request, "field"))
    key = _key(key_field, path_param(request, "value"))
    body = read_object(request)
    _refuse_key_in_body(key_field, body)
    fields = org.writer.parse_body(sobject, body)
    org.security.check_write(session.user_id, sobject.name, fields, creating=False)
    txn = Txn(org.store)
    try:
        record_id, created = org.writer.upsert(
            txn, sobject, key_field, key, fields, user_id=session.user_id
        )
    except AmbiguousKeyError as multiple:
        return _ambiguous(sobject, multiple.record_ids, version(request))
    except RejectedRecordError as failure:
        raise failure.as_api_error() from None
    txn.commit()
    body = {"id": record_id, "success": True, "errors": [], "created": created}
    if created:
        return sf_json(body, 201)
    if float(version(request)) >= UPSERT_BODY_VERSION:
        return sf_json(body, 200)
    return Response.empty(204)


def record_count(org: Org, request: Request, session: Session) -> Response:
    names = [n for n in (request.arg("sObjects") or "").split(",") if n]
    objects = [org.schema.get(n) for n in names] if names else list(org.schema)
    counts = [
        {"count": sum(1 for _ in org.store.rows(obj)), "name": obj.name}
        for obj in objects
        if obj is not None
    ]
    return sf_json({"sObjects": counts})


# -- helpers -------------------------------------------------------------------------------------
def _write(org: Org, action: Any) -> None:
    """Apply one single-record write; a rejected record is a 400 error array."""
    txn = Txn(org.store)
    try:
        action(txn)
    except RejectedRecordError as failure:
        raise failure.as_api_error() from None
    txn.commit()


def _live_record(org: Org, sobject: SObjectDef, raw_id: str) -> Record:
    if not ids.is_valid_id(raw_id):
        raise ApiError(
            404,
            "NOT_FOUND",
            f"Provided external ID field does not exist or is not accessible: {raw_id}",
        )
    record = org.store.get(sobject, ids.to_18(raw_id))
    if record is None:
        raise not_found()
    if record.get("IsDeleted"):
        raise ApiError(404, "ENTITY_IS_DELETED", "entity is deleted")
    return record


def _render(
    sobject: SObjectDef, record: Record, api_version: str, wanted: str | None
) -> dict[str, Any]:
    rendered: dict[str, Any] = {"attributes": attributes(api_version, sobject, record)}
    definitions: list[FieldDef] = list(sobject)
    if wanted:
        definitions = []
        for name in (n.strip() for n in wanted.split(",") if n.strip()):
            definition = sobject.field(name)
            if definition is None:
                raise ApiError(
                    400,
                    "INVALID_FIELD",
                    f"No such column '{name}' on sobject of type {sobject.name}",
                )
            definitions.append(definition)
    for definition in definitions:
        rendered[definition.name] = values.to_json(definition, record.get(definition.name))
    return rendered


def _key_field(sobject: SObjectDef, name: str) -> FieldDef:
    definition = sobject.field(name)
    if definition is None:
        raise ApiError(
            404,
            "NOT_FOUND",
            f"Provided external ID field does not exist or is not accessible: {name}",
        )
    if not (definition.external_id or definition.id_lookup):
        raise ApiError(
            400,
            "INVALID_FIELD",
            f"Field {definition.name} is not an external ID or indexed field for {sobject.name}",
        )
    return definition


def _refuse_key_in_body(key_field: FieldDef, body: dict[str, Any]) -> None:
    """The upsert key belongs in the URL only: Salesforce documents that naming ``Id`` or the
    external-id field in the body is an error (sObject Collections upserts, by contrast, carry
    the key in each record)."""
    named = {str(key).lower(): str(key) for key in body}
    clashes = [
        named[n.lower()] for n in dict.fromkeys((key_field.name, "Id")) if n.lower() in named
    ]
    if clashes:
        raise ApiError(
            400,
            "INVALID_FIELD",
            f"{', '.join(clashes)}: the upsert key is given in the URL and must not be in the "
            "request body",
            clashes,
        )


def _key(definition: FieldDef, raw: str) -> Any:
    if definition.type == "id":
        return ids.to_18(raw) if ids.is_valid_id(raw) else raw
    try:
        return values.from_json(definition, raw)
    except values.BadValueError as exc:
        raise ApiError(400, "INVALID_FIELD", str(exc)) from None


def _ambiguous(sobject: SObjectDef, record_ids: list[str], api_version: str) -> Response:
    return sf_json([record_url(api_version, sobject.name, i) for i in record_ids], 300)
