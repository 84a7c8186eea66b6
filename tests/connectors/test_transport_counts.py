"""The calls a pass reports per system: requests the system saw, not connections never made."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest
import requests

from connectors.transport import CallCounter, make_session
from tests.support import closed_port

ORIGIN = "https://acme.zendesk.com"


class _Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[int]:
    httpd = http.server.HTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def test_answered_requests_count_and_refused_connections_do_not(server: int) -> None:
    counter = CallCounter()
    up = make_session({ORIGIN: f"http://127.0.0.1:{server}"}, counter=counter, label="zendesk")
    down = make_session({ORIGIN: f"http://127.0.0.1:{closed_port()}"}, counter=counter, label="zd")
    for _ in range(3):
        assert up.get(f"{ORIGIN}/api/v2/groups.json").status_code == 200
        with pytest.raises(requests.ConnectionError):
            down.get(f"{ORIGIN}/api/v2/groups.json")
    assert counter.snapshot() == {"zendesk": 3}
