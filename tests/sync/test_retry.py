"""The one retry policy: retries transient errors, honours Retry-After, defers long waits."""

from __future__ import annotations

import time

import pytest

from connectors.errors import DeferError, RecordError, RetryableError
from sync.core.retry import RetryPolicy


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
