"""NPS against revenue: renewals, churn and expansion by the account's NPS category.

Each opportunity is paired with what its account's people said *before* it closed: the account's
category is the category of its respondents' average score (each person's latest answer in the
``lookback`` before the close date; 9 or more promoter, 7-8 passive, below 7 detractor, no answer
"no score"). So a score never explains an outcome it came after.

Per category, over the renewals and expansions that closed in the period:

- renewal rate: won renewals / closed renewals (Wilson interval); churn rate: lost / closed;
- gross revenue retention: renewed amount / amount of the closed renewals; net revenue retention:
  (renewed + won expansion amount) / amount of the closed renewals;
- expansion: accounts with a won expansion / accounts with a closed deal, and its amount;
- open renewals (not closed yet, category as of the period's end) and revenue at risk: their
  amount times the category's churn rate in the period (the expected loss); the open renewals
  of detractor accounts are also given whole.

The planted-effect question "do detractors churn more?" is answered by the relative risk of churn
(detractor accounts against promoter accounts) and the difference of their renewal rates, each
flagged only when its interval excludes no effect.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from insights.rates import Comparison, Proportion, difference, proportion, ratio

DealKind = Literal["renewal", "expansion", "other"]
CATEGORIES = ("promoter", "passive", "detractor", "no score")


@dataclass(frozen=True, slots=True)
class Answer:
    """One person's answer, as the account's history of scores."""

    account_id: str
    person: str
    score: int
    at: datetime


@dataclass(frozen=True, slots=True)
class Deal:
    """One opportunity: its account, kind (from its Type), amount, close date and outcome."""

    id: str
    account_id: str
    kind: DealKind
    amount: float
    close_date: date
    closed: bool
    won: bool


@dataclass(frozen=True, slots=True)
class CategoryRevenue:
    """Revenue figures of the deals whose account was of ``category`` when they closed."""

    category: str
    accounts: int
    renewal_rate: Proportion
    churn_rate: Proportion
    renewal_amount: float
    renewed_amount: float
    lost_amount: float
    expansion_accounts: Proportion
    expansion_amount: float
    gross_retention: float | None
    net_retention: float | None
    open_renewals: int
    open_renewal_amount: float
    #: Open renewal amount x the category's churn rate (0 without a closed renewal to rate).
    revenue_at_risk: float


@dataclass(frozen=True, slots=True)
class RevenueReport:
    start: date
    end: date
    lookback_days: int
    categories: tuple[CategoryRevenue, ...]
    #: Churn rate of detractor accounts / that of promoter accounts.
    churn_risk_detractors: Comparison
    #: Renewal rate of promoter accounts - that of detractor accounts.
    renewal_gap: Comparison
    revenue_at_risk: float
    detractor_open_renewal_amount: float


def account_category(answers: Iterable[Answer], *, at: datetime, lookback: timedelta) -> str:
    """The category of the average of each person's latest answer in ``(at - lookback, at]``."""
    latest: dict[str, Answer] = {}
    for a in answers:
        if at - lookback < a.at <= at:
            seen = latest.get(a.person)
            if seen is None or a.at > seen.at:
                latest[a.person] = a
    if not latest:
        return "no score"
    average = sum(a.score for a in latest.values()) / len(latest)
    return "promoter" if average >= 9 else "passive" if average >= 7 else "detractor"


def _end_of(day: date) -> datetime:
    """The end of a close date, in UTC: answers of that day count as before it."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)


def revenue_by_category(
    answers: Sequence[Answer],
    deals: Sequence[Deal],
    *,
    start: date,
    end: date,
    lookback_days: int = 365,
    confidence: float = 0.95,
) -> RevenueReport:
    """Renewal, churn, expansion, retention and revenue at risk per NPS category for the deals
    that closed from ``start`` to ``end``, both days included, and the renewals still open."""
    lookback = timedelta(days=lookback_days)
    by_account: dict[str, list[Answer]] = defaultdict(list)
    for a in answers:
        by_account[a.account_id].append(a)

    def category(account_id: str, day: date) -> str:
        return account_category(by_account.get(account_id, ()), at=_end_of(day), lookback=lookback)

    closed: dict[str, list[Deal]] = defaultdict(list)
    still_open: dict[str, list[Deal]] = defaultdict(list)
    for deal in deals:
        if deal.kind == "other":
            continue
        if deal.closed and start <= deal.close_date <= end:
            closed[category(deal.account_id, deal.close_date)].append(deal)
        elif not deal.closed and deal.kind == "renewal":
            still_open[category(deal.account_id, end)].append(deal)

    rows = tuple(_category(name, closed[name], still_open[name], confidence) for name in CATEGORIES)
    found = {row.category: row for row in rows}
    promoters, detractors = found["promoter"], found["detractor"]
    return RevenueReport(
        start=start,
        end=end,
        lookback_days=lookback_days,
        categories=rows,
        churn_risk_detractors=ratio(
            detractors.churn_rate, promoters.churn_rate, confidence=confidence
        ),
        renewal_gap=difference(promoters.renewal_rate, detractors.renewal_rate),
        revenue_at_risk=sum(row.revenue_at_risk for row in rows),
        detractor_open_renewal_amount=detractors.open_renewal_amount,
    )


def _category(
    name: str, closed: Sequence[Deal], still_open: Sequence[Deal], confidence: float
) -> CategoryRevenue:
    renewals = [d for d in closed if d.kind == "renewal"]
    won = [d for d in renewals if d.won]
    expansions = [d for d in closed if d.kind == "expansion" and d.won]
    accounts = {d.account_id for d in closed}
    expanded = {d.account_id for d in expansions}
    due = sum(d.amount for d in renewals)
    renewed = sum(d.amount for d in won)
    grown = sum(d.amount for d in expansions)
    churn = proportion(len(renewals) - len(won), len(renewals), confidence=confidence)
    open_amount = sum(d.amount for d in still_open)
    at_risk = open_amount * (churn.share or 0.0)
    return CategoryRevenue(
        category=name,
        accounts=len(accounts),
        renewal_rate=proportion(len(won), len(renewals), confidence=confidence),
        churn_rate=churn,
        renewal_amount=due,
        renewed_amount=renewed,
        lost_amount=due - renewed,
        expansion_accounts=proportion(len(expanded), len(accounts), confidence=confidence),
        expansion_amount=grown,
        gross_retention=renewed / due if due else None,
        net_retention=(renewed + grown) / due if due else None,
        open_renewals=len(still_open),
        open_renewal_amount=open_amount,
        revenue_at_risk=at_risk,
    )
