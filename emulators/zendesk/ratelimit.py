"""Per-minute request budgets, as Zendesk enforces them per account.

Fixed one-minute windows on the emulator clock: simple, deterministic under
``advance_clock``, and close enough to Zendesk's behaviour for clients that honour
``Retry-After``.
"""

from __future__ import annotations

import math

WINDOW_SECONDS = 60


class MinuteBudget:
    """At most ``limit`` requests per clock minute (per ``window`` seconds, which tests shorten
    so that a spent budget resets within a test)."""

    def __init__(self, limit: int, window: int = WINDOW_SECONDS) -> None:
        if limit < 1:
            raise ValueError("a rate limit must allow at least one request per minute")
        if window < 1:
            raise ValueError("a rate-limit window lasts at least one second")
        self.limit = limit
        self.window = window
        self._window = -1
        self._used = 0

    def _roll(self, now: float) -> None:
        window = int(now // self.window)
        if window != self._window:
            self._window = window
            self._used = 0

    def take(self, now: float) -> bool:
        """Spend one request; False when the budget for this minute is gone."""
        self._roll(now)
        if self._used >= self.limit:
            return False
        self._used += 1
        return True

    def remaining(self, now: float) -> int:
        self._roll(now)
        return max(self.limit - self._used, 0)

    def reset_in(self, now: float) -> int:
        """Whole seconds until the window resets (never 0, so clients always wait)."""
        return max(math.ceil(self.window - now % self.window), 1)
