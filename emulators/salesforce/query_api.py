"""The ``query``/``queryAll`` resources over HTTP: first pages and ``nextRecordsUrl`` pages."""

from __future__ import annotations

from emulators.base import Request, Response
from emulators.salesforce.auth import Session
from emulators.salesforce.errors import ApiError
from emulators.salesforce.org import Org
from emulators.salesforce.responses import path_param, sf_json, version


def query(org: Org, request: Request, session: Session) -> Response:
    soql = request.arg("q")
    if not soql:
        raise ApiError(400, "MALFORMED_QUERY", "A query string has to be specified")
    if any(text in soql for text in org.failing_queries):
        raise ApiError(503, "SERVER_UNAVAILABLE", "Server temporarily unavailable")
    resource = "queryAll" if "/queryAll" in request.path else "query"
    page = org.queries.run(
        soql,
        include_deleted=resource == "queryAll",
        version=version(request),
        resource=resource,
        visible=lambda obj, field: (
            org.security.access(session.user_id, obj.name, field.name) is not None
        ),
        time_zone=org.time_zone_of(session.user_id),
    )
    return sf_json(page)


def query_more(org: Org, request: Request, session: Session) -> Response:
    page = org.queries.more(
        path_param(request, "locator"),
        version=version(request),
        resource=request.params.get("resource", "query"),
    )
    return sf_json(page)
