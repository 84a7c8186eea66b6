"""The shared polling policy and the CI-required inputs behave as documented."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from tests.support import poll, require, wait_for


def test_poll_returns_the_first_result_that_satisfies_until() -> None:
    counter = itertools.count()
    assert poll(lambda: next(counter), until=lambda n: n >= 3, attempts=10, interval=0) == 3


def test_poll_gives_up_after_its_attempts_and_returns_the_last_result() -> None:
    calls: list[int] = []

    def attempt() -> int:
        calls.append(1)
        return len(calls)

    assert poll(attempt, until=lambda n: n > 100, attempts=4, interval=0) == 4
    assert len(calls) == 4


def test_poll_gives_up_after_its_timeout() -> None:
    assert wait_for(lambda: False, timeout=0.05, interval=0.01) is False
    assert wait_for(lambda: True, timeout=0.05) is True


def test_poll_does_not_swallow_exceptions() -> None:
    def boom() -> bool:
        raise KeyError("x")

    with pytest.raises(KeyError):
        poll(boom, attempts=3, interval=0)


def test_poll_needs_a_limit() -> None:
    with pytest.raises(ValueError, match="timeout or a number of attempts"):
        poll(lambda: True)


def test_a_missing_input_skips_locally_and_fails_under_ci(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert require(tmp_path, "the folder") == tmp_path
    missing = tmp_path / "oracles"
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="the recordings not found"):
        require(missing, "the recordings")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must run these tests"):
        require(missing, "the recordings")
