"""Signature checks for incoming webhooks (Delighted, Typeform, Zendesk).

Pure functions over the raw request bytes and header values: no framework, no clock of their own.
Every check fails closed (a missing header, an empty secret or a malformed value is ``False``)
and compares in constant time. Verify before parsing, and parse the same bytes that were verified.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
from collections import OrderedDict
from datetime import UTC, datetime, timedelta


def _hmac_sha256(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()


def _same(expected: str, given: str) -> bool:
    try:
        given_bytes = given.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate in a header: not a signature we made
        return False
    return hmac.compare_digest(expected.encode("ascii"), given_bytes)


def _prefixed_value(header: str | None, prefix: str) -> str | None:
    if not header:
        return None
    value = header.strip()
    return value[len(prefix) :] if value.startswith(prefix) else None


def verify_delighted(body: bytes, header: str | None, api_key: str) -> bool:
    """``X-Delighted-Webhook-Signature: sha256=<hex HMAC-SHA256 of the body, keyed by the key>``."""
    given = _prefixed_value(header, "sha256=")
    if given is None or not api_key:
        return False
    return _same(_hmac_sha256(api_key, body).hex(), given.lower())


def verify_typeform(body: bytes, header: str | None, secret: str) -> bool:
    """``Typeform-Signature: sha256=<base64 HMAC-SHA256 of the body>``."""
    given = _prefixed_value(header, "sha256=")
    if given is None or not secret:
        return False
    return _same(base64.b64encode(_hmac_sha256(secret, body)).decode("ascii"), given)


def verify_zendesk(
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    secret: str,
    *,
    now: datetime,
    tolerance_seconds: float = 300,
) -> bool:
    """``X-Zendesk-Webhook-Signature`` (base64 HMAC-SHA256 of timestamp + body) with its
    ``X-Zendesk-Webhook-Signature-Timestamp``; a timestamp further than ``tolerance_seconds``
    from ``now`` (either way) is rejected, so a captured request cannot be replayed later."""
    if not signature or not timestamp or not secret:
        return False
    try:
        sent = datetime.fromisoformat(timestamp.strip())
    except ValueError:
        return False
    if sent.tzinfo is None:
        sent = sent.replace(tzinfo=UTC)
    if abs((now - sent).total_seconds()) > tolerance_seconds:
        return False
    digest = _hmac_sha256(secret, timestamp.encode("utf-8") + body)
    return _same(base64.b64encode(digest).decode("ascii"), signature.strip())


def replay_key(body: bytes, timestamp: str = "") -> str:
    """What identifies a verified request: a digest of what was signed, not of the header.

    A header can be re-spelled without breaking its signature (hex in upper case, whitespace
    around it); the signed bytes cannot change without breaking it, so they are what a replay
    guard must remember.
    """
    return hashlib.sha256(timestamp.strip().encode("utf-8", "replace") + b"\n" + body).hexdigest()


class ReplayGuard:
    """Remembers requests accepted in the last ``ttl`` so the same request is taken only once.

    Keys are :func:`replay_key` values of verified requests. Delighted and Typeform sign no
    timestamp, so this is their only defence against replays; keep ``ttl`` at least as long as any
    timestamp tolerance. Beyond ``max_entries`` the oldest are forgotten (memory stays bounded
    under a flood).
    """

    def __init__(
        self, *, ttl: timedelta = timedelta(minutes=10), max_entries: int = 100_000
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be positive")
        self.ttl = ttl
        self.max_entries = max_entries
        self._expiries: OrderedDict[str, datetime] = OrderedDict()
        self._lock = threading.Lock()

    def seen(self, key: str, *, now: datetime) -> bool:
        """True if ``key`` was taken within ``ttl``; remembers nothing new.

        A receiver that must store a request before it counts as taken asks this first and
        calls :meth:`first_use` only once the request is stored: a request whose storing failed
        is then taken again when the sender retries it.
        """
        with self._lock:
            self._forget_expired(now)
            return key in self._expiries

    def first_use(self, key: str, *, now: datetime) -> bool:
        """True the first time ``key`` (a :func:`replay_key`) is seen within ``ttl``."""
        with self._lock:
            self._forget_expired(now)
            if key in self._expiries:
                return False
            self._expiries[key] = now + self.ttl
            if len(self._expiries) > self.max_entries:
                self._expiries.popitem(last=False)
            return True

    def _forget_expired(self, now: datetime) -> None:
        while self._expiries:
            oldest, expiry = next(iter(self._expiries.items()))
            if expiry > now:
                break
            del self._expiries[oldest]

    def __len__(self) -> int:
        with self._lock:
            return len(self._expiries)
