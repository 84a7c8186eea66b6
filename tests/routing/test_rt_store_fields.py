"""The routing fields the state store answers, computed by hand: the account's NPS at the moment
of routing, and the respondent's tickets open then or opened in the 30 days before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sync.fields.metrics import AccountSettings, ScoredResponse
from sync.stages.record_facts import account_nps_at, created_within, open_at
from sync.state import TicketSpan

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
DAY = timedelta(days=1)


def answer(contact: str, days_ago: float, score: int) -> ScoredResponse:
    return ScoredResponse(contact_id=contact, created_at=NOW - days_ago * DAY, score=score)


@pytest.mark.parametrize(
    ("answers", "settings", "nps"),
    [
        pytest.param([], AccountSettings(), None, id="nobody: missing, not zero"),
        pytest.param([answer("a", 1, 10), answer("b", 2, 3)], AccountSettings(), 0.0, id="1-1"),
        pytest.param(
            [answer("a", 1, 10), answer("a", 0, 2), answer("b", 2, 9)],
            AccountSettings(),
            0.0,
            id="each contact's latest answer only",
        ),
        pytest.param(
            [answer("a", 1, 10), answer("b", 200, 0)],
            AccountSettings(window=timedelta(days=180)),
            100.0,
            id="outside the window",
        ),
        pytest.param(
            [answer("a", 0, 10), answer("b", 30, 0)],
            AccountSettings(half_life=timedelta(days=30)),
            33.3,
            id="decay: the older detractor weighs half",
        ),
        pytest.param([answer("a", -1, 0)], AccountSettings(), None, id="answered after the moment"),
    ],
)
def test_the_account_nps_routing_reads_is_the_records_own_figure(
    answers: list[ScoredResponse], settings: AccountSettings, nps: float | None
) -> None:
    assert account_nps_at(answers, NOW, settings) == nps


def span(created_days_ago: float, solved_days_ago: float | None = None) -> TicketSpan:
    solved = NOW - solved_days_ago * DAY if solved_days_ago is not None else None
    return TicketSpan(NOW - created_days_ago * DAY, solved)


@pytest.mark.parametrize(
    ("spans", "open_now", "last_30d"),
    [
        pytest.param([], 0, 0, id="none"),
        pytest.param([span(90), span(5)], 2, 1, id="two unsolved, one recent"),
        pytest.param([span(10, 2), span(40, 35)], 0, 1, id="solved ones are not open"),
        pytest.param([span(10, -1)], 1, 1, id="solved after the moment: open then"),
        pytest.param([span(-1)], 0, 0, id="created after the moment"),
        pytest.param([span(30)], 1, 0, id="exactly 30 days old: not recent"),
    ],
)
def test_support_history_counts_open_and_recent_tickets(
    spans: list[TicketSpan], open_now: int, last_30d: int
) -> None:
    assert (open_at(spans, NOW), created_within(spans, NOW)) == (open_now, last_30d)
