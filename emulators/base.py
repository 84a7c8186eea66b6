"""A tiny loopback HTTP framework shared by the API emulators.

Each emulator is an :class:`EmulatorApp` with routes; :class:`EmulatorServer` serves it on
``127.0.0.1`` on an ephemeral port (or a given one) from a background thread. The framework adds
what every emulator needs for tests and the benchmark:

- a request counter per endpoint name (``app.calls``), read by the benchmark;
- injected latency (``app.latency``);
- injected faults (:class:`Fault`): an HTTP error status with optional ``Retry-After``, a connection
  reset, a hang longer than the client's timeout, or a write that lands after its client gave up.
  Emulators may add their own fault kinds (for example Salesforce's 403
  ``REQUEST_LIMIT_EXCEEDED``) by overriding :meth:`EmulatorApp.fault_response`, and narrow which
  requests a fault may fail by overriding :meth:`EmulatorApp.fault_applies`;
  :meth:`EmulatorApp.pick_fault` is the one place that decides whether a fault fires;
- observers (``app.observers``), called as each request is received and once it is handled, so a
  test can crash a client at an exact point (between the server's commit and the client's
  receipt of the answer, say);
- a ``Retry-After`` watch: a request that arrives before the last ``Retry-After`` this app sent
  has expired is recorded in ``app.early_requests`` (meaningful with one client at a time).
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import socket
import struct
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

JSON = Any


@dataclass
class Request:
    """An incoming request, already parsed."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)

    def json(self) -> JSON:
        return json.loads(self.body.decode("utf-8")) if self.body else None

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    @property
    def base_url(self) -> str:
        """The origin the client believes it talks to (see connectors.transport)."""
        scheme = self.header("x-forwarded-proto", "http")
        return f"{scheme}://{self.header('host')}"


@dataclass
class Response:
    """What a route handler returns."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(
        cls, payload: JSON, status: int = 200, headers: dict[str, str] | None = None
    ) -> Response:
        merged = {"Content-Type": "application/json; charset=utf-8"}
        merged.update(headers or {})
        return cls(status, json.dumps(payload).encode("utf-8"), merged)

    @classmethod
    def empty(cls, status: int = 204, headers: dict[str, str] | None = None) -> Response:
        return cls(status, b"", dict(headers or {}))


def wait_for_second(clock: Callable[[], float], second: int) -> None:
    """Return once the wall clock has reached ``second`` (an edit dated the next second is not
    shown ahead of its time). A clock other than :func:`time.time` is not waited for: a
    simulation moves its own clock."""
    if clock is time.time:
        time.sleep(max(second - time.time(), 0.0))


class Reset(Exception):  # noqa: N818 - a control-flow signal, not an error report
    """Raised by a handler (or a fault) to drop the connection without an answer."""


@dataclass
class Fault:
    """A fault to inject.

    ``kind`` is an HTTP status as text (``"429"``, ``"500"``, ``"503"``), ``"reset"``, ``"hang"``,
    ``"late"`` (the request takes effect, then the answer hangs and the connection is reset: the
    client cannot know it succeeded), ``"held"`` (the request waits ``hang_seconds`` before it
    takes effect, then the connection is reset: a client whose timeout is shorter gives up first
    and finds nothing, and the write lands after it did, as a slow server commits a request its
    client has stopped waiting for), or an emulator-specific kind. It fires on requests whose
    endpoint name matches ``endpoint`` (a regex; empty matches all) either with probability
    ``rate`` or on the next ``count`` matching requests.
    """

    kind: str
    rate: float = 0.0
    count: int = 0
    endpoint: str = ""
    retry_after: int | None = None
    hang_seconds: float = 5.0

    def matches(self, endpoint: str) -> bool:
        return not self.endpoint or re.search(self.endpoint, endpoint) is not None


Handler = Callable[[Request], Response]


@dataclass
class _Route:
    method: str
    pattern: re.Pattern[str]
    name: str
    handler: Handler


class EmulatorApp:
    """Routes, counters, latency and faults. Subclasses register routes in ``__init__``."""

    system = "emulator"

    def __init__(self, *, seed: int = 0) -> None:
        self._routes: list[_Route] = []
        self.calls: Counter[str] = Counter()
        self.latency: float = 0.0
        self.faults: list[Fault] = []
        self.fault_log: list[tuple[str, str]] = []
        self.lock = threading.RLock()
        self._rng = random.Random(seed)
        #: Called with (endpoint name, "received" | "handled"); may raise :class:`Reset`.
        self.observers: list[Callable[[str, str], None]] = []
        #: (endpoint name, seconds too early) of requests sent before a Retry-After expired.
        self.early_requests: list[tuple[str, float]] = []
        self._quiet_until = 0.0

    # -- registration -------------------------------------------------------------------------
    def route(self, method: str, pattern: str, name: str, handler: Handler) -> None:
        """Register ``handler`` for ``method`` and a path regex (named groups become params)."""
        self._routes.append(_Route(method, re.compile(pattern + r"\Z"), name, handler))

    # -- counters -----------------------------------------------------------------------------
    def total_calls(self) -> int:
        with self.lock:
            return sum(self.calls.values())

    def reset_counters(self) -> None:
        with self.lock:
            self.calls.clear()

    # -- faults -------------------------------------------------------------------------------
    def inject(self, fault: Fault) -> None:
        with self.lock:
            self.faults.append(fault)

    def seed_faults(self, seed: int) -> None:
        """Draw the ``rate`` faults from ``seed`` from now on: the same requests in the same
        order meet the same faults."""
        with self.lock:
            self._rng = random.Random(seed)

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def forget_traffic(self) -> None:
        """Clear the request counters, the injected faults and the fault log."""
        with self.lock:
            self.calls.clear()
            self.faults.clear()
            self.fault_log.clear()

    def fault_applies(self, fault: Fault, endpoint: str) -> bool:
        """Whether ``fault`` may fail a whole request to ``endpoint``; emulators narrow this."""
        return fault.matches(endpoint)

    def pick_fault(
        self, endpoint: str, applies: Callable[[Fault], bool] | None = None
    ) -> Fault | None:
        """The first injected fault that applies (by default :meth:`fault_applies`) and fires
        now, spending one of its ``count`` or drawing its ``rate``; None when none does."""
        with self.lock:
            for fault in self.faults:
                if not (applies(fault) if applies else self.fault_applies(fault, endpoint)):
                    continue
                if fault.count > 0:
                    fault.count -= 1
                    return fault
                if fault.rate > 0 and self._rng.random() < fault.rate:
                    return fault
            self.faults = [f for f in self.faults if f.count > 0 or f.rate > 0]
        return None

    def fault_response(self, fault: Fault, request: Request) -> Response:
        """The answer for an injected fault; emulators override for their own kinds."""
        if fault.kind == "reset":
            raise Reset
        if fault.kind == "hang":
            time.sleep(fault.hang_seconds)
            raise Reset
        status = int(fault.kind)
        headers = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = str(fault.retry_after)
        return self.error_response(status, request, headers)

    def error_response(self, status: int, request: Request, headers: dict[str, str]) -> Response:
        """A generic error body in this system's format; emulators override."""
        return Response.json({"error": f"HTTP {status}"}, status, headers)

    def decorate(self, request: Request, response: Response) -> None:
        """Add headers every answer of this system carries (rate-limit info and the like)."""

    # -- dispatch -----------------------------------------------------------------------------
    def dispatch(self, request: Request) -> Response:
        for route in self._routes:
            match = route.pattern.match(request.path)
            if match is None:
                continue
            if route.method != request.method:
                continue
            request.params = {k: v for k, v in match.groupdict().items() if v is not None}
            with self.lock:
                self.calls[route.name] += 1
                early = self._quiet_until - time.monotonic()
                if early > 0:
                    self.early_requests.append((route.name, early))
            self._notify(route.name, "received")
            if self.latency:
                time.sleep(self.latency)
            fault = self.pick_fault(route.name)
            if fault is not None:
                with self.lock:
                    self.fault_log.append((route.name, fault.kind))
            if fault is not None and fault.kind == "late":
                route.handler(request)
                time.sleep(fault.hang_seconds)
                raise Reset
            if fault is not None and fault.kind == "held":
                time.sleep(fault.hang_seconds)
                route.handler(request)
                raise Reset
            if fault is not None:
                response = self.fault_response(fault, request)
            else:
                response = route.handler(request)
            self.decorate(request, response)
            self._watch_retry_after(response)
            self._notify(route.name, "handled")
            return response
        response = self.not_found(request)
        self.decorate(request, response)
        return response

    def not_found(self, request: Request) -> Response:
        return self.error_response(404, request, {})

    def _notify(self, endpoint: str, phase: str) -> None:
        for observer in list(self.observers):
            observer(endpoint, phase)

    def _watch_retry_after(self, response: Response) -> None:
        try:
            wait = float(response.headers.get("Retry-After", ""))
        except ValueError:
            return
        with self.lock:
            self._quiet_until = max(self._quiet_until, time.monotonic() + wait)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    # Headers and body leave in separate writes; with Nagle's algorithm and delayed ACKs every
    # request would wait ~40 ms.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log."""

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        try:
            response = self.server.app.dispatch(request)
        except Reset:
            self._reset()
            return
        self.send_response(response.status)
        for key, value in response.headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def _reset(self) -> None:
        """Close with RST so the client sees a connection reset, not a clean EOF."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    # BaseHTTPRequestHandler dispatches on these stdlib names.
    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _handle  # noqa: N815


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, app: EmulatorApp, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.app = app

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up (a timeout, a killed process) is routine for a server, as for
        the real APIs: not worth a traceback on the console of whoever runs the emulator."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class EmulatorServer:
    """Serves an :class:`EmulatorApp` on ``127.0.0.1``, at ``port`` or an ephemeral one (0).

    A port in use raises :class:`OSError` (``EADDRINUSE``) here, before anything is served.
    """

    def __init__(self, app: EmulatorApp, port: int = 0) -> None:
        self.app = app
        self._server = _Server(app, port)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{app.system}-emulator",
            daemon=True,
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> EmulatorServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
