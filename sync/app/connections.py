"""The receiver's connections: a deadline on each request's headers and a cap on open sockets.

uvicorn bounds a request's body (``webhooks.body_timeout_seconds``) and answers 503 past its
concurrency limit, but only once a request's headers are complete: a client that opens
connections and sends nothing, or sends its headers a byte a second, holds each one for as long
as it likes, and a thousand of them turned every webhook and ``/healthz`` away. Here each
connection must deliver a request's headers within ``header_timeout_seconds`` of opening, or of
its previous response, or it is closed; and a connection beyond :data:`MAX_OPEN` is closed as
soon as it is accepted, so such clients can never use up the process's file descriptors.

The protocol is uvicorn's own h11 protocol (the version is pinned), given to it through its
``http`` setting: the deadline is armed where uvicorn starts waiting for a request and disarmed
when uvicorn has parsed one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)

#: Open connections at most; one more is closed as it is accepted. Webhook traffic needs a few
#: dozen (vendors send one request per connection or keep one alive).
MAX_OPEN = 1_000

#: Seconds between warnings about connections closed by the guard (a flood logs one line a
#: minute with its counts, not one per connection).
WARN_EVERY = 60.0


class DroppedConnections:
    """Counts connections the guard closed and warns about them at most once a minute."""

    def __init__(self, max_open: int) -> None:
        self.max_open = max_open
        self.slow = 0
        self.over_cap = 0
        self._since_warning = 0
        self._warned_at = 0.0

    def count(self, *, over_cap: bool) -> None:
        if over_cap:
            self.over_cap += 1
        else:
            self.slow += 1
        self._since_warning += 1
        now = time.monotonic()
        if now - self._warned_at >= WARN_EVERY:
            log.warning(
                "closed %d webhook connection(s) that sent no complete request in time or "
                "exceeded %d open connections (%d slow, %d over the cap since start); "
                "if this persists, put a proxy with per-client limits in front",
                self._since_warning,
                self.max_open,
                self.slow,
                self.over_cap,
            )
            self._since_warning = 0
            self._warned_at = now


def guarded_protocol(
    header_timeout: float, dropped: DroppedConnections, max_open: int = MAX_OPEN
) -> type[H11Protocol]:
    """uvicorn's h11 protocol with a header deadline of ``header_timeout`` seconds and a cap of
    ``max_open`` connections."""

    class GuardedH11Protocol(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None
        _waiting_after: Any = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if len(self.connections) > max_open:
                dropped.count(over_cap=True)
                transport.abort()
                return
            self._arm()

        def handle_events(self) -> None:
            super().handle_events()
            if self._deadline is not None and self.cycle is not self._waiting_after:
                self._disarm()  # uvicorn parsed a request's headers: its body has its own limit

        def on_response_complete(self) -> None:
            if not self.transport.is_closing():
                self._arm()  # before uvicorn takes up a pipelined request, which disarms it
            super().on_response_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            self._waiting_after = self.cycle
            self._deadline = self.loop.call_later(header_timeout, self._too_slow)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _too_slow(self) -> None:
            self._deadline = None
            if not self.transport.is_closing():
                dropped.count(over_cap=False)
                self.transport.abort()

    return GuardedH11Protocol
