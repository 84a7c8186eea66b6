"""The receiver's socket and server: uvicorn in a thread of the daemon's process.

The socket is bound in the caller's thread before anything else starts, so a taken port or a bad
address ends the command at once with exit code 75 or 2 and says which. The server thread never
installs signal handlers: the daemon keeps SIGTERM and SIGINT and stops the listener itself.
"""

from __future__ import annotations

import errno
import logging
import socket
import threading

import uvicorn
from starlette.applications import Starlette

from sync.app.connections import MAX_OPEN, DroppedConnections, guarded_protocol
from sync.core.errors import ConfigFileError, UnavailableError

log = logging.getLogger(__name__)


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8080`` for IPv6; port 0 picks a free one)."""
    host, sep, port = text.strip().rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ConfigFileError(
            f"listen address {text!r} is not HOST:PORT", fix="e.g. --listen 0.0.0.0:8080"
        )
    return host, int(port)


def bind(address: str) -> socket.socket:
    """A listening socket on ``address``; a port in use ends the command with exit code 75."""
    host, port = parse_address(address)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigFileError(f"listen address {address!r}: {exc.strerror}") from None
    family, kind, proto, _, where = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(where)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise UnavailableError(
                f"cannot listen on {address}: the port is in use",
                fix="stop what uses it, or choose another port with --listen HOST:PORT",
            ) from None
        raise ConfigFileError(f"cannot listen on {address}: {exc.strerror}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


class Listener:
    """Serves ``app`` on a bound socket in a background thread until :meth:`stop`; a connection
    that sends no complete request headers within ``header_timeout`` seconds is closed (see
    :mod:`sync.app.connections`)."""

    def __init__(
        self,
        app: Starlette,
        sock: socket.socket,
        *,
        header_timeout: float,
        max_open: int = MAX_OPEN,
    ) -> None:
        self.sock = sock
        self.dropped = DroppedConnections(max_open)
        config = uvicorn.Config(
            app,
            http=guarded_protocol(header_timeout, self.dropped, max_open),
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=5,
            # Requests beyond this many at once are answered 503 (vendors send again later).
            limit_concurrency=max_open,
        )
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, name="webhooks", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}"

    def start(self) -> None:
        self._thread.start()
        log.info(
            "listening on %s: webhooks at /webhooks/{delighted,typeform}/SOURCE, /healthz, "
            "/readyz, /metrics",
            self.url,
        )

    def stop(self) -> None:
        """Stop taking requests; those in flight finish (up to 5 s)."""
        self.server.should_exit = True
        self._thread.join(timeout=10)
        self.sock.close()
