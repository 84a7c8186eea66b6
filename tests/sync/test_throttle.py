"""Outage lines: one a minute of each kind at its level, the rest at debug, counted."""

from __future__ import annotations

import logging

import pytest

from connectors.errors import RetryableError
from sync.core.retry import RetryPolicy
from sync.core.throttle import LogThrottle

log = logging.getLogger("tests.throttle")


def test_a_repeated_line_goes_out_once_a_minute_and_says_how_many_it_held_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    throttle = LogThrottle(every=60, clock=lambda: now[0])
    with caplog.at_level(logging.DEBUG, logger="tests.throttle"):
        for second in (0, 1, 2, 30):  # an outage: pass after pass
            now[0] = second
            throttle.log(log, logging.ERROR, "routing:zendesk", "routing stopped: %s", "down")
        throttle.log(log, logging.ERROR, "act:salesforce", "tasks stopped: %s", "locked")
        now[0] = 61
        throttle.log(log, logging.ERROR, "routing:zendesk", "routing stopped: %s", "down")

    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == [
        "routing stopped: down",
        "tasks stopped: locked",  # another kind: its own minute
        "routing stopped: down (3 more like it since the last)",
    ]
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG] == [
        "routing stopped: down"
    ] * 3


def test_an_outage_warns_of_its_retries_once_not_per_call(
    caplog: pytest.LogCaptureFixture,
) -> None:
    policy = RetryPolicy(attempts=3, initial_wait=0.001, max_wait=0.002)

    def down() -> None:
        raise RetryableError("cannot connect to acme.zendesk.com", system="zendesk-test")

    with caplog.at_level(logging.DEBUG, logger="sync.core.retry"):
        for _ in range(5):  # five calls of one pass, each retried twice
            with pytest.raises(RetryableError):
                policy.call(down)

    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warned == ["retrying after zendesk-test: cannot connect to acme.zendesk.com (attempt 1)"]
    assert sum(r.levelno == logging.DEBUG for r in caplog.records) == 9
