"""NPS per segment: counts and intervals per value, differences flagged only when real."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from insights.segments import (
    NO_VALUE,
    Respondent,
    segment_movements,
    segment_nps,
    support_band,
    tenure_band,
    tickets_around,
)


def people(tier: str, scores: list[int], account: str = "", arr: float = 0.0) -> list[Respondent]:
    return [
        Respondent(s, account or f"{tier}-{i}", arr, {"tier": tier}) for i, s in enumerate(scores)
    ]


def test_each_segment_has_its_counts_accounts_and_arr() -> None:
    group = [
        *people("Gold", [10, 10, 9, 7, 3], account="A", arr=100.0),
        *people("Silver", [0, 6, 8], account="B", arr=40.0),
        Respondent(9, "C", 10.0, {}),
    ]
    report = segment_nps(group, "tier")
    by_name = {s.segment: s for s in report.segments}
    assert [s.segment for s in report.segments] == ["Gold", "Silver", NO_VALUE]  # largest first
    gold = by_name["Gold"]
    assert (gold.interval.counts.promoters, gold.interval.counts.detractors) == (3, 1)
    assert gold.interval.nps == pytest.approx(40.0)  # 100 x (3 - 1) / 5
    assert (gold.accounts, gold.arr) == (1, 100.0)
    assert by_name["Silver"].interval.nps == pytest.approx(-200.0 / 3)  # 100 x (0 - 2) / 3
    assert report.overall.respondents == 9
    assert report.overall.nps == pytest.approx(100.0 * (4 - 3) / 9)


def test_a_segment_is_called_different_from_the_rest_only_when_the_interval_says_so() -> None:
    unhappy = people("Bronze", [2, 3, 4, 5, 6] * 12)  # 60 detractors
    happy = people("Gold", [9, 10, 8] * 20)
    few = people("Silver", [3, 10])
    report = segment_nps([*unhappy, *happy, *few], "tier")
    by_name = {s.segment: s for s in report.segments}
    bronze_vs_rest = by_name["Bronze"].versus_rest
    assert bronze_vs_rest is not None
    assert bronze_vs_rest.significant
    assert bronze_vs_rest.difference is not None
    assert bronze_vs_rest.difference < 0
    silver_vs_rest = by_name["Silver"].versus_rest
    assert silver_vs_rest is not None
    assert not silver_vs_rest.significant  # two people: anything goes
    assert by_name["Silver"].interval.small_sample


def test_movements_flag_a_real_drop_and_not_a_small_wobble() -> None:
    before = [*people("Gold", [10, 9, 9, 8] * 15), *people("Silver", [9, 6, 10])]
    now = [*people("Gold", [3, 6, 9, 8] * 15), *people("Silver", [6, 6, 10])]
    moves = {m.segment: m for m in segment_movements(now, before, "tier")}
    gold = moves["Gold"].change
    assert gold.significant
    assert gold.difference == pytest.approx(-25.0 - 75.0)
    assert not moves["Silver"].change.significant
    assert next(m.segment for m in segment_movements(now, before, "tier")) == "Gold"


@pytest.mark.parametrize(
    ("days", "band"),
    [
        (None, NO_VALUE),
        (0, "under 1 year"),
        (364, "under 1 year"),
        (365, "1-2 years"),
        (1000, "2-5 years"),
        (5 * 365, "5 years or more"),
    ],
)
def test_tenure_bands(days: int | None, band: str) -> None:
    assert tenure_band(days) == band


@pytest.mark.parametrize(
    ("tickets", "band"),
    [
        (None, NO_VALUE),
        (0, "no open or recent ticket"),
        (1, "1 open or recent ticket"),
        (4, "2+ open or recent tickets"),
    ],
)
def test_support_bands(tickets: int | None, band: str) -> None:
    assert support_band(tickets) == band


ANSWERED = datetime(2026, 6, 15, 12, tzinfo=UTC)


def day(offset: float) -> datetime:
    return ANSWERED + timedelta(days=offset)


@pytest.mark.parametrize(
    ("created", "solved", "counts"),
    [
        (day(-100), None, True),  # still unsolved: open when they answered
        (day(-100), day(1), True),  # solved after the answer: open then
        (day(-100), day(-31), False),  # solved before, created long before
        (day(-29), day(-28), True),  # solved before, but created within the 30 days
        (day(-30), day(-29), False),  # created exactly 30 days before: outside (exclusive)
        (day(0), None, True),  # created at the very moment of the answer
        (day(0.01), None, False),  # created after the answer
        (day(-5), day(0), True),  # solved at the answer's moment, created lately
        (day(-50), day(0), False),  # solved at the answer's moment: no longer open
    ],
)
def test_a_ticket_counts_when_open_at_the_answer_or_created_lately(
    created: datetime, solved: datetime | None, counts: bool
) -> None:
    assert tickets_around([(created, solved)], ANSWERED, timedelta(days=30)) == int(counts)


def test_tickets_around_adds_the_tickets_that_count() -> None:
    spans = [(day(-100), None), (day(-10), day(-9)), (day(-60), day(-40)), (day(2), None)]
    assert tickets_around(spans, ANSWERED, timedelta(days=30)) == 2
    assert tickets_around(spans, ANSWERED, timedelta(days=0)) == 1
