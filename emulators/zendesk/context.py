"""What every request handler works with: the account state and the current call."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from emulators.base import Request, Response

from .errors import bad_request
from .idempotency import IdempotencyCache
from .jobs import JobBoard
from .store import Store


@dataclass
class Context:
    """Account-wide state shared by the resource modules (guarded by the app lock)."""

    store: Store
    jobs: JobBoard
    idempotency: IdempotencyCache
    search_index_delay_seconds: float = 0.0
    #: Lower-case addresses whose ``email:`` search answers 400, as Zendesk answers a query its
    #: search parser refuses (a test's way to make one lookup of a batch fail on its own).
    rejected_searches: set[str] = field(default_factory=set)

    def now(self) -> float:
        return self.store.clock.now()


@dataclass(frozen=True)
class Call:
    """One authenticated request: who makes it and what it says."""

    request: Request
    actor_id: int

    @property
    def base(self) -> str:
        return self.request.base_url

    def body(self) -> dict[str, Any]:
        """The JSON body as an object; an empty body is ``{}``."""
        if not self.request.body:
            return {}
        try:
            payload = json.loads(self.request.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise bad_request("InvalidJSON", "Server could not parse JSON") from None
        if not isinstance(payload, dict):
            raise bad_request("InvalidJSON", "The request body must be a JSON object")
        return payload

    def member(self, name: str) -> dict[str, Any]:
        """``body[name]`` as an object (``{"ticket": {...}}``); 400 when absent."""
        value = self.body().get(name)
        if not isinstance(value, dict):
            raise bad_request("InvalidJSON", f"The request body must contain a {name!r} object")
        return value

    def int_param(self, name: str) -> int:
        return int(self.request.params[name])

    def id_list(self, name: str) -> list[str]:
        raw = self.request.arg(name) or ""
        return [part.strip() for part in raw.split(",") if part.strip()]


def ok(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response.json(payload, status, headers)
