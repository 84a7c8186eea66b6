"""Typeform webhooks at ``POST /webhooks/typeform/<source>``, over a real socket.

The same rules as Delighted's: signed with the form's webhook secret or refused (401, also when
no secret is configured), stored exactly as polling stores the response before 200, stored once
however often it is delivered, 413 for an oversized body, 404 for an unknown source, 503 when the
store cannot take it; every outcome counted by source.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from connectors.surveys import TypeformMapping, TypeformSource
from connectors.transport import make_session
from emulators.base import EmulatorServer
from emulators.typeform import COMMENT_REF, DEFAULT_FORM, SCORE_REF, TypeformEmulator
from sync.app.health import Health
from sync.app.intake import Intake, TypeformHook
from sync.app.listener import Listener, bind
from sync.app.telemetry import Telemetry
from sync.app.webhooks import create_app
from sync.core.config import WebhooksConfig
from sync.state import StateStore, open_store
from tests.support import wait_for

SECRET = "typeform-test-secret"
SETTINGS = WebhooksConfig(max_body_bytes=4096, retry_after_seconds=7)
MAPPING = TypeformMapping(
    form_id=DEFAULT_FORM,
    score_ref=SCORE_REF,
    comment_ref=COMMENT_REF,
    hidden_properties={"sfid": "Salesforce Contact Id"},
)
HOOKS = {"typeform": TypeformHook(SECRET, MAPPING), "unsigned": TypeformHook(None, MAPPING)}


@dataclass
class Running:
    url: str
    store: StateStore
    wakes: list[int]

    def post(
        self, body: bytes, headers: dict[str, str], source: str = "typeform"
    ) -> requests.Response:
        url = f"{self.url}/webhooks/typeform/{source}"
        return requests.post(url, body, headers=headers, timeout=10)

    def metric(self, line_start: str) -> float:
        text = requests.get(f"{self.url}/metrics", timeout=5).text
        lines = [x for x in text.splitlines() if x.startswith(line_start)]
        return sum(float(x.rsplit(" ", 1)[1]) for x in lines)


def start(store: StateStore) -> tuple[Running, Listener]:
    telemetry = Telemetry(store)
    intake = Intake(store, {"delighted": "dl-key"}, SETTINGS, telemetry, typeform=HOOKS)
    wakes: list[int] = []
    intake.wake = lambda: wakes.append(1)
    listener = Listener(
        create_app(intake, Health(store), telemetry),
        bind("127.0.0.1:0"),
        header_timeout=SETTINGS.header_timeout_seconds,
    )
    listener.start()

    def up() -> bool:
        try:
            return requests.get(f"{listener.url}/healthz", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    assert wait_for(up, timeout=10, interval=0.02)
    return Running(listener.url, store, wakes), listener


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
def typeform() -> TypeformEmulator:
    return TypeformEmulator(webhook_secret=SECRET, rate_limit_per_second=None)


def answer(typeform: TypeformEmulator, score: int = 3, comment: str = "Slow support") -> str:
    return typeform.add_response(
        email="Pat@Customer.example",
        score=score,
        comment=comment,
        hidden={"email": "Pat@Customer.example", "name": "Pat", "sfid": "0035g00000PaTpAAT"},
        submitted_at=datetime.now(UTC) - timedelta(minutes=1),
    )


def test_a_signed_response_is_stored_as_polling_stores_it_before_200(
    receiver: Running, typeform: TypeformEmulator
) -> None:
    token = answer(typeform)
    reply = receiver.post(*typeform.webhook(token))
    assert reply.status_code == 200
    assert reply.json() == {"status": "stored", "response_id": token}
    stored = receiver.store.inbox.get("typeform", token)  # committed before the 200 came back
    assert stored is not None
    assert receiver.wakes == [1]
    # The same response polled from the Responses API reads exactly the same.
    with EmulatorServer(typeform) as server:
        session = make_session({"https://api.typeform.com": server.url})
        source = TypeformSource(
            typeform.token, mapping=MAPPING, session=session, requests_per_second=100
        )
        polled = [r for page in source.pages(None, until=datetime.now(UTC)) for r in page.responses]
    assert polled == [stored.response]
    assert stored.response.email == "pat@customer.example"
    assert stored.response.properties["Salesforce Contact Id"] == "0035g00000PaTpAAT"
    assert receiver.metric('nps_sync_webhooks_total{outcome="stored",source="typeform"}') == 1
    assert (
        receiver.metric('nps_sync_responses_received_total{source="typeform",via="webhook"}') == 1
    )


def test_a_replayed_delivery_is_stored_once(receiver: Running, typeform: TypeformEmulator) -> None:
    token = answer(typeform)
    body, headers = typeform.webhook(token)
    assert receiver.post(body, headers).json()["status"] == "stored"
    assert receiver.post(body, headers).json() == {"status": "duplicate"}
    # Typeform's retry keeps the event id; re-serialized, it is still the same delivery.
    event = json.loads(body)
    again = json.dumps(event, indent=1).encode()
    assert receiver.post(again, sign(again)).json() == {"status": "duplicate"}
    # After the replay window (a restart forgets it) the inbox still stores it once.
    later, listener = start(receiver.store)
    try:
        assert later.post(body, headers).json()["status"] == "unchanged"
    finally:
        listener.stop()
    assert len(receiver.store.inbox.find(token)) == 1
    assert receiver.wakes == [1]
    assert receiver.metric('nps_sync_webhooks_total{outcome="duplicate",source="typeform"}') == 2


def test_a_resubmitted_response_is_stored_as_its_new_version(
    receiver: Running, typeform: TypeformEmulator
) -> None:
    token = answer(typeform)
    receiver.post(*typeform.webhook(token))
    typeform.update_response(token, score=1, comment="Worse: nobody called back")
    reply = receiver.post(*typeform.webhook(token))  # a new submission: a new event id
    assert reply.json() == {"status": "stored", "response_id": token}
    stored = receiver.store.inbox.get("typeform", token)
    assert stored is not None
    assert (stored.response.score, stored.response.comment) == (1, "Worse: nobody called back")
    assert receiver.wakes == [1, 1]


def sign(body: bytes, secret: str = SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return {"Typeform-Signature": "sha256=" + base64.b64encode(digest).decode()}


@pytest.mark.parametrize(
    "signature",
    [None, "", "sha256=", "sha256=" + "A" * 44, "sha1=abc", "not-base64", "wrong-secret"],
)
def test_unsigned_or_badly_signed_requests_get_401_and_nothing_is_stored(
    receiver: Running, typeform: TypeformEmulator, signature: str | None
) -> None:
    token = answer(typeform)
    body, headers = typeform.webhook(token)
    del headers["Typeform-Signature"]
    if signature == "wrong-secret":
        headers.update(sign(body, "another-secret"))
    elif signature is not None:
        headers["Typeform-Signature"] = signature
    reply = receiver.post(body, headers)
    assert reply.status_code == 401
    assert reply.json() == {"error": "missing or invalid Typeform-Signature"}
    assert receiver.store.inbox.get("typeform", token) is None
    assert receiver.wakes == []
    rejected = 'nps_sync_webhook_rejections_total{reason="signature",source="typeform"}'
    assert receiver.metric(rejected) == 1


def test_a_tampered_body_and_a_source_without_a_secret_are_refused(
    receiver: Running, typeform: TypeformEmulator
) -> None:
    token = answer(typeform, score=9)
    body, headers = typeform.webhook(token)
    tampered = body.replace(b'"number": 9', b'"number": 0')
    assert tampered != body
    assert receiver.post(tampered, headers).status_code == 401
    # A source whose webhook secret is not configured accepts nothing, signed or not.
    assert receiver.post(body, headers, source="unsigned").status_code == 401
    assert receiver.store.inbox.get("typeform", token) is None
    assert receiver.store.inbox.get("unsigned", token) is None


def test_oversized_unknown_and_other_form_requests(
    receiver: Running, typeform: TypeformEmulator
) -> None:
    big = answer(typeform, comment="x" * 5000)
    assert receiver.post(*typeform.webhook(big)).status_code == 413
    assert receiver.metric('nps_sync_webhook_rejections_total{reason="too_large"') == 1

    token = answer(typeform)
    body, headers = typeform.webhook(token)
    assert receiver.post(body, headers, source="delighted").status_code == 404  # not Typeform
    assert receiver.post(body, headers, source="other").status_code == 404
    assert receiver.metric('nps_sync_webhook_rejections_total{reason="unknown_source"') == 2
    assert 'source="other"' not in requests.get(f"{receiver.url}/metrics", timeout=5).text

    typeform.add_form("Other1", "Another form")
    other = typeform.add_response(email="x@customer.example", score=1, form_id="Other1")
    reply = receiver.post(*typeform.webhook(other))
    assert reply.status_code == 200
    assert reply.json()["status"] == "ignored"
    assert "is not this source's form" in reply.json()["reason"]
    assert receiver.store.inbox.get("typeform", other) is None


def test_store_down_answers_503_with_retry_after(typeform: TypeformEmulator) -> None:
    store = StateStore("postgresql+psycopg://nobody@127.0.0.1:9/nowhere?connect_timeout=2")
    running, listener = start(store)
    try:
        token = answer(typeform)
        reply = running.post(*typeform.webhook(token))
        assert reply.status_code == 503
        assert reply.headers["Retry-After"] == "7"
        assert running.post(*typeform.webhook(token)).status_code == 503  # not "duplicate"
        assert running.metric('nps_sync_webhook_store_failures_total{source="typeform"}') == 2
    finally:
        listener.stop()
        store.close()


def test_a_delivery_is_known_by_its_source_too(receiver: Running) -> None:
    """The same bytes sent to another source are that source's to judge, not a replay."""
    body = json.dumps(
        {"event_type": "survey_response.created", "event_data": {"id": "1", "score": 3}}
    ).encode()
    digest = hmac.new(b"dl-key", body, hashlib.sha256).hexdigest()
    delighted = requests.post(
        f"{receiver.url}/webhooks/delighted/delighted",
        body,
        headers={"X-Delighted-Webhook-Signature": f"sha256={digest}"},
        timeout=10,
    )
    assert delighted.status_code == 200
    as_typeform = receiver.post(body, sign(body))
    assert as_typeform.json()["status"] == "ignored"  # not a Typeform event: never "duplicate"
