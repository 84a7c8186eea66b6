"""The one retry policy: retries transient errors, honours Retry-After, defers long waits."""

from __future__ import annotations

import logging
import time

import pytest

from connectors.errors import DeferError, RecordError, RetryableError
from sync.core.retry import RetryPolicy, RetryWarnings


def flaky(failures: list[Exception]) -> tuple[list[float], object]:
    calls: list[float] = []

    def fn() -> str:
        calls.append(time.monotonic())
        if failures:
            raise failures.pop(0)
        return "ok"

    return calls, fn


def test_transient_errors_are_retried_until_success() -> None:
    calls, fn = flaky([RetryableError("503"), RetryableError("reset")])
    policy = RetryPolicy(attempts=4, initial_wait=0.01, max_wait=0.05)
    assert policy.call(fn) == "ok"  # type: ignore[arg-type]
    assert len(calls) == 3


def test_retry_after_is_honoured() -> None:
    calls, fn = flaky([RetryableError("429", retry_after=0.3)])
    RetryPolicy(attempts=2, initial_wait=0.01, max_wait=5).call(fn)  # type: ignore[arg-type]
    assert calls[1] - calls[0] >= 0.3


def test_a_long_retry_after_becomes_a_deferral_without_sleeping() -> None:
    calls, fn = flaky([RetryableError("429", retry_after=600)])
    started = time.monotonic()
    with pytest.raises(DeferError) as info:
        RetryPolicy(max_wait=30).call(fn)  # type: ignore[arg-type]
    assert time.monotonic() - started < 1
    assert info.value.not_before is not None
    assert len(calls) == 1


def test_record_errors_are_not_retried() -> None:
    calls, fn = flaky([RecordError("validation")])
    with pytest.raises(RecordError):
        RetryPolicy(initial_wait=0.01).call(fn)  # type: ignore[arg-type]
    assert len(calls) == 1


def test_gives_up_after_the_attempts() -> None:
    calls, fn = flaky([RetryableError(str(i)) for i in range(10)])
    with pytest.raises(RetryableError, match="2"):
        RetryPolicy(attempts=3, initial_wait=0.01, max_wait=0.02).call(fn)  # type: ignore[arg-type]
    assert len(calls) == 3


def test_retries_of_one_system_warn_once_a_minute_with_a_count_of_the_rest(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    warnings = RetryWarnings(every=60, clock=lambda: now[0])
    down = RetryableError("connection refused", system="zendesk")
    with caplog.at_level(logging.DEBUG, logger="sync.core.retry"):
        for second in (0, 1, 2, 30):  # an outage: retry after retry
            now[0] = second
            warnings.retrying(down, 1)
        warnings.retrying(RetryableError("UNABLE_TO_LOCK_ROW", system="salesforce"), 1)
        now[0] = 61
        warnings.retrying(down, 2)

    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warned == [
        "retrying after zendesk: connection refused (attempt 1)",
        "retrying after salesforce: UNABLE_TO_LOCK_ROW (attempt 1)",  # another system's own
        "retrying after zendesk: connection refused (attempt 2; 3 more retries of zendesk since "
        "the last warning)",
    ]
    assert sum(r.levelno == logging.DEBUG for r in caplog.records) == 3
