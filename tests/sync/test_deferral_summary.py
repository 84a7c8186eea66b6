"""The line a pass prints about work a rate limit or the API allowance held back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sync.app.report import deferral_summary


def test_a_deferral_due_at_once_says_the_next_pass_not_a_time_gone_by() -> None:
    """The API reserve defers to the next pass (it reads the usage again before a call): a
    time already past, printed as "until 08:52:58", read as a broken promise."""
    past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    later = datetime(2099, 1, 1, 9, 30, tzinfo=UTC).isoformat()
    line = deferral_summary({"salesforce": past, "zendesk": later}, {"actions": 3})
    assert line.startswith(
        "Deferred (rate limit or API allowance): salesforce until the next pass, "
        "zendesk until 2099-01-01 09:30:00 UTC;"
    )
    assert "3 actions" in line
