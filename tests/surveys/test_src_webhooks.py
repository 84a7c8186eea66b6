"""Webhook signature checks fail closed and refuse tampering, stale timestamps and replays."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from connectors.surveys.webhooks import (
    ReplayGuard,
    replay_key,
    verify_delighted,
    verify_typeform,
    verify_zendesk,
)

BODY = b'{"event_type":"survey_response.created","event_data":{"id":"1","score":3}}'
KEY = "delighted-api-key"
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ZD = "zendesk-secret"


def hex_signature(body: bytes, key: str) -> str:
    return "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def b64_signature(message: bytes, key: str) -> str:
    return base64.b64encode(hmac.new(key.encode(), message, hashlib.sha256).digest()).decode()


@pytest.mark.parametrize(
    ("body", "header", "key", "accepted"),
    [
        (BODY, hex_signature(BODY, KEY), KEY, True),
        (BODY, hex_signature(BODY, KEY).upper().replace("SHA256=", "sha256="), KEY, True),
        (BODY + b" ", hex_signature(BODY, KEY), KEY, False),  # tampered body
        (BODY, hex_signature(BODY, "other-key"), KEY, False),  # wrong key
        (BODY, None, KEY, False),  # missing header
        (BODY, "", KEY, False),
        (BODY, hex_signature(BODY, KEY)[7:], KEY, False),  # no "sha256=" prefix
        (BODY, "sha1=" + hex_signature(BODY, KEY)[7:], KEY, False),
        (BODY, "sha256=é", KEY, False),  # non-ASCII never raises
        (BODY, hex_signature(BODY, ""), "", False),  # no key configured: closed
    ],
)
def test_delighted(body: bytes, header: str | None, key: str, accepted: bool) -> None:
    assert verify_delighted(body, header, key) is accepted


@pytest.mark.parametrize(
    ("body", "header", "accepted"),
    [
        (BODY, "sha256=" + b64_signature(BODY, "tf-secret"), True),
        (BODY.replace(b"3", b"9"), "sha256=" + b64_signature(BODY, "tf-secret"), False),
        (BODY, "sha256=" + b64_signature(BODY, "wrong"), False),
        (BODY, None, False),
        (BODY, b64_signature(BODY, "tf-secret"), False),
    ],
)
def test_typeform(body: bytes, header: str | None, accepted: bool) -> None:
    assert verify_typeform(body, header, "tf-secret") is accepted


def zendesk_headers(sent: datetime, body: bytes = BODY, secret: str = ZD) -> tuple[str, str]:
    timestamp = sent.strftime("%Y-%m-%dT%H:%M:%SZ")
    return b64_signature(timestamp.encode() + body, secret), timestamp


@pytest.mark.parametrize(
    ("sent_offset", "body", "secret", "accepted"),
    [
        (timedelta(seconds=-30), BODY, ZD, True),
        (timedelta(seconds=-299), BODY, ZD, True),
        (timedelta(minutes=-6), BODY, ZD, False),  # stale
        (timedelta(minutes=6), BODY, ZD, False),  # from the future
        (timedelta(0), BODY + b"x", ZD, False),  # tampered
        (timedelta(0), BODY, "other", False),  # wrong secret
    ],
)
def test_zendesk(sent_offset: timedelta, body: bytes, secret: str, accepted: bool) -> None:
    signature, timestamp = zendesk_headers(NOW + sent_offset, BODY, secret)
    assert verify_zendesk(body, signature, timestamp, ZD, now=NOW) is accepted


def test_zendesk_fails_closed_on_missing_or_odd_headers() -> None:
    signature, timestamp = zendesk_headers(NOW)
    assert verify_zendesk(BODY, signature, timestamp, ZD, now=NOW)
    assert not verify_zendesk(BODY, None, timestamp, ZD, now=NOW)
    assert not verify_zendesk(BODY, signature, None, ZD, now=NOW)
    assert not verify_zendesk(BODY, signature, "not a time", ZD, now=NOW)
    assert not verify_zendesk(BODY, signature, timestamp, "", now=NOW)
    # The timestamp is signed: moving it to look fresh breaks the signature.
    fresher = (NOW + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert not verify_zendesk(BODY, signature, fresher, ZD, now=NOW)


def test_replay_guard_accepts_once_within_its_window() -> None:
    guard = ReplayGuard(ttl=timedelta(minutes=10))
    key = replay_key(BODY)
    assert guard.first_use(key, now=NOW)
    assert not guard.first_use(key, now=NOW + timedelta(minutes=9))
    assert guard.first_use(replay_key(BODY + b" "), now=NOW)
    assert guard.first_use(key, now=NOW + timedelta(minutes=11))  # forgotten after ttl


def _accept(guard: ReplayGuard, body: bytes, header: str) -> bool:
    """What a receiver does: verify the signature, then take the request once."""
    return verify_delighted(body, header, KEY) and guard.first_use(replay_key(body), now=NOW)


@pytest.mark.parametrize(
    "respelled",
    [
        lambda s: s.upper().replace("SHA256=", "sha256="),
        lambda s: s + " ",
        lambda s: " " + s + "\t",
    ],
)
def test_a_respelled_signature_is_still_a_replay(respelled: Callable[[str], str]) -> None:
    guard = ReplayGuard()
    header = hex_signature(BODY, KEY)
    assert _accept(guard, BODY, header)
    assert verify_delighted(BODY, respelled(header), KEY)  # still a valid signature...
    assert not _accept(guard, BODY, respelled(header))  # ...of a request already taken


def test_a_zendesk_replay_key_includes_the_signed_timestamp() -> None:
    assert replay_key(BODY, "2026-06-01T12:00:00Z") != replay_key(BODY, "2026-06-01T12:00:01Z")
    assert replay_key(BODY, "2026-06-01T12:00:00Z") == replay_key(BODY, " 2026-06-01T12:00:00Z ")


@pytest.mark.parametrize("header", ["sha256=\ud800", "\udcff", "sha256=abc\udfff"])
def test_a_lone_surrogate_in_a_header_is_rejected_not_raised(header: str) -> None:
    assert verify_delighted(BODY, header, KEY) is False
    assert verify_typeform(BODY, header, KEY) is False
    stamp = NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert verify_zendesk(BODY, header, stamp, ZD, now=NOW) is False
    assert verify_zendesk(BODY, b64_signature(BODY, ZD), header, ZD, now=NOW) is False


def test_replay_guard_memory_is_bounded() -> None:
    guard = ReplayGuard(max_entries=3)
    for n in range(10):
        assert guard.first_use(f"sig-{n}", now=NOW)
    assert len(guard) == 3
    assert not guard.first_use("sig-9", now=NOW)
