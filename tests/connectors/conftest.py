"""A plain HTTP server for the transport's tests."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator

import pytest

#: How long the server takes to answer a path under ``/slow``.
SLOW_SECONDS = 1.0


class _Answers(http.server.BaseHTTPRequestHandler):
    """``{}`` to every GET; after :data:`SLOW_SECONDS` for a path under ``/slow``."""

    def do_GET(self) -> None:
        if self.path.startswith("/slow"):
            time.sleep(SLOW_SECONDS)
        try:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped waiting (its timeout)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    """The server's origin, ``http://127.0.0.1:PORT``."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answers)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
