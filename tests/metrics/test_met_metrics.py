"""The pure metrics against hand-computed examples."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from sync.fields.metrics import (
    AccountFacts,
    AccountSettings,
    ScoredResponse,
    SegmentAccount,
    account_summary,
    contact_metrics,
    decay_weight,
    latest_per_contact,
    nps,
    percent,
    revenue_at_risk,
    segment_scores,
    weighted_nps,
)

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
WINDOW = timedelta(days=180)
SETTINGS = AccountSettings(window=WINDOW)


def r(contact: str, days_ago: float, score: int, rid: str = "") -> ScoredResponse:
    return ScoredResponse(contact, NOW - timedelta(days=days_ago), score, response_id=rid)


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        ([], None),  # no respondents: no NPS, not 0
        ([7, 8, 7, 8], 0.0),  # all passives
        ([9, 10], 100.0),
        ([0, 6], -100.0),
        ([10, 9, 0], 33.3),  # (2 - 1) / 3
        ([10, 7, 6, 5, 9, 8, 3], -14.3),  # (2 - 3) / 7
    ],
)
def test_nps_is_promoter_share_minus_detractor_share(
    scores: list[int], expected: float | None
) -> None:
    assert nps(scores) == expected


def test_window_counts_each_contact_once_by_their_latest_answer() -> None:
    result = account_summary(
        [r("a", 100, 0), r("a", 10, 10), r("b", 30, 9), r("b", 5, 2), r("c", 1, 8)],
        now=NOW,
        settings=SETTINGS,
        facts=AccountFacts(),
    )
    # a: 10 (promoter), b: 2 (detractor), c: 8 (passive) -> (1 - 1) / 3
    assert (result.nps, result.respondents, result.detractors) == (0.0, 3, 1)
    assert result.last_response_date == date(2026, 10, 31)


def test_a_response_exactly_at_the_window_start_is_out_and_one_at_now_is_in() -> None:
    result = account_summary(
        [r("old", 180, 0), r("new", 0, 10), r("future", -1, 0)],
        now=NOW,
        settings=SETTINGS,
        facts=AccountFacts(),
    )
    assert (result.nps, result.respondents) == (100.0, 1)
    assert result.current is not None
    assert [c.response.contact_id for c in result.current.counted] == ["new"]
    # The answer exactly 180 days old belongs to the previous window (its end is inclusive).
    assert result.previous is not None
    assert [c.response.contact_id for c in result.previous.counted] == ["old"]


def test_an_answer_a_few_minutes_ahead_of_the_clock_counts_for_the_account_as_its_contact() -> None:
    # The intake accepts answers up to five minutes ahead (a sender's clock running fast); the
    # contact's fields show such an answer at once, so the account must count it too.
    ahead = r("a", -3 / (24 * 60), 7)
    result = account_summary(
        [r("a", 1, 10), ahead], now=NOW, settings=SETTINGS, facts=AccountFacts()
    )
    assert (result.nps, result.respondents) == (0.0, 1)
    contact = contact_metrics([r("a", 1, 10), ahead])
    assert contact is not None
    assert contact.last_score == 7


def test_trend_is_now_minus_the_previous_window() -> None:
    result = account_summary(
        [r("a", 200, 10), r("b", 250, 3), r("a", 20, 10), r("b", 10, 10)],
        now=NOW,
        settings=SETTINGS,
        facts=AccountFacts(),
    )
    # previous window: a 10, b 3 -> 0.0; now: a 10, b 10 -> 100.0
    assert (result.previous_nps, result.nps, result.trend) == (0.0, 100.0, 100.0)
    only_now = account_summary([r("a", 20, 10)], now=NOW, settings=SETTINGS, facts=AccountFacts())
    assert only_now.trend is None


def test_recency_decay_halves_the_weight_every_half_life() -> None:
    assert decay_weight(timedelta(days=90), timedelta(days=90)) == 0.5
    assert decay_weight(timedelta(days=90), None) == 1.0
    settings = AccountSettings(window=WINDOW, half_life=timedelta(days=90))
    result = account_summary(
        [r("fresh", 0, 10), r("older", 90, 0)], now=NOW, settings=settings, facts=AccountFacts()
    )
    # 100 x (1 - 0.5) / 1.5 = 33.3 (without decay it would be 0)
    assert result.nps == 33.3
    assert weighted_nps([(10, 1.0), (0, 0.5)]) == 33.3
    assert result.respondents == 2  # counts stay counts


@pytest.mark.parametrize(
    ("formula", "threshold", "scores", "expected"),
    [
        ("detractor_share", 0.0, [10, 9, 8, 2], 50_000.0),  # 1/4 of 200,000
        ("detractor_share", 0.0, [10, 9], 0.0),
        ("below_threshold", 0.0, [10, 3, 2], 200_000.0),  # NPS -33.3 < 0: all of it
        ("below_threshold", 0.0, [10, 3], 0.0),  # NPS 0 is not below 0
        ("below_threshold", 30.0, [10, 9, 8], 0.0),  # 66.7 >= 30
    ],
)
def test_revenue_at_risk_by_formula(
    formula: str, threshold: float, scores: list[int], expected: float
) -> None:
    settings = AccountSettings(
        window=WINDOW,
        revenue_formula=formula,  # type: ignore[arg-type]
        at_risk_below=threshold,
        small_sample_below=0,  # the formulas alone
    )
    responses = [r(f"c{i}", 1, s) for i, s in enumerate(scores)]
    result = account_summary(responses, now=NOW, settings=settings, facts=AccountFacts(arr=2e5))
    assert result.revenue_at_risk == expected


@pytest.mark.parametrize("formula", ["below_threshold", "detractor_share"])
@pytest.mark.parametrize(
    ("respondents", "small_too", "expected"),
    [
        (1, False, None),  # one detractor is not the whole ARR at risk
        (4, False, None),
        (5, False, 2e5),
        (1, True, 2e5),  # asked for: reported below the minimum sample too
        (0, True, 0.0),
    ],
)
def test_revenue_at_risk_below_the_minimum_sample_only_when_asked(
    formula: str, respondents: int, small_too: bool, expected: float | None
) -> None:
    settings = AccountSettings(
        window=WINDOW,
        revenue_formula=formula,  # type: ignore[arg-type]
        small_sample_below=5,
        revenue_at_risk_small_sample=small_too,
    )
    detractors = [r(f"c{i}", 1, 2) for i in range(respondents)]
    result = account_summary(detractors, now=NOW, settings=settings, facts=AccountFacts(arr=2e5))
    assert result.small_sample is (respondents < 5)
    assert result.revenue_at_risk == expected


def test_no_respondents_put_nothing_at_risk_with_either_formula() -> None:
    for formula in ("below_threshold", "detractor_share"):
        assert (
            revenue_at_risk(
                1000.0,
                nps_value=None,
                detractor_share=None,
                formula=formula,
                at_risk_below=0.0,
            )
            == 0.0
        )


def test_coverage_and_key_contact_coverage() -> None:
    result = account_summary(
        [r("a", 1, 9), r("b", 2, 9), r("c", 3, 2)],
        now=NOW,
        settings=SETTINGS,
        facts=AccountFacts(contacts=8, key_contacts=frozenset({"a", "x", "y"})),
    )
    assert result.coverage == 37.5  # 3 / 8
    assert result.key_contact_coverage == 33.3  # a of {a, x, y}
    unknown = account_summary([r("a", 1, 9)], now=NOW, settings=SETTINGS, facts=AccountFacts())
    assert (unknown.coverage, unknown.key_contact_coverage) == (None, None)
    # Respondents who have left the account since: never more than 100 %.
    assert percent(5, 4) == 100.0
    assert percent(1, 0) is None


@pytest.mark.parametrize(("respondents", "small"), [(0, True), (4, True), (5, False), (6, False)])
def test_small_sample_flag(respondents: int, small: bool) -> None:
    responses = [r(f"c{i}", 1, 9) for i in range(respondents)]
    assert (
        account_summary(responses, now=NOW, settings=SETTINGS, facts=AccountFacts()).small_sample
        is small
    )


@pytest.mark.parametrize(
    ("days_ago", "stale"), [(None, True), (10, False), (180, False), (180.01, True), (400, True)]
)
def test_stale_flag_looks_at_any_response_in_or_out_of_the_window(
    days_ago: float | None, stale: bool
) -> None:
    responses = [] if days_ago is None else [r("a", days_ago, 9)]
    result = account_summary(responses, now=NOW, settings=SETTINGS, facts=AccountFacts())
    assert result.stale is stale


def test_days_to_renewal_counts_down_and_goes_negative_when_overdue() -> None:
    ahead = account_summary(
        [r("a", 1, 9)],
        now=NOW,
        settings=SETTINGS,
        facts=AccountFacts(renewal_date=date(2027, 1, 1)),
    )
    overdue = account_summary(
        [r("a", 1, 9)],
        now=NOW,
        settings=SETTINGS,
        facts=AccountFacts(renewal_date=date(2026, 10, 2)),
    )
    assert (ahead.days_to_renewal, overdue.days_to_renewal) == (61, -30)


def test_revenue_weighted_nps_per_segment() -> None:
    scores = segment_scores(
        [
            SegmentAccount("Enterprise", 900_000.0, 50.0),
            SegmentAccount("Enterprise", 100_000.0, -50.0),
            SegmentAccount("Enterprise", 500_000.0, None),  # no NPS: does not count
            SegmentAccount("SMB", 0.0, 20.0),
        ]
    )
    enterprise, smb = scores
    # (900k x 50 + 100k x -50) / 1M = 40; the plain average of 50 and -50 is 0
    assert (enterprise.segment, enterprise.accounts, enterprise.arr) == ("Enterprise", 2, 1e6)
    assert (enterprise.revenue_weighted_nps, enterprise.average_nps) == (40.0, 0.0)
    assert (smb.revenue_weighted_nps, smb.average_nps) == (None, 20.0)


def test_contact_metrics_latest_previous_and_change() -> None:
    first = ScoredResponse(
        "a", NOW - timedelta(days=40), 9, "great", "s:1", "relationship", "email"
    )
    last = ScoredResponse("a", NOW - timedelta(days=2), 4, "slow", "s:2", "nps", "web", "https://x")
    metrics = contact_metrics([last, first])
    assert metrics is not None
    assert (metrics.last_score, metrics.category, metrics.previous_score) == (4, "detractor", 9)
    assert (metrics.change, metrics.responses, metrics.last_comment) == (-5, 2, "slow")
    assert (metrics.survey_type, metrics.channel, metrics.link) == ("nps", "web", "https://x")
    only = contact_metrics([first])
    assert only is not None
    assert (only.previous_score, only.change) == (None, None)
    assert contact_metrics([]) is None


def test_two_answers_of_one_second_are_read_alike_by_the_contact_and_its_account() -> None:
    """The later response id is the latest for both, whatever the scores."""
    at = datetime(2026, 11, 1, 9, tzinfo=UTC)
    answers = [
        ScoredResponse("003A", at, 10, response_id="d:900000500"),
        ScoredResponse("003A", at, 2, response_id="d:900000501"),
    ]
    contact = contact_metrics(answers)
    assert contact is not None
    assert contact.last_score == 2
    (counted,) = latest_per_contact(answers, now=at, window=timedelta(days=1))
    assert counted.score == 2
