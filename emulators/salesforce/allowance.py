"""The org's API request allowance: a rolling 24 hours, as Salesforce counts it.

Salesforce counts every REST call against ``DailyApiRequests`` over the last 24 hours (not per
calendar day), so calls made yesterday afternoon free up again this afternoon. Calls are kept in
one-minute buckets on wall-clock time plus an offset that :meth:`RollingAllowance.advance` moves,
so a test can see the window roll without touching the org's own clock (record timestamps).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from datetime import timedelta

WINDOW = timedelta(hours=24)
_BUCKET_SECONDS = 60


class RollingAllowance:
    """At most ``limit`` calls in any 24 hours; ``used`` counts the calls still in the window."""

    def __init__(self, limit: int, clock: Callable[[], float] = time.time) -> None:
        self.limit = limit
        self._clock = clock
        self._offset = 0.0
        self._buckets: deque[list[int]] = deque()  # [minute, calls], oldest first
        self._used = 0

    def advance(self, seconds: float) -> None:
        """Move this window's time forward: calls older than 24 hours stop counting."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        self._offset += seconds

    def _expire(self) -> int:
        minute = int(self._clock() + self._offset) // _BUCKET_SECONDS
        oldest_kept = minute - int(WINDOW.total_seconds()) // _BUCKET_SECONDS + 1
        while self._buckets and self._buckets[0][0] < oldest_kept:
            self._used -= self._buckets.popleft()[1]
        return minute

    @property
    def used(self) -> int:
        self._expire()
        return self._used

    def set_used(self, calls: int) -> None:
        """Forget the window and count ``calls`` made now (a test's way to start near the cap)."""
        self._buckets.clear()
        self._used = 0
        self._add(self._expire(), calls)

    def take(self) -> bool:
        """Count one call; False (and nothing counted) when the allowance is spent."""
        minute = self._expire()
        if self._used >= self.limit:
            return False
        self._add(minute, 1)
        return True

    def _add(self, minute: int, calls: int) -> None:
        if calls <= 0:
            return
        if self._buckets and self._buckets[-1][0] == minute:
            self._buckets[-1][1] += calls
        else:
            self._buckets.append([minute, calls])
        self._used += calls
