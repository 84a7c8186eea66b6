"""Bulk API 2.0 resources over HTTP: ingest jobs (``/jobs/ingest``, logic in :mod:`bulk`) and
query jobs (``/jobs/query``, logic in :mod:`bulk_query`)."""

from __future__ import annotations

from emulators.base import Request, Response
from emulators.salesforce.auth import Session
from emulators.salesforce.org import Org
from emulators.salesforce.responses import read_json, sf_json, version
from emulators.salesforce.soql_bind import Plan


def create_job(org: Org, request: Request, session: Session) -> Response:
    info = org.bulk.create(read_json(request), user_id=session.user_id, version=version(request))
    return sf_json(info)


def list_jobs(org: Org, request: Request, session: Session) -> Response:
    return sf_json(org.bulk.list_jobs())


def get_job(org: Org, request: Request, session: Session) -> Response:
    return sf_json(org.bulk.info(request.params["job_id"]))


def set_state(org: Org, request: Request, session: Session) -> Response:
    return sf_json(org.bulk.set_state(request.params["job_id"], read_json(request)))


def delete_job(org: Org, request: Request, session: Session) -> Response:
    org.bulk.delete(request.params["job_id"])
    return Response.empty(204)


def upload(org: Org, request: Request, session: Session) -> Response:
    org.bulk.upload(request.params["job_id"], request.body)
    return Response.empty(201)


def results(org: Org, request: Request, session: Session) -> Response:
    text = org.bulk.results(request.params["job_id"], request.params["kind"])
    return Response(200, text.encode("utf-8"), {"Content-Type": "text/csv"})


# -- query jobs --------------------------------------------------------------------------------
def create_query_job(org: Org, request: Request, session: Session) -> Response:
    def plan_for(soql: str) -> Plan:
        return org.queries.plan(
            soql,
            visible=lambda obj, field: (
                org.security.access(session.user_id, obj.name, field.name) is not None
            ),
            time_zone=org.time_zone_of(session.user_id),
        )

    info = org.bulk_queries.create(
        read_json(request), plan_for, user_id=session.user_id, version=version(request)
    )
    return sf_json(info)


def list_query_jobs(org: Org, request: Request, session: Session) -> Response:
    return sf_json(org.bulk_queries.list_jobs())


def get_query_job(org: Org, request: Request, session: Session) -> Response:
    return sf_json(org.bulk_queries.info(request.params["job_id"]))


def abort_query_job(org: Org, request: Request, session: Session) -> Response:
    return sf_json(org.bulk_queries.set_state(request.params["job_id"], read_json(request)))


def delete_query_job(org: Org, request: Request, session: Session) -> Response:
    org.bulk_queries.delete(request.params["job_id"])
    return Response.empty(204)


def query_results(org: Org, request: Request, session: Session) -> Response:
    page = org.bulk_queries.results(
        request.params["job_id"], request.arg("locator"), request.arg("maxRecords")
    )
    headers = {
        "Content-Type": "text/csv",
        "Sforce-NumberOfRecords": str(page.count),
        "Sforce-Locator": page.locator,
    }
    return Response(200, page.text.encode("utf-8"), headers)
