"""The pure metrics against hand-computed examples."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from sync.fields.metrics import ScoredResponse, account_metrics, contact_metrics, nps

NOW = datetime(2026, 11, 1, tzinfo=UTC)
WINDOW = timedelta(days=180)


def r(contact: str, days_ago: float, score: int) -> ScoredResponse:
    return ScoredResponse(contact, NOW - timedelta(days=days_ago), score)


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        ([], None),
        ([7, 8, 7], 0.0),  # all passives
        ([10, 9, 0], 33.3),  # 2/3 - 1/3
        ([0, 1, 6], -100.0),
        ([10], 100.0),
        ([9, 9, 7, 3], 25.0),
    ],
)
def test_nps(scores: list[int], expected: float | None) -> None:
    assert nps(scores) == expected


def test_account_counts_each_contacts_latest_response_in_the_window() -> None:
    responses = [
        r("a", 200, 0),  # outside the window
        r("a", 10, 10),  # a's latest: promoter
        r("b", 30, 9),
        r("b", 5, 2),  # b's latest: detractor
        r("c", 1, 8),  # passive
    ]
    result = account_metrics(responses, now=NOW, window=WINDOW, arr=120_000.0)
    assert (result.promoters, result.passives, result.detractors) == (1, 1, 1)
    assert result.nps == 0.0
    assert result.respondents == 3
    assert result.revenue_at_risk is None  # 3 respondents: below the minimum sample of 5
    assert result.last_response_date == date(2026, 10, 31)


def test_window_edges_exclude_the_start_and_include_now() -> None:
    at_start = r("a", 180, 0)  # exactly now - window: outside
    at_now = r("b", 0, 10)  # exactly now: inside
    result = account_metrics([at_start, at_now], now=NOW, window=WINDOW, arr=0.0)
    assert result.respondents == 1
    assert result.nps == 100.0


def test_negative_nps_puts_the_whole_arr_at_risk() -> None:
    scores = {"a": 2, "b": 8, "c": 2, "d": 8, "e": 10}
    responses = [r(contact, 3, score) for contact, score in scores.items()]
    result = account_metrics(responses, now=NOW, window=WINDOW, arr=50_000.0)
    assert result.nps == -20.0
    assert result.revenue_at_risk == 50_000.0


def test_no_respondents() -> None:
    result = account_metrics([], now=NOW, window=WINDOW, arr=10.0)
    assert (result.nps, result.respondents, result.revenue_at_risk) == (None, 0, None)
    assert result.last_response_date is None


def test_contact_metrics_keep_the_previous_score() -> None:
    metrics = contact_metrics([r("a", 40, 9), r("a", 2, 4)])
    assert metrics is not None
    assert (metrics.last_score, metrics.category, metrics.previous_score) == (4, "detractor", 9)
    assert metrics.responses == 2
    assert contact_metrics([]) is None
