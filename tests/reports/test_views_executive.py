"""The executive report's figures from hand-built answers: periods, trend, mix and segments."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sync.reports.answers import Answer
from sync.reports.executive import executive_report, periods, report_json


def at(year: int, month: int, day: int = 15) -> datetime:
    return datetime(year, month, day, 12, tzinfo=UTC)


def answer(i: int, score: int, when: datetime, tier: str = "Enterprise") -> Answer:
    return Answer("s", f"r{i}", f"p{i}@x.test", "", score, "", when, tier=tier, region="EMEA")


@pytest.mark.parametrize(
    ("until", "period", "expected"),
    [
        (at(2026, 2, 3), "month", ["2025-12", "2026-01", "2026-02"]),
        (at(2026, 2, 3), "quarter", ["2025-Q3", "2025-Q4", "2026-Q1"]),
        (at(2026, 12, 31), "quarter", ["2026-Q2", "2026-Q3", "2026-Q4"]),
    ],
)
def test_periods_are_calendar_months_or_quarters_up_to_the_one_holding_until(
    until: datetime, period: str, expected: list[str]
) -> None:
    assert [label for label, _ in periods(until, period, 3)] == expected  # type: ignore[arg-type]


def test_the_report_counts_each_answer_in_its_period_and_segment() -> None:
    answers = [
        answer(1, 10, at(2026, 9)),
        answer(2, 0, at(2026, 9)),
        answer(3, 10, at(2026, 10, 1), tier="SMB"),
        answer(4, 9, at(2026, 10, 20)),
        answer(5, 7, at(2026, 10, 20)),
        answer(6, 3, at(2026, 10, 30), tier="SMB"),
        answer(7, 10, at(2026, 11, 2)),  # after --until: left out
    ]
    doc = report_json(executive_report(answers, "month", at(2026, 10, 31)))
    assert doc["label"] == "2026-10"
    assert doc["since"] == "2026-10-01T00:00:00Z"
    assert (doc["nps"]["n"], doc["nps"]["nps"]) == (4, 25.0)  # 2 promoters, 1 detractor of 4
    assert (doc["previous"]["n"], doc["previous"]["nps"]) == (2, 0.0)
    assert [t["period"] for t in doc["trend"]][-3:] == ["2026-08", "2026-09", "2026-10"]
    assert [t["n"] for t in doc["trend"]][-3:] == [0, 2, 4]
    assert doc["category_mix"][-1] == {
        "period": "2026-10",
        "promoters": 0.5,
        "passives": 0.25,
        "detractors": 0.25,
    }
    tiers = {row["segment"]: (row["n"], row["nps"]) for row in doc["segments"]["tier"]}
    assert tiers == {"SMB": (2, 0.0), "Enterprise": (2, 50.0)}
    assert doc["moved"] is False  # +25 on 4 answers against 0 on 2: within the noise


def test_a_person_counts_once_a_period_with_their_latest_answer() -> None:
    """As `insights trend` counts them: three answers in October from one person are one
    respondent, scored by the last; their September answer still counts in September."""
    pat = "pat@x.test"
    answers = [
        Answer("s", "r1", pat, "", 2, "", at(2026, 9)),
        Answer("s", "r2", pat, "", 1, "", at(2026, 10, 2)),
        Answer("s", "r3", "PAT@x.test", "", 4, "", at(2026, 10, 9)),
        Answer("s", "r4", pat, "", 9, "", at(2026, 10, 20)),
        answer(5, 3, at(2026, 10, 21)),
    ]
    doc = report_json(executive_report(answers, "month", at(2026, 10, 31)))
    assert (doc["nps"]["n"], doc["nps"]["nps"]) == (2, 0.0)  # one promoter, one detractor
    assert (doc["previous"]["n"], doc["previous"]["nps"]) == (1, -100.0)
    assert [t["n"] for t in doc["trend"]][-2:] == [1, 2]


def test_account_fields_are_segments_after_the_built_in_ones() -> None:
    from sync.reports.answers import with_account_values

    answers = [
        Answer("s", "r1", "a@x.test", "", 10, "", at(2026, 10), account_id="001A00000000001AAA"),
        Answer("s", "r2", "b@x.test", "", 2, "", at(2026, 10), account_id="001A00000000001"),
        Answer("s", "r3", "c@x.test", "", 9, "", at(2026, 10), account_id="001A00000000002AAA"),
        Answer("s", "r4", "d@x.test", "", 8, "", at(2026, 10)),  # no account
        Answer("s", "r5", "e@x.test", "", 0, "", at(2026, 9), account_id="001A00000000002AAA"),
    ]
    values = {"001A00000000001": {"Type": "Partner"}, "001A00000000002": {"Type": "Direct"}}
    report = executive_report(
        with_account_values(answers, values), "month", at(2026, 10, 31), ["Type"]
    )
    doc = report_json(report)
    assert list(doc["segments"]) == ["tier", "region", "industry", "Type"]
    by_type = {
        row["segment"]: (row["n"], row["nps"], row["previous"]["n"])
        for row in doc["segments"]["Type"]
    }
    # Partner: a promoter and a detractor (0); Direct: one promoter (100), one answer before.
    assert by_type == {"Partner": (2, 0.0, 0), "Direct": (1, 100.0, 1), "(none)": (1, 0.0, 0)}
