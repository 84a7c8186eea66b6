"""Revenue by NPS category: a hand-computed book, and the seeded planted effect found (or not)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from emulators.seed import REFERENCE_END, generate_seed
from insights.revenue import Answer, Deal, DealKind, account_category, revenue_by_category


def said(account: str, person: str, score: int, day: date) -> Answer:
    return Answer(account, person, score, datetime(day.year, day.month, day.day, 12, tzinfo=UTC))


def deal(
    account: str, kind: DealKind, amount: float, close: date, *, won: bool, closed: bool = True
) -> Deal:
    return Deal(f"{account}-{kind}-{close}", account, kind, amount, close, closed, won)


ANSWERS = [
    said("A", "a1", 2, date(2025, 12, 1)),  # superseded by a1's later answer
    said("A", "a1", 10, date(2026, 1, 10)),
    said("A", "a2", 9, date(2026, 1, 20)),  # A: (10 + 9) / 2 = 9.5, promoter
    said("B", "b1", 3, date(2026, 2, 1)),
    said("B", "b2", 6, date(2026, 2, 1)),  # B: 4.5, detractor
    said("C", "c1", 5, date(2026, 1, 5)),  # C: detractor
    said("D", "d1", 10, date(2026, 5, 1)),  # after D's renewal closed: "no score" for it
    said("E", "e1", 7, date(2026, 1, 2)),
    said("E", "e2", 8, date(2026, 1, 3)),  # E: 7.5, passive
    said("F", "f1", 9, date(2025, 1, 1)),  # more than 365 days before F's deal: "no score"
]
DEALS = [
    deal("A", "renewal", 100, date(2026, 3, 1), won=True),
    deal("A", "expansion", 20, date(2026, 4, 1), won=True),
    deal("B", "renewal", 50, date(2026, 3, 1), won=False),
    deal("C", "renewal", 30, date(2026, 2, 1), won=True),
    deal("C", "renewal", 40, date(2027, 2, 1), won=False, closed=False),
    deal("D", "renewal", 10, date(2026, 3, 1), won=True),
    deal("D", "renewal", 70, date(2027, 3, 1), won=False, closed=False),  # D promoter by the end
    deal("E", "renewal", 200, date(2026, 3, 15), won=True),
    deal("E", "renewal", 999, date(2025, 6, 1), won=False),  # before the period
    deal("F", "renewal", 5, date(2026, 3, 1), won=False),
    deal("F", "other", 1000, date(2026, 3, 1), won=True),  # neither renewal nor expansion
]

# category -> accounts, renewals won, renewals closed, due, renewed, accounts expanded, expansion
# amount, GRR, NRR, open renewals, open amount, revenue at risk
EXPECTED = {
    "promoter": (1, 1, 1, 100, 100, 1, 20, 1.0, 1.2, 1, 70, 0.0),
    "passive": (1, 1, 1, 200, 200, 0, 0, 1.0, 1.0, 0, 0, 0.0),
    "detractor": (2, 1, 2, 80, 30, 0, 0, 0.375, 0.375, 1, 40, 20.0),
    "no score": (2, 1, 2, 15, 10, 0, 0, 10 / 15, 10 / 15, 0, 0, 0.0),
}


def test_a_deal_closed_on_either_end_day_of_the_period_is_in_it() -> None:
    deals = [
        deal("A", "renewal", 100, date(2026, 1, 1), won=False),  # the period's first day
        deal("A", "renewal", 50, date(2026, 6, 30), won=True),  # its last day
        deal("A", "renewal", 7, date(2025, 12, 31), won=False),  # the day before
    ]
    report = revenue_by_category(ANSWERS, deals, start=date(2026, 1, 1), end=date(2026, 6, 30))
    assert sum(c.renewal_amount for c in report.categories) == 150


def test_revenue_by_category_matches_the_hand_computed_book() -> None:
    report = revenue_by_category(ANSWERS, DEALS, start=date(2026, 1, 1), end=date(2026, 6, 30))
    found = {
        c.category: (
            c.accounts,
            c.renewal_rate.part,
            c.renewal_rate.whole,
            c.renewal_amount,
            c.renewed_amount,
            c.expansion_accounts.part,
            c.expansion_amount,
            c.gross_retention,
            c.net_retention,
            c.open_renewals,
            c.open_renewal_amount,
            c.revenue_at_risk,
        )
        for c in report.categories
    }
    assert found.keys() == EXPECTED.keys()
    for category, figures in EXPECTED.items():
        assert found[category] == pytest.approx(figures), category
    detractors = next(c for c in report.categories if c.category == "detractor")
    assert (detractors.churn_rate.part, detractors.lost_amount) == (1, 50)
    assert (report.revenue_at_risk, report.detractor_open_renewal_amount) == (20.0, 40)
    # One promoter renewal against two detractor ones: nothing can be concluded.
    assert report.churn_risk_detractors.value == pytest.approx((1.5 / 3) / (0.5 / 2))
    assert not report.churn_risk_detractors.significant
    assert report.renewal_gap.value == pytest.approx(0.5)
    assert not report.renewal_gap.significant


@pytest.mark.parametrize(
    ("scores", "expected"),
    [([], "no score"), ([9, 10], "promoter"), ([10, 4], "passive"), ([6, 7], "detractor")],
)
def test_account_category_is_that_of_the_average_score(scores: list[int], expected: str) -> None:
    answers = [said("A", f"p{i}", s, date(2026, 1, 1)) for i, s in enumerate(scores)]
    at = datetime(2026, 2, 1, tzinfo=UTC)
    assert account_category(answers, at=at, lookback=at - datetime(2025, 6, 1, tzinfo=UTC)) == (
        expected
    )


def seeded_report(*, effect: bool, seed: int) -> tuple[bool, bool]:
    """Whether churn of detractor accounts against promoters, and the renewal-rate gap, are
    found in a seeded book with or without the planted effect."""
    book = generate_seed(seed, opportunity_effect=effect)
    people = {c.email.lower(): c for c in book.contacts}
    answers = [
        Answer(people[r.email.lower()].account_id, r.email.lower(), r.score, r.created_at)
        for r in book.responses
        if r.email.lower() in people
    ]
    deals = [
        Deal(
            o.id,
            o.account_id,
            "renewal" if o.type == "Renewal" else "expansion",
            o.amount,
            o.close_date,
            o.stage.startswith("Closed"),
            o.stage == "Closed Won",
        )
        for o in book.opportunities
    ]
    end = REFERENCE_END.date()
    report = revenue_by_category(answers, deals, start=date(end.year - 1, end.month, 1), end=end)
    return report.churn_risk_detractors.significant, report.renewal_gap.significant


@pytest.mark.parametrize("seed", [7, 11])
def test_the_planted_effect_is_found(seed: int) -> None:
    assert seeded_report(effect=True, seed=seed) == (True, True)


@pytest.mark.parametrize("seed", [7, 11])
def test_no_effect_is_found_where_none_was_planted(seed: int) -> None:
    assert seeded_report(effect=False, seed=seed) == (False, False)
