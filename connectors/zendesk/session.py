"""The HTTP session under zenpy: per-request headers and a rate-limit governor.

zenpy takes a ``requests.Session`` and sends everything through it, so what zenpy cannot do for
us is added here, on the session we own, without touching zenpy: every adapter the session has
mounted is wrapped in a :class:`GuardedAdapter` that

- adds headers chosen for the request at hand (:func:`request_headers`): the
  ``Idempotency-Key`` of a single ticket create, which zenpy never sends;
- honours ``Retry-After`` on a 429 and pauses before sending when ``X-Rate-Limit-Remaining``
  says the minute's budget is spent, but sleeps only while the governor's wait budget lasts.
  A longer wait raises :class:`~connectors.errors.DeferError` at once, so the scheduler thread
  is never parked for minutes and the work moves to the next run.

zenpy's own 429 loop therefore never runs: the governor answers every 429 first, and its budget
is shared by all endpoints of the connector (zenpy keeps one per endpoint family, for the life of
the client).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter

from connectors.errors import DeferError, RetryableError

SYSTEM = "zendesk"

#: Seconds to wait on a 429 that names no Retry-After (Zendesk's window is one minute).
DEFAULT_RETRY_AFTER = 60.0
#: 429s answered in a row for one request before giving up on it for this call.
MAX_RATE_LIMITED_TRIES = 5

_extra_headers: ContextVar[Mapping[str, str] | None] = ContextVar(
    "zendesk_extra_headers", default=None
)


@contextlib.contextmanager
def request_headers(headers: Mapping[str, str]) -> Iterator[None]:
    """Send ``headers`` with every request made in this block (this thread/context only)."""
    token = _extra_headers.set({**(_extra_headers.get() or {}), **headers})
    try:
        yield
    finally:
        _extra_headers.reset(token)


class WaitBudget:
    """At most ``seconds`` of sleeping per ``per_seconds`` of wall time (a token bucket)."""

    def __init__(
        self,
        seconds: float,
        *,
        per_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.capacity = max(seconds, 0.0)
        self.per_seconds = per_seconds
        self._clock = clock
        self._tokens = self.capacity
        self._last = clock()

    def take(self, seconds: float) -> bool:
        """Spend ``seconds`` of waiting if the budget holds them; False (nothing spent) if not."""
        now = self._clock()
        refill = (now - self._last) * self.capacity / self.per_seconds
        self._tokens = min(self.capacity, self._tokens + refill)
        self._last = now
        if seconds > self._tokens:
            return False
        self._tokens -= seconds
        return True


class RateLimitGovernor:
    """Decides how long to wait before a request and after a 429, within a :class:`WaitBudget`.

    ``reserve`` keeps that many requests of each minute for other integrations on the same
    account: when ``X-Rate-Limit-Remaining`` falls to it, the next request waits for the reset.
    """

    def __init__(
        self,
        budget: WaitBudget,
        *,
        reserve: int = 0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.budget = budget
        self.reserve = reserve
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self._paused_until = 0.0
        self.waited = 0.0
        self.deferred = 0

    def before_send(self) -> None:
        with self._lock:
            pause = self._paused_until - self._clock()
        if pause > 0:
            self.wait(pause, "the minute's request budget is spent")
            with self._lock:
                self._paused_until = 0.0

    def after_response(self, response: requests.Response) -> float | None:
        """Seconds to wait before sending again when rate limited, else None."""
        if response.status_code == 429:
            return retry_after(response.headers)
        remaining = _number(response.headers.get("X-Rate-Limit-Remaining"))
        if remaining is not None and remaining <= self.reserve:
            reset = _number(response.headers.get("ratelimit-reset"))
            pause = reset if reset is not None else DEFAULT_RETRY_AFTER
            with self._lock:
                self._paused_until = max(self._paused_until, self._clock() + pause)
        return None

    def wait(self, seconds: float, why: str) -> None:
        """Sleep ``seconds`` if the budget allows; otherwise raise :class:`DeferError`."""
        with self._lock:
            granted = self.budget.take(seconds)
            if not granted:
                self.deferred += 1
        if not granted:
            raise DeferError(
                f"rate limited: {why}; waiting {seconds:.0f}s exceeds the wait budget",
                system=SYSTEM,
                not_before=datetime.now(UTC) + timedelta(seconds=seconds),
            )
        self.waited += seconds
        self._sleep(seconds)


class GuardedAdapter(BaseAdapter):
    """Wraps another adapter: adds per-request headers and applies the rate-limit governor."""

    def __init__(self, inner: BaseAdapter, governor: RateLimitGovernor) -> None:
        super().__init__()
        self.inner = inner
        self.governor = governor

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        request.headers.update(_extra_headers.get() or {})
        for _ in range(MAX_RATE_LIMITED_TRIES):
            self.governor.before_send()
            response = self.inner.send(request, **kwargs)
            wait = self.governor.after_response(response)
            if wait is None:
                return response
            response.close()
            host = urlsplit(request.url or "").netloc or "Zendesk"
            self.governor.wait(wait, f"{host} answered 429 with Retry-After {wait:.0f}s")
        raise RetryableError(
            f"still rate limited after {MAX_RATE_LIMITED_TRIES} tries", system=SYSTEM
        )

    def close(self) -> None:
        self.inner.close()


def guard(session: requests.Session, governor: RateLimitGovernor) -> requests.Session:
    """Wrap every adapter mounted on ``session`` (in place); returns the session."""
    for prefix, adapter in list(session.adapters.items()):
        if not isinstance(adapter, GuardedAdapter):
            session.mount(prefix, GuardedAdapter(adapter, governor))
    return session


def retry_after(headers: Mapping[str, str]) -> float:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date); a default if absent."""
    value = headers.get("Retry-After")
    seconds = _number(value)
    if seconds is not None:
        return max(seconds, 0.0)
    if value:
        with contextlib.suppress(TypeError, ValueError):
            when = parsedate_to_datetime(value)
            return max((when - datetime.now(UTC)).total_seconds(), 0.0)
    return DEFAULT_RETRY_AFTER


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None
