"""The one retry policy for calls to external systems.

Short, transient failures (429 with a short Retry-After, 5xx, connection resets, row locks) are
retried in the call with jittered exponential backoff, honouring ``Retry-After``. A wait longer than
``max_wait`` is not slept: it becomes a :class:`~connectors.errors.DeferError`, which the engine
turns into a ``next_attempt_at`` in the state store.
"""

from __future__ import annotations

import logging
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
            log.warning("retrying after %s (attempt %d)", exc, state.attempt_number)

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
