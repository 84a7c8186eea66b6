"""Loop figures per account (the values of the loop Account fields), worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sync.loop.account_fields import loop_values, loop_values_by_account
from sync.loop.metrics import LoopRecord

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=100)
NOTHING = {
    "loop_open": 0,
    "loop_past_sla": 0,
    "loop_contacted_within_sla": None,
    "loop_median_hours_to_contact": None,
    "loop_last_outcome": None,
    "loop_answered_again": 0,
    "loop_score_recovery": None,
}


def h(hours: float | None) -> datetime | None:
    return None if hours is None else T0 + timedelta(hours=hours)


def rec(
    rid: str,
    score: int,
    *,
    at: float = 0,
    state: str | None = None,
    contacted: float | None = None,
    ended: float | None = None,
    ending: str | None = None,
    due: float | None = 8,
    email: str | None = None,
    account: str | None = "001A",
) -> LoopRecord:
    answered = h(at)
    assert answered is not None
    return LoopRecord(
        source="s",
        response_id=rid,
        email=email or f"{rid}@x.com",
        score=score,
        answered_at=answered,
        state=state,
        contacted_at=h(contacted),
        ended_at=h(ended),
        contact_due=h(None if due is None else at + due),
        ending=ending,
        account_id=account,
    )


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        pytest.param([], NOTHING, id="no responses"),
        pytest.param([rec("p", 10)], NOTHING, id="a promoter has no loop"),
        pytest.param(
            [
                rec("a", 2, state="open"),  # due at 8: past it
                rec("b", 3, at=95, state="open"),  # due at 103: not yet
                rec("c", 1, state="contacted", contacted=4),  # reached in time, not ended
            ],
            NOTHING
            | {
                "loop_open": 3,
                "loop_past_sla": 1,
                "loop_contacted_within_sla": 33.3,
                "loop_median_hours_to_contact": 4.0,
            },
            id="open, contacted and past SLA",
        ),
        pytest.param(
            [
                rec("a", 0, state="resolved", contacted=10, ended=30, ending="resolved"),
                rec("b", 4, state="closed", ended=50, ending="not_reachable"),
                rec("c", 6, state="resolved", contacted=3, ended=40, ending="churn_risk"),
                rec("d", 2, state="resolved", contacted=7, ended=20, ending="resolved"),
            ],
            NOTHING
            | {
                "loop_contacted_within_sla": 50.0,  # c at 3 and d at 7 of four detractors
                "loop_median_hours_to_contact": 7.0,  # of 3, 7 and 10
                "loop_last_outcome": "Not reachable",  # b ended last, at 50
            },
            id="ended loops: the last ending shows",
        ),
        pytest.param(
            [
                rec(
                    "a",
                    2,
                    email="x@x.com",
                    state="resolved",
                    contacted=1,
                    ended=2,
                    ending="resolved",
                ),
                rec("a2", 9, at=60, email="x@x.com"),
                rec(
                    "b",
                    4,
                    email="y@x.com",
                    state="closed",
                    ended=5,
                    ending="closed_without_contact",
                ),
                rec("b2", 7, at=70, email="y@x.com"),
                rec("c", 1, state="open", due=None),
            ],
            NOTHING
            | {
                "loop_open": 1,
                "loop_contacted_within_sla": 33.3,
                "loop_median_hours_to_contact": 1.0,
                "loop_last_outcome": "Closed without contact",
                "loop_answered_again": 2,
                "loop_score_recovery": 5.0,  # (2 + 4) / 2 = 3 before, (9 + 7) / 2 = 8 after
            },
            id="score recovery",
        ),
    ],
)
def test_loop_values(records: list[LoopRecord], expected: dict[str, Any]) -> None:
    assert loop_values(records, NOW) == expected


def test_each_account_gets_its_own_figures_and_unmatched_responses_none() -> None:
    records = [
        rec("a", 2, state="open", account="001A"),
        rec("b", 2, state="open", account="001B"),
        rec("c", 3, state="contacted", contacted=1, account="001B"),
        rec("d", 1, state="open", account=None),
    ]
    figures = loop_values_by_account(records, NOW)
    assert sorted(figures) == ["001A", "001B"]
    assert (figures["001A"]["loop_open"], figures["001B"]["loop_open"]) == (1, 2)
    assert figures["001B"]["loop_contacted_within_sla"] == 50.0
