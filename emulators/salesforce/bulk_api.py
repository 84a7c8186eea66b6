"""Bulk API 2.0 ingest resources over HTTP (``/jobs/ingest``); the logic lives in :mod:`bulk`."""

from __future__ import annotations

from emulators.base import Request, Response
from emulators.salesforce.auth import Session
from emulators.salesforce.org import Org
from emulators.salesforce.responses import read_json, sf_json, version


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
