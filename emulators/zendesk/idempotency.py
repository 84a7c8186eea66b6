"""``Idempotency-Key`` handling for ticket creation.

Zendesk remembers a key with the request it came with for a while (about two hours): the same
key and body again returns the first answer, marked ``x-idempotency-lookup: hit``; the same key
with a different body is refused. Bodies are compared as parsed JSON, so key order and
whitespace do not matter.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from emulators.base import Response

from .errors import ApiError

DEFAULT_WINDOW_SECONDS = 2 * 60 * 60


@dataclass(frozen=True)
class _Entry:
    fingerprint: str
    response: Response
    stored_at: float


class IdempotencyCache:
    def __init__(self, window_seconds: float = DEFAULT_WINDOW_SECONDS) -> None:
        self.window_seconds = window_seconds
        self._entries: dict[str, _Entry] = {}

    def lookup(self, key: str, body: Any, now: float) -> Response | None:
        """The remembered answer for a repeat, None for a new key; raises on a mismatch."""
        entry = self._entries.get(key)
        if entry is None or now - entry.stored_at > self.window_seconds:
            self._entries.pop(key, None)
            return None
        if entry.fingerprint != fingerprint(body):
            raise ApiError(
                400,
                {
                    "error": "IdempotentRequestError",
                    "description": "Request parameters do not match the original request "
                    "sent with this Idempotency-Key",
                },
            )
        headers = dict(entry.response.headers)
        headers["x-idempotency-lookup"] = "hit"
        return Response(entry.response.status, entry.response.body, headers)

    def remember(self, key: str, body: Any, response: Response, now: float) -> None:
        snapshot = Response(response.status, response.body, dict(response.headers))
        self._entries[key] = _Entry(fingerprint(body), snapshot, now)


def fingerprint(body: Any) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"))
