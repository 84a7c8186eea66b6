"""The receiver's HTTP app (Starlette): webhooks, health, readiness and metrics.

It only translates: the body is read up to the configured limit, the work is done by
:class:`sync.app.intake.Intake` in a worker thread (it waits on the store), and its answer is
sent back as JSON.

- ``POST /webhooks/delighted/{source}``: Delighted response webhooks for the source of that name;
- ``POST /webhooks/typeform/{source}``: Typeform ``form_response`` webhooks, likewise;
- ``GET /healthz``: 200 while the process is up;
- ``GET /readyz``: 200 when the store answers, the connectors are connected and the rules are
  loaded, else 503 with what is missing;
- ``GET /metrics``: Prometheus' text format.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

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


def _closing(answer: Answer) -> JSONResponse:
    """An answer given before the body was read whole: the rest of the body is still on its way,
    so the connection cannot carry another request and is closed once the answer is sent
    (kept open, it held the sender's socket and one of the receiver's connections)."""
    response = _json(answer)
    response.headers["connection"] = "close"
    return response


def create_app(intake: Intake, health: Health, telemetry: Telemetry) -> Starlette:
    """The receiver's routes over one intake, health and telemetry."""

    async def receive(
        request: Request, header: str, take: Callable[[str, bytes, str | None], Answer]
    ) -> Response:
        source = request.path_params["source"]
        try:
            async with asyncio.timeout(intake.settings.body_timeout_seconds):
                body = await _body(request, intake.settings.max_body_bytes)
        except _TooLargeError:
            return _closing(intake.too_large(source))
        except TimeoutError:
            return _closing(intake.too_slow(source))
        signature = request.headers.get(header)
        return _json(await run_in_threadpool(take, source, body, signature))

    async def delighted(request: Request) -> Response:
        return await receive(request, "x-delighted-webhook-signature", intake.delighted)

    async def typeform(request: Request) -> Response:
        return await receive(request, "typeform-signature", intake.typeform)

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
            Route("/webhooks/typeform/{source}", typeform, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ]
    )
