"""Rate limits: Retry-After and X-Rate-Limit-Remaining are honoured within the wait budget only."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from connectors.errors import DeferError
from connectors.zendesk.session import DEFAULT_RETRY_AFTER, WaitBudget, retry_after
from emulators.base import EmulatorServer, Fault
from emulators.zendesk import ZendeskEmulator
from tests.zendesk.conftest import Serve, new_connector


def test_a_short_retry_after_is_waited_out(
    emulator: ZendeskEmulator, server: EmulatorServer
) -> None:
    slept: list[float] = []
    desk = new_connector(server.url, wait_budget_seconds=10, sleep=slept.append)
    emulator.inject(Fault("429", count=1, endpoint="groups_list", retry_after=3))

    assert "Support" in desk.group_ids()
    assert slept == [3.0]
    assert emulator.calls["groups_list"] == 2


def test_a_retry_after_beyond_the_budget_defers_instead_of_sleeping(
    emulator: ZendeskEmulator, server: EmulatorServer
) -> None:
    slept: list[float] = []
    desk = new_connector(server.url, wait_budget_seconds=10, sleep=slept.append)
    emulator.inject(Fault("429", count=1, endpoint="groups_list", retry_after=45))

    before = datetime.now(UTC)
    with pytest.raises(DeferError) as raised:
        desk.group_ids()

    assert slept == []
    assert raised.value.not_before is not None
    assert 44 <= (raised.value.not_before - before).total_seconds() <= 47


def test_the_budget_is_shared_by_all_endpoints(
    emulator: ZendeskEmulator, server: EmulatorServer
) -> None:
    slept: list[float] = []
    desk = new_connector(server.url, wait_budget_seconds=5, sleep=slept.append)
    emulator.inject(Fault("429", count=1, endpoint="groups_list", retry_after=4))
    emulator.inject(Fault("429", count=1, endpoint="ticket_fields", retry_after=4))

    desk.group_ids()
    with pytest.raises(DeferError):
        desk.ticket_field_ids()
    assert slept == [4.0]


def test_an_exhausted_minute_is_waited_for_before_sending(serve: Serve) -> None:
    emulator, url = serve(rate_limit_per_minute=3)
    desk = new_connector(url, wait_budget_seconds=60, sleep=emulator.advance_clock)

    for _ in range(5):
        desk.group_ids()

    # Remaining hit 0 after the third answer: the fourth request waited for the reset instead
    # of drawing a 429, so the account saw exactly the five requests.
    assert emulator.calls["groups_list"] == 5


def test_an_exhausted_minute_beyond_the_budget_defers(serve: Serve) -> None:
    emulator, url = serve(rate_limit_per_minute=2)
    desk = new_connector(url, wait_budget_seconds=0, sleep=emulator.advance_clock)
    desk.group_ids()
    desk.group_ids()
    with pytest.raises(DeferError):
        desk.group_ids()
    assert emulator.calls["groups_list"] == 2


def test_the_wait_budget_refills_over_a_minute() -> None:
    now = [0.0]
    budget = WaitBudget(10, clock=lambda: now[0])
    assert budget.take(8)
    assert not budget.take(5)
    now[0] += 30  # half a minute: five seconds back
    assert budget.take(5)
    assert not budget.take(5)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("7", 7.0),
        ("2.5", 2.5),
        ("-3", 0.0),
        (None, DEFAULT_RETRY_AFTER),
        ("soon", DEFAULT_RETRY_AFTER),
    ],
)
def test_retry_after_values(header: str | None, seconds: float) -> None:
    headers = {"Retry-After": header} if header is not None else {}
    assert retry_after(headers) == seconds


def test_retry_after_as_an_http_date() -> None:
    when = datetime.now(UTC).replace(microsecond=0)
    later = when.timestamp() + 30
    header = format_datetime(datetime.fromtimestamp(later, UTC), usegmt=True)
    assert 27 <= retry_after({"Retry-After": header}) <= 30
