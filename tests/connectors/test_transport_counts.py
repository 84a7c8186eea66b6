"""The calls a pass reports per system: requests the system saw, not connections never made."""

from __future__ import annotations

import pytest
import requests

from connectors.transport import CallCounter, make_session
from tests.support import closed_port

ORIGIN = "https://acme.zendesk.com"


def test_answered_requests_count_and_refused_connections_do_not(server: str) -> None:
    counter = CallCounter()
    up = make_session({ORIGIN: server}, counter=counter, label="zendesk")
    down = make_session({ORIGIN: f"http://127.0.0.1:{closed_port()}"}, counter=counter, label="zd")
    for _ in range(3):
        assert up.get(f"{ORIGIN}/api/v2/groups.json").status_code == 200
        with pytest.raises(requests.ConnectionError):
            down.get(f"{ORIGIN}/api/v2/groups.json")
    assert counter.snapshot() == {"zendesk": 3}
