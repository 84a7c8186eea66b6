"""Log lines that repeat while a system stays down, let through once a minute.

During an outage a daemon runs a pass every few seconds, every call retries before it gives up,
and every stage that needs the system stops with the same error: a line per retry and per pass
buried what changed. A :class:`LogThrottle` lets a line of one kind (its key: the stage and the
system, say) through at its own level at most once every ``every`` seconds, logs the rest at
debug, and has the next line it lets through say how many it held back. Each pass still records
its errors in full (``nps-sync status``); only the log is thinned.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

#: Seconds between two lines of one kind at their own level.
EVERY = 60.0


class LogThrottle:
    """At most one line a key every ``every`` seconds at its level; the rest at debug."""

    def __init__(self, every: float = EVERY, clock: Callable[[], float] = time.monotonic):
        self.every = every
        self.clock = clock
        self._lock = threading.Lock()
        self._let_through_at: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def reset(self) -> None:
        """Forget which lines went out: the next of each kind goes out at its level."""
        with self._lock:
            self._let_through_at.clear()
            self._held.clear()

    def log(
        self,
        logger: logging.Logger,
        level: int,
        key: str,
        message: str,
        *args: object,
        extra: Mapping[str, object] | None = None,
    ) -> None:
        """``logger.log(level, message, *args, extra=extra)``, or at debug when a line of
        ``key`` went out within the last ``every`` seconds."""
        now = self.clock()
        with self._lock:
            last = self._let_through_at.get(key)
            through = last is None or now - last >= self.every
            if through:
                self._let_through_at[key] = now
                held = self._held.pop(key, 0)
            else:
                self._held[key] = self._held.get(key, 0) + 1
        if not through:
            logger.debug(message, *args, extra=extra)
        elif held:
            logger.log(level, f"{message} ({held} more like it since the last)", *args, extra=extra)
        else:
            logger.log(level, message, *args, extra=extra)


#: The process's throttle for outage lines (retries, stopped stages, work left waiting).
OUTAGE_LINES = LogThrottle()
