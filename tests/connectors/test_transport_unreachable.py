"""A host that drops connection attempts costs one connect timeout, not one per request.

Each attempt to reach such a host (a firewall dropping packets, a network path gone) waits the
whole connect timeout. Every retry of every stage of a pass used to wait it again: one pass with
Zendesk unreachable took six minutes. Now, once an attempt timed out, requests to that host fail
at once for a pause, while other hosts and slow answers are unaffected.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import requests

from connectors.transport import CallCounter, HostPausedError, describe_failure, make_session
from tests.support import dropping_port

ORIGIN = "https://acme.zendesk.com"
OTHER = "https://api.delighted.com"
URL = f"{ORIGIN}/api/v2/groups.json"
CONNECT = 0.3


def timed(call: Callable[[], object]) -> tuple[BaseException | None, float]:
    start = time.monotonic()
    try:
        call()
    except requests.RequestException as exc:
        return exc, time.monotonic() - start
    return None, time.monotonic() - start


def test_after_one_timed_out_connection_the_host_fails_at_once(server: str) -> None:
    counter = CallCounter()
    routes = {ORIGIN: f"http://127.0.0.1:{dropping_port()}", OTHER: server}
    session = make_session(
        routes, counter=counter, label="zendesk", connect_timeout=CONNECT, pause=30
    )

    first, waited = timed(lambda: session.get(URL))
    later = [timed(lambda: session.get(URL)) for _ in range(3)]
    other, _ = timed(lambda: session.get(f"{OTHER}/v1/people.json"))

    assert isinstance(first, requests.ConnectTimeout)
    assert not isinstance(first, HostPausedError)
    assert CONNECT * 0.8 <= waited < 5
    assert describe_failure(first) == "cannot connect to acme.zendesk.com: the connection timed out"
    for error, took in later:
        assert isinstance(error, HostPausedError)
        assert took < CONNECT / 2
        assert describe_failure(error) == (
            "cannot connect to acme.zendesk.com: the connection timed out "
            "(not tried again for 30 s)"
        )
    assert other is None  # another host on the same session is still asked
    assert counter.snapshot() == {"zendesk": 1}  # only the answered request was a call


def test_the_host_is_tried_again_after_the_pause() -> None:
    session = make_session(
        {ORIGIN: f"http://127.0.0.1:{dropping_port()}"}, connect_timeout=CONNECT, pause=0.5
    )
    timed(lambda: session.get(URL))
    time.sleep(0.6)

    again, waited = timed(lambda: session.get(URL))
    right_after, _ = timed(lambda: session.get(URL))

    assert isinstance(again, requests.ConnectTimeout)
    assert not isinstance(again, HostPausedError)
    assert waited >= CONNECT * 0.8
    assert isinstance(right_after, HostPausedError)


def test_a_slow_answer_is_no_unreachable_host(server: str) -> None:
    session = make_session({ORIGIN: server}, timeout=0.5, connect_timeout=CONNECT, pause=30)

    slow, waited = timed(lambda: session.get(f"{ORIGIN}/slow"))  # answered after a second
    after, _ = timed(lambda: session.get(URL))

    # The answer's wait is the request's timeout, not the connect timeout; and it pauses nothing.
    assert isinstance(slow, requests.ReadTimeout)
    assert waited >= 0.45
    assert after is None
