"""The line a pass prints about work a rate limit, the API allowance or an outage held back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rich.console import Console

from sync.app.engine import RunReport
from sync.app.report import deferral_summary, print_deferred, print_problems


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


def test_a_pass_with_a_system_down_says_what_waits_for_it() -> None:
    """The errors name the system that is down; the line after them says what that left."""
    report = RunReport(unavailable=True, waiting={"responses": 1, "write_backs": 12})
    console = Console(record=True, width=200)
    print_deferred(console, report)
    assert console.export_text() == (
        "waiting Left for the next pass while a system is down: 1 response to route, 0 actions "
        "(0 for detractors), 12 records to write back\n"
    )


def test_an_outage_that_stopped_several_stages_is_one_error_line() -> None:
    down = "salesforce: cannot connect to login.salesforce.com: connection refused"
    report = RunReport(errors=[down, "zendesk: HTTP 422: RecordInvalid", down])
    console = Console(record=True, width=200)
    print_problems(console, report)
    assert console.export_text().splitlines() == [
        f"error {down} (2 times)",
        "error zendesk: HTTP 422: RecordInvalid",
    ]
