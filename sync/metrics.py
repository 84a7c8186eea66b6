"""NPS metrics: pure functions over plain data.

NPS = % promoters (9-10) - % detractors (0-6), from -100 to 100. An account's rolling NPS counts
each contact once, by their latest response inside the window ``(now - window, now]``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from connectors.models import Category, category_of


@dataclass(frozen=True, slots=True)
class ScoredResponse:
    """The minimum the metrics need from a response."""

    contact_id: str
    created_at: datetime
    score: int
    comment: str = ""


@dataclass(frozen=True, slots=True)
class ContactMetrics:
    last_score: int
    category: Category
    last_comment: str
    last_response_date: date
    previous_score: int | None
    responses: int


@dataclass(frozen=True, slots=True)
class AccountMetrics:
    nps: float | None
    respondents: int
    promoters: int
    passives: int
    detractors: int
    revenue_at_risk: float
    last_response_date: date | None


def nps(scores: Iterable[int]) -> float | None:
    """Net Promoter Score of these scores, rounded to one decimal; None without any score."""
    values = list(scores)
    if not values:
        return None
    promoters = sum(1 for s in values if s >= 9)
    detractors = sum(1 for s in values if s <= 6)
    return round(100.0 * (promoters - detractors) / len(values), 1)


def contact_metrics(responses: Sequence[ScoredResponse]) -> ContactMetrics | None:
    """The latest response of one contact, with the score before it."""
    if not responses:
        return None
    ordered = sorted(responses, key=lambda r: r.created_at)
    last = ordered[-1]
    previous = ordered[-2].score if len(ordered) > 1 else None
    return ContactMetrics(
        last_score=last.score,
        category=category_of(last.score),
        last_comment=last.comment,
        last_response_date=last.created_at.date(),
        previous_score=previous,
        responses=len(ordered),
    )


def latest_per_contact(
    responses: Iterable[ScoredResponse], *, now: datetime, window: timedelta
) -> list[ScoredResponse]:
    """Each contact's latest response with ``now - window < created_at <= now``."""
    start = now - window
    latest: dict[str, ScoredResponse] = {}
    for r in responses:
        if not (start < r.created_at <= now):
            continue
        seen = latest.get(r.contact_id)
        if seen is None or (r.created_at, r.score) > (seen.created_at, seen.score):
            latest[r.contact_id] = r
    return sorted(latest.values(), key=lambda r: r.contact_id)


def account_metrics(
    responses: Iterable[ScoredResponse],
    *,
    now: datetime,
    window: timedelta,
    arr: float,
    at_risk_below: float = 0.0,
) -> AccountMetrics:
    """Rolling NPS of one account and its revenue at risk.

    Revenue at risk is the account's whole ARR when its rolling NPS is below ``at_risk_below``,
    otherwise 0.
    """
    counted = latest_per_contact(responses, now=now, window=window)
    scores = [r.score for r in counted]
    value = nps(scores)
    at_risk = arr if value is not None and value < at_risk_below else 0.0
    last = max((r.created_at for r in counted), default=None)
    return AccountMetrics(
        nps=value,
        respondents=len(counted),
        promoters=sum(1 for s in scores if s >= 9),
        passives=sum(1 for s in scores if 7 <= s <= 8),
        detractors=sum(1 for s in scores if s <= 6),
        revenue_at_risk=round(at_risk, 2),
        last_response_date=last.date() if last else None,
    )
