"""The emulator's notion of "now".

Wall-clock time plus an offset that tests can move forward, so rate-limit windows, idempotency
windows and search-indexing lag can be crossed without sleeping. It never runs backwards, which
keeps ``updated_at`` ordering (and the incremental export built on it) monotonic.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime


class Clock:
    """Real time shifted by ``advance`` calls; monotonic."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._last = 0.0

    def now(self) -> float:
        """Seconds since the epoch, never smaller than a previous answer."""
        current = max(time.time() + self._offset, self._last)
        self._last = current
        return current

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self._offset += seconds


class ManualClock(Clock):
    """Time that moves only when told (``advance``), from ``start``: a simulation's clock."""

    def __init__(self, start: float) -> None:
        super().__init__()
        self._start = start

    def now(self) -> float:
        return self._start + self._offset


def iso(timestamp: float) -> str:
    """Zendesk's timestamp format: UTC, whole seconds, ``Z`` suffix."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch(value: datetime) -> float:
    """Seconds since the epoch; naive datetimes are taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()
