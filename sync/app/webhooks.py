"""The receiver's HTTP app (Starlette): webhooks, health, readiness and metrics.

It only translates: the body is read up to the configured limit, the work is done by
:class:`sync.app.intake.Intake` in a worker thread (it waits on the store), and its answer is
sent back as JSON.

- ``POST /webhooks/delighted/{source}``: Delighted response webhooks for the source of that name;
- ``GET /healthz``: 200 while the process is up;
- ``GET /readyz``: 200 when the store answers, the connectors are connected and the rules are
  loaded, else 503 with what is missing;
- ``GET /metrics``: Prometheus' text format.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sync.app.health import Health
from sync.app.intake import Answer, Intake
from sync.app.telemetry import CONTENT_TYPE, Telemetry


class _TooLargeError(Exception):
    pass


async def _body(request: Request, limit: int) -> bytes:
    """The request body, refusing it as soon as it is known to exceed ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _TooLargeError
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLargeError
        chunks.append(chunk)
    return b"".join(chunks)


def _json(answer: Answer) -> JSONResponse:
    return JSONResponse(dict(answer.body), answer.status, headers=dict(answer.headers))


def create_app(intake: Intake, health: Health, telemetry: Telemetry) -> Starlette:
    """The receiver's routes over one intake, health and telemetry."""

    async def delighted(request: Request) -> Response:
        source = request.path_params["source"]
        try:
            body = await _body(request, intake.settings.max_body_bytes)
        except _TooLargeError:
            answer = intake.too_large(source)
            return _json(answer)  # the connection is closed with the rest of the body unread
        signature = request.headers.get("x-delighted-webhook-signature")
        return _json(await run_in_threadpool(intake.delighted, source, body, signature))

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> Response:
        ready, checks = await run_in_threadpool(health.readiness)
        return JSONResponse({"ready": ready, "checks": checks}, 200 if ready else 503)

    async def metrics(_request: Request) -> Response:
        return Response(await run_in_threadpool(telemetry.exposition), media_type=CONTENT_TYPE)

    return Starlette(
        routes=[
            Route("/webhooks/delighted/{source}", delighted, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ]
    )
