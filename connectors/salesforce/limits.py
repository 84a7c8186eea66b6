"""The daily API allowance: what the org told us we used, and the reserve we leave for others.

Every Salesforce answer to a data call carries ``Sforce-Limit-Info: api-usage=USED/ALLOWANCE``.
The connector records the latest one from every response its HTTP session sees (REST and Bulk
2.0 alike) and, before each call or job, asks :class:`ApiReserve` whether the run may go on. Once
usage reaches ``(1 - reserve) * allowance`` the call is refused with :class:`ApiReserveError`, a
:class:`~connectors.errors.DeferError`, so the rest of the work waits for the next run and the
other integrations of the org keep their share.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import requests

from connectors.errors import DeferError

#: How long a usage reading decides alone; after that one call may go out to refresh it.
USAGE_MAX_AGE = 300.0
_API_USAGE = re.compile(r"(?:^|[;,\s])api-usage=(?P<used>\d+)/(?P<allowance>\d+)")


@dataclass(frozen=True, slots=True)
class ApiUsage:
    """Calls used in the org's rolling 24-hour window, out of its allowance."""

    used: int
    allowance: int

    @property
    def fraction(self) -> float:
        return self.used / self.allowance if self.allowance else 1.0

    def __str__(self) -> str:
        return f"{self.used:,} of {self.allowance:,} daily API calls"


def parse_limit_info(header: str) -> ApiUsage | None:
    """The org-wide usage in a ``Sforce-Limit-Info`` header (per-app usage is ignored)."""
    found = _API_USAGE.search(header)
    if found is None:
        return None
    return ApiUsage(int(found["used"]), int(found["allowance"]))


class ApiReserveError(DeferError):
    """The run stopped itself: the next call would eat into the reserve kept for others."""

    def __init__(self, usage: ApiUsage, reserve: float) -> None:
        super().__init__(
            f"API reserve reached: {usage} used, {reserve:.0%} of the allowance is kept for "
            "other integrations; the rest of the work waits for the next run",
            system="salesforce",
            # Due again at once: the next run re-reads the usage before its first call.
            not_before=datetime.now(UTC),
        )
        self.usage = usage
        self.reserve = reserve


class UsageMeter:
    """The latest usage seen on any response of one HTTP session; thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._latest: ApiUsage | None = None
        self._seen_at = 0.0
        self._retry_after: float | None = None

    def observe(self, response: requests.Response, *args: object, **kwargs: object) -> None:
        """A ``requests`` response hook: remember the usage and any ``Retry-After`` it reports.

        simple-salesforce's exceptions carry no headers, so a 429/503's ``Retry-After`` is only
        visible here; :meth:`take_retry_after` hands it to the error translation.
        """
        header = response.headers.get("Sforce-Limit-Info")
        usage = parse_limit_info(header) if header else None
        if usage is not None:
            with self._lock:
                self._latest, self._seen_at = usage, self._clock()
        if response.status_code in (429, 503):
            with self._lock:
                self._retry_after = _seconds(response.headers.get("Retry-After"))

    def take_retry_after(self) -> float | None:
        """The ``Retry-After`` of the last refused answer, once."""
        with self._lock:
            value, self._retry_after = self._retry_after, None
            return value

    @property
    def latest(self) -> ApiUsage | None:
        with self._lock:
            return self._latest

    def fresh(self, max_age: float) -> ApiUsage | None:
        """The latest usage if seen within ``max_age`` seconds, else None (unknown).

        The window rolls: an old reading must not refuse calls forever, so once it is stale
        one call goes through and brings a new one.
        """
        with self._lock:
            if self._latest is None or self._clock() - self._seen_at > max_age:
                return None
            return self._latest

    def install(self, session: requests.Session) -> None:
        """Watch every answer ``session`` receives (once, however often it is called)."""
        hooks = session.hooks.setdefault("response", [])
        if self.observe not in hooks:
            hooks.append(self.observe)


@dataclass
class ApiReserve:
    """Refuses calls once usage reaches ``1 - reserve`` of the allowance.

    ``reserve`` is a fraction (0.2 keeps 20% of the daily allowance for other integrations);
    0 disables the check. Usage is only known after the first answer, so a run always makes at
    least one call and may pass the line by the calls of one Bulk job at most.
    """

    reserve: float = 0.0
    tripped: ApiReserveError | None = None

    def consume_stop(self) -> ApiReserveError | None:
        """The refusal since the last call of this method, if any (one per run report)."""
        tripped, self.tripped = self.tripped, None
        return tripped

    def check(self, usage: ApiUsage | None) -> None:
        if self.reserve <= 0 or usage is None or usage.allowance <= 0:
            return
        if usage.used >= usage.allowance * (1 - self.reserve):
            self.tripped = ApiReserveError(usage, self.reserve)
            raise self.tripped


def _seconds(value: str | None) -> float | None:
    """``Retry-After`` in seconds (the delta form; Salesforce does not send HTTP dates)."""
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:
        return None
