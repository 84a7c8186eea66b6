"""The one retry policy for calls to external systems.

Short, transient failures (429 with a short Retry-After, 5xx, connection resets, row locks) are
retried in the call with jittered exponential backoff, honouring ``Retry-After``. A wait longer than
``max_wait`` is not slept: it becomes a :class:`~connectors.errors.DeferError`, which the engine
turns into a ``next_attempt_at`` in the state store.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from connectors.errors import DeferError, RetryableError
from sync.core.throttle import OUTAGE_LINES

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    initial_wait: float = 0.5
    max_wait: float = 30.0

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn``, retrying retryable errors; a long Retry-After becomes a DeferError."""
        backoff = wait_random_exponential(multiplier=self.initial_wait, max=self.max_wait)

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, RetryableError) and exc.retry_after is not None:
                return exc.retry_after
            return float(backoff(state))

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            system = getattr(exc, "system", "") or ""
            OUTAGE_LINES.log(
                log,
                logging.WARNING,
                f"retry:{system}",
                "retrying after %s (attempt %d)",
                exc,
                state.attempt_number,
            )

        retrying = Retrying(
            retry=retry_if_exception_type(RetryableError),
            stop=stop_after_attempt(self.attempts),
            wait=wait,
            before_sleep=before_sleep,
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                try:
                    return fn()
                except RetryableError as exc:
                    if exc.retry_after is not None and exc.retry_after > self.max_wait:
                        raise DeferError(
                            f"{exc.message} (retry after {exc.retry_after:.0f}s)",
                            system=exc.system,
                            record_id=exc.record_id,
                            not_before=datetime.now(UTC) + timedelta(seconds=exc.retry_after),
                        ) from exc
                    raise
        raise AssertionError("unreachable: tenacity reraises the last error")


NO_RETRY = RetryPolicy(attempts=1)


class StoppedError(Exception):
    """:func:`keep_trying` gave up because a stop was asked for while it waited."""


def keep_trying(
    fn: Callable[[], T],
    *,
    what: str,
    initial_wait: float = 1.0,
    max_wait: float = 60.0,
    wait: Callable[[float], bool] | None = None,
) -> T:
    """Run ``fn`` until it gets past transient failures, for a daemon that must not give up.

    A :class:`RetryableError` or :class:`DeferError` (a 5xx, a dropped connection, a rate limit)
    is logged in one line and tried again after a jittered exponential wait capped at
    ``max_wait`` (a Retry-After or a deferral's time is honoured, within the cap). Any other
    error, a configuration error above all, is raised at once. ``wait(seconds)`` sleeps and
    returns True when a stop was asked for meanwhile, which raises :class:`StoppedError`.
    """
    pause = wait if wait is not None else _sleep
    failures = 0
    while True:
        try:
            return fn()
        except (RetryableError, DeferError) as exc:
            failures += 1
            delay = _delay(exc, failures, initial_wait, max_wait)
            log.warning("%s: %s; trying again in %.1f s (attempt %d)", what, exc, delay, failures)
            if pause(delay):
                raise StoppedError(what) from exc


def _delay(exc: RetryableError | DeferError, failures: int, initial: float, cap: float) -> float:
    """The wait before the next try: what the system asked for, else full-jitter backoff."""
    asked: float | None = None
    if isinstance(exc, RetryableError):
        asked = exc.retry_after
    elif exc.not_before is not None:
        asked = (exc.not_before - datetime.now(UTC)).total_seconds()
    if asked is not None:
        return min(max(asked, 0.0), cap)
    ceiling = min(cap, initial * 2.0 ** min(failures, 30))
    return max(ceiling / 4, random.uniform(0, ceiling))


def _sleep(seconds: float) -> bool:
    time.sleep(seconds)
    return False
