"""The webhook receiver over a real socket (uvicorn on port 0, in this process).

What a vendor and an operator see: a signed response is acknowledged only once it is in the
store, and stored once however often it is sent; anything unsigned, badly signed or oversized
is refused, counted and never stored; a store that cannot take it is answered 503 with
Retry-After, so the vendor sends it again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from emulators.delighted import DelightedEmulator
from sync.app.health import Health
from sync.app.intake import Intake
from sync.app.listener import Listener, bind
from sync.app.telemetry import Telemetry
from sync.app.webhooks import create_app
from sync.core.config import WebhooksConfig
from sync.state import StateStore, open_store

KEY = "delighted-test-key"
SETTINGS = WebhooksConfig(max_body_bytes=4096, retry_after_seconds=7)


@dataclass
class Running:
    url: str
    store: StateStore
    intake: Intake
    wakes: list[int]

    def post(self, body: bytes, headers: dict[str, str]) -> requests.Response:
        url = f"{self.url}/webhooks/delighted/delighted"
        return requests.post(url, body, headers=headers, timeout=10)


def start(
    store: StateStore, settings: WebhooksConfig = SETTINGS, max_open: int = 1_000
) -> tuple[Running, Listener]:
    telemetry = Telemetry(store)
    intake = Intake(store, {"delighted": KEY}, settings, telemetry)
    wakes: list[int] = []
    intake.wake = lambda: wakes.append(1)
    listener = Listener(
        create_app(intake, Health(store), telemetry),
        bind("127.0.0.1:0"),
        header_timeout=settings.header_timeout_seconds,
        max_open=max_open,
    )
    listener.start()
    assert _wait_until_up(listener.url)
    return Running(listener.url, store, intake, wakes), listener


def _wait_until_up(url: str) -> bool:
    from tests.support import wait_for

    def up() -> bool:
        try:
            return requests.get(f"{url}/healthz", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    return wait_for(up, timeout=10, interval=0.02)


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Running]:
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    running, listener = start(store)
    try:
        yield running
    finally:
        listener.stop()
        store.close()


@pytest.fixture
def delighted() -> DelightedEmulator:
    return DelightedEmulator(api_key=KEY)


def answer(delighted: DelightedEmulator, score: int = 3) -> str:
    return delighted.add_response(
        email="pat@customer.example", score=score, comment="Slow support", name="Pat"
    )


def metric(running: Running, line_start: str) -> float:
    text = requests.get(f"{running.url}/metrics", timeout=5).text
    values = [float(x.rsplit(" ", 1)[1]) for x in text.splitlines() if x.startswith(line_start)]
    return sum(values)


def test_a_signed_response_is_stored_before_it_is_acknowledged_and_wakes_routing(
    receiver: Running, delighted: DelightedEmulator
) -> None:
    rid = answer(delighted)
    reply = receiver.post(*delighted.webhook(rid))
    assert reply.status_code == 200
    assert reply.json() == {"status": "stored", "response_id": rid}
    stored = receiver.store.inbox.get("delighted", rid)  # already committed when 2xx came back
    assert stored is not None
    assert (stored.response.score, stored.response.comment) == (3, "Slow support")
    assert stored.response.email == "pat@customer.example"
    assert receiver.wakes == [1]
    assert metric(receiver, 'nps_sync_responses_received_total{source="delighted"') == 1


def test_a_delivery_sent_twice_is_stored_once(
    receiver: Running, delighted: DelightedEmulator
) -> None:
    rid = answer(delighted)
    first = receiver.post(*delighted.webhook(rid))
    again = receiver.post(*delighted.webhook(rid))
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == {"status": "duplicate"}
    # After the replay window (a restart forgets it too) the inbox still stores it once.
    later, listener = start(receiver.store)
    try:
        assert later.post(*delighted.webhook(rid)).json()["status"] == "unchanged"
    finally:
        listener.stop()
    assert len(receiver.store.inbox.find(rid)) == 1
    assert receiver.wakes == [1]


def test_an_update_of_the_response_is_stored_as_its_new_version(
    receiver: Running, delighted: DelightedEmulator
) -> None:
    rid = answer(delighted)
    receiver.post(*delighted.webhook(rid))
    delighted.update_response(rid, comment="Support never called back")
    reply = receiver.post(*delighted.webhook(rid, event_type="survey_response.updated"))
    assert reply.json()["status"] == "stored"
    stored = receiver.store.inbox.get("delighted", rid)
    assert stored is not None
    assert stored.response.comment == "Support never called back"
    assert receiver.wakes == [1, 1]


@pytest.mark.parametrize(
    "signature",
    [None, "", "sha256=", "sha256=" + "0" * 64, "md5=abc", "sha256=not-hex"],
)
def test_unsigned_or_badly_signed_requests_get_401_and_nothing_is_stored(
    receiver: Running, delighted: DelightedEmulator, signature: str | None
) -> None:
    rid = answer(delighted)
    body, headers = delighted.webhook(rid)
    headers.pop("X-Delighted-Webhook-Signature")
    if signature is not None:
        headers["X-Delighted-Webhook-Signature"] = signature
    reply = receiver.post(body, headers)
    assert reply.status_code == 401
    assert receiver.store.inbox.get("delighted", rid) is None
    assert receiver.wakes == []
    assert metric(receiver, 'nps_sync_webhook_rejections_total{reason="signature"') == 1


def test_a_tampered_body_is_refused(receiver: Running, delighted: DelightedEmulator) -> None:
    rid = answer(delighted, score=9)
    body, headers = delighted.webhook(rid)
    tampered = body.replace(b'"score": 9', b'"score": 0')
    assert tampered != body
    assert receiver.post(tampered, headers).status_code == 401
    assert receiver.store.inbox.get("delighted", rid) is None


def test_an_oversized_body_gets_413_unread_and_is_counted(
    receiver: Running, delighted: DelightedEmulator
) -> None:
    rid = delighted.add_response(email="pat@customer.example", score=2, comment="x" * 5000)
    reply = receiver.post(*delighted.webhook(rid))
    assert reply.status_code == 413
    assert receiver.store.inbox.get("delighted", rid) is None
    assert metric(receiver, 'nps_sync_webhook_rejections_total{reason="too_large"') == 1

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit applies while reading
        yield b"{" + b" " * 3000
        yield b" " * 3000 + b"}"

    _, headers = delighted.webhook(answer(delighted))
    chunked = requests.post(
        f"{receiver.url}/webhooks/delighted/delighted", data=chunks(), headers=headers, timeout=10
    )
    assert chunked.status_code == 413


def test_an_unknown_source_is_404(receiver: Running, delighted: DelightedEmulator) -> None:
    body, headers = delighted.webhook(answer(delighted))
    url = f"{receiver.url}/webhooks/delighted/other"
    reply = requests.post(url, body, headers=headers, timeout=10)
    assert reply.status_code == 404
    # A name from the URL never becomes a label of its own.
    assert metric(receiver, 'nps_sync_webhook_rejections_total{reason="unknown_source"') == 1
    assert 'source="other"' not in requests.get(f"{receiver.url}/metrics", timeout=5).text


def test_events_without_a_response_are_acknowledged_not_stored(receiver: Running) -> None:
    body = json.dumps({"event_type": "unsubscribe.created", "event_data": {}}).encode()
    digest = hmac.new(KEY.encode(), body, hashlib.sha256).hexdigest()
    headers = {"X-Delighted-Webhook-Signature": f"sha256={digest}"}
    reply = receiver.post(body, headers)
    assert reply.status_code == 200
    assert reply.json()["status"] == "ignored"
    assert receiver.wakes == []


def test_store_down_answers_503_with_retry_after_and_acknowledges_nothing(
    delighted: DelightedEmulator,
) -> None:
    # A PostgreSQL server that is not there: every connection is refused.
    store = StateStore("postgresql+psycopg://nobody@127.0.0.1:9/nowhere?connect_timeout=2")
    running, listener = start(store)
    try:
        rid = answer(delighted)
        reply = running.post(*delighted.webhook(rid))
        assert reply.status_code == 503
        assert reply.headers["Retry-After"] == "7"
        assert running.wakes == []
        # Not remembered as taken: the vendor's retry is tried again, not answered "duplicate".
        assert running.post(*delighted.webhook(rid)).status_code == 503
        assert requests.get(f"{running.url}/healthz", timeout=5).status_code == 200
        ready = requests.get(f"{running.url}/readyz", timeout=10)
        assert ready.status_code == 503
        assert ready.json()["ready"] is False
        assert "cannot connect to the state database" in ready.json()["checks"]["store"]
        assert metric(running, "nps_sync_webhook_store_failures_total") == 2
    finally:
        listener.stop()
        store.close()


def test_healthz_is_up_and_readyz_waits_for_the_connectors(receiver: Running) -> None:
    assert requests.get(f"{receiver.url}/healthz", timeout=5).json() == {"status": "ok"}
    ready = requests.get(f"{receiver.url}/readyz", timeout=5)
    assert ready.status_code == 503
    assert ready.json()["checks"] == {
        "store": "ok",
        "connectors": "connecting",
        "rules": "not loaded yet",
    }


def test_the_signing_key_is_the_api_key_unless_a_webhook_secret_is_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sync.core.config import DelightedSourceConfig

    monkeypatch.setenv("DL_KEY", "api-key")
    monkeypatch.setenv("DL_HOOK", "hook-key")
    source = {"type": "delighted", "api_key": {"env": "DL_KEY"}}
    plain = DelightedSourceConfig.model_validate(source)
    assert plain.signing_secret() == "api-key"
    own = DelightedSourceConfig.model_validate({**source, "webhook_secret": {"env": "DL_HOOK"}})
    assert own.signing_secret() == "hook-key"


def _signed(body: bytes) -> dict[str, str]:
    digest = hmac.new(KEY.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Delighted-Webhook-Signature": f"sha256={digest}"}


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def _created(data: str) -> str:
    return '{"event_type": "survey_response.created", "event_data": ' + data + "}"


PERSON = '"id": "n1", "score": 2, "person": {"email": "pat@customer.example"}'


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("nested data", _created(_nested(1900))),
        ("nested just under the limit", _created(_nested(960))),
        ("nested properties", _created("{" + PERSON + ', "person_properties": {"plan": '
                                       + _nested(990) + "}}")),
        ("not UTF-8", '{"event_type": "survey_response.created", "x": "\udcff"}'),
    ],
)  # fmt: skip
def test_a_signed_body_python_cannot_read_is_acknowledged_and_ignored(
    receiver: Running, name: str, body: str
) -> None:
    """Valid JSON nested a thousand deep, or not UTF-8: the vendor gets 200 "ignored" with the
    reason (a 5xx would make it send the same body again and again)."""
    raw = body.encode("utf-8", "surrogateescape")
    reply = receiver.post(raw, _signed(raw))
    assert reply.status_code == 200, (name, reply.text[:300])
    assert reply.json()["status"] == "ignored"
    assert receiver.store.inbox.counts() == {}
    assert receiver.wakes == []


def test_a_body_sent_too_slowly_gets_408_and_is_counted(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    slow = WebhooksConfig(max_body_bytes=4096, body_timeout_seconds=0.5)
    running, listener = start(store, slow)
    try:
        host, port = running.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as client:
            client.sendall(
                b"POST /webhooks/delighted/delighted HTTP/1.1\r\nHost: x\r\n"
                b'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"event'
            )
            started = time.monotonic()
            reply = client.recv(4096).decode()
        assert reply.startswith("HTTP/1.1 408")
        assert time.monotonic() - started < 5
        assert metric(running, 'nps_sync_webhook_rejections_total{reason="timeout"') == 1
        assert store.inbox.counts() == {}
    finally:
        listener.stop()
        store.close()


def test_an_oversized_body_is_answered_and_its_connection_closed(receiver: Running) -> None:
    """The sender learns it is refused at once, and the rest of its body is not waited for on
    a connection that could never carry another request."""
    with _connect(receiver) as client:
        client.sendall(
            b"POST /webhooks/delighted/delighted HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n" + b" " * 8192
        )
        client.settimeout(5)
        reply, chunk = b"", b"-"
        while chunk:  # until the server closes; a connection kept open times out here
            chunk = client.recv(4096)
            reply += chunk
        assert reply.startswith(b"HTTP/1.1 413")
        assert b"connection: close" in reply.lower()


def _connect(running: Running) -> socket.socket:
    host, port = running.url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def _closed_by_server(client: socket.socket) -> bool:
    """True once the server has closed (or reset) the connection."""
    try:
        return client.recv(1) == b""
    except ConnectionResetError:
        return True


@pytest.mark.parametrize(
    "sent",
    [b"", b"POST /webhooks/delighted/delighted HTTP/1.1\r\nHost: x\r\n"],
    ids=["nothing", "headers never finished"],
)
def test_a_connection_without_whole_headers_in_time_is_closed(tmp_path: Path, sent: bytes) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    running, listener = start(store, WebhooksConfig(header_timeout_seconds=0.5))
    try:
        with _connect(running) as client:
            client.sendall(sent)
            started = time.monotonic()
            assert _closed_by_server(client)
            assert 0.3 < time.monotonic() - started < 5
        assert listener.dropped.slow == 1
    finally:
        listener.stop()
        store.close()


def test_a_header_sent_a_byte_at_a_time_does_not_hold_the_connection(tmp_path: Path) -> None:
    """The deadline is for the whole headers, not between bytes: trickling keeps nothing open."""
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    running, listener = start(store, WebhooksConfig(header_timeout_seconds=0.6))
    try:
        with _connect(running) as client:
            started = time.monotonic()
            with pytest.raises((BrokenPipeError, ConnectionResetError)):  # noqa: PT012
                for byte in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 100:
                    client.sendall(bytes([byte]))  # raises once the server has closed it
                    time.sleep(0.05)
                    assert time.monotonic() - started < 4
        assert listener.dropped.slow == 1
    finally:
        listener.stop()
        store.close()


def test_idle_connections_do_not_turn_webhooks_or_health_checks_away(
    tmp_path: Path, delighted: DelightedEmulator
) -> None:
    """More idle sockets than the cap: the ones beyond it are closed at once, and once the
    header deadline has passed a signed webhook and ``/healthz`` are served again."""
    from tests.support import wait_for

    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    running, listener = start(store, WebhooksConfig(header_timeout_seconds=1.0), max_open=20)
    idle = [_connect(running) for _ in range(40)]
    try:
        assert wait_for(lambda: listener.dropped.over_cap >= 19, timeout=5)
        time.sleep(1.5)  # past the deadline: every idle socket has been closed
        assert all(_closed_by_server(client) for client in idle)
        assert requests.get(f"{running.url}/healthz", timeout=5).status_code == 200
        reply = running.post(*delighted.webhook(answer(delighted)))
        assert reply.json()["status"] == "stored"
    finally:
        for client in idle:
            client.close()
        listener.stop()
        store.close()


def test_a_kept_alive_connection_serves_a_second_request_within_the_deadline(
    tmp_path: Path,
) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    running, listener = start(store, WebhooksConfig(header_timeout_seconds=2.0))
    try:
        with requests.Session() as session:
            for _ in range(3):
                assert session.get(f"{running.url}/healthz", timeout=5).status_code == 200
                time.sleep(0.3)
        assert listener.dropped.slow == 0
    finally:
        listener.stop()
        store.close()


def test_readiness_says_when_the_last_pass_failed_on_the_state_store(tmp_path: Path) -> None:
    """A full disk still answers the readiness probe's read: the failed pass is what tells."""
    from sync.app.engine import RunReport
    from sync.state.errors import StateUnavailableError

    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    health = Health(store)
    try:
        health.store_failed("drain", StateUnavailableError("state.db: its disk is full"))
        ready, checks = health.readiness()
        assert not ready
        assert checks["store"] == "the last drain failed: state.db: its disk is full"
        health.observe("drain", RunReport())  # a pass completed: the store takes writes again
        assert health.readiness()[1]["store"] == "ok"
    finally:
        store.close()
