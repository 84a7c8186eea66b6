"""NPS metrics: pure functions over plain data, so every number on a record can be recomputed
by hand (``nps-sync explain account``) and tested against hand-computed examples.

Definitions
-----------
- **NPS** = % promoters (9-10) - % detractors (0-6), from -100 to 100, one decimal.
- **Window**: an account's NPS counts each respondent once, by their latest response with
  ``now - window < created_at <= now`` (a response exactly ``window`` old is out). A respondent
  is a contact, or the email of an answer matched to the account without a contact (by the
  email's domain or an alias).
- **Which account a response counts for**: the account the contact belonged to when they
  answered (the one recorded when the response was matched), not their current one. A contact who
  moves from Acme to Globex keeps their answer about Acme on Acme; Globex starts from their first
  answer as a Globex contact. The caller groups responses by account; these functions never regroup.
- **Recency decay** (optional): each counted response weighs ``0.5 ** (age / half_life)``; NPS,
  the detractor share and so revenue at risk use the weights. Counts (respondents, detractors) do
  not.
- **Trend**: NPS of the current window minus NPS of the window before it (``now - 2 * window``,
  ``now - window``], each computed the same way.
- **Coverage**: respondents / contacts of the account, in percent, capped at 100 (a respondent may
  have left the account since). **Key-contact coverage**: key contacts who responded / key contacts.
- **Revenue at risk**: ``below_threshold``: the whole ARR when the NPS is below the threshold,
  else 0; ``detractor_share``: ARR x (weighted) detractors / respondents in the window. Not
  reported (None) for an account with fewer respondents than ``small_sample_below``, unless
  ``revenue_at_risk_small_sample`` asks for it: one unhappy answer is not the whole ARR at risk.
- **Flags**: small sample when respondents < ``small_sample_below``; stale when no response at all
  (in or out of the window) in the last ``stale_after``.
- **Revenue-weighted NPS of a segment** (tier, region, ...): sum(ARR x NPS) / sum(ARR) over the
  segment's accounts that have an NPS.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from connectors.models import Category, category_of
from connectors.surveys.fields import FUTURE_SKEW

RevenueFormula = Literal["below_threshold", "detractor_share"]


@dataclass(frozen=True, slots=True)
class ScoredResponse:
    """The minimum the metrics need from a response."""

    contact_id: str
    created_at: datetime
    score: int
    comment: str = ""
    response_id: str = ""
    survey_type: str = ""
    channel: str = ""
    link: str = ""


@dataclass(frozen=True, slots=True)
class ContactMetrics:
    last_score: int
    category: Category
    last_comment: str
    last_response_date: date
    previous_score: int | None
    responses: int
    #: last score - previous score; None after a first response.
    change: int | None = None
    survey_type: str = ""
    channel: str = ""
    link: str = ""
    last_response_id: str = ""


@dataclass(frozen=True, slots=True)
class AccountSettings:
    """The tunable parts of the account formulas (``metrics:`` in the config)."""

    window: timedelta = timedelta(days=180)
    half_life: timedelta | None = None
    revenue_formula: RevenueFormula = "below_threshold"
    at_risk_below: float = 0.0
    small_sample_below: int = 5
    stale_after: timedelta = timedelta(days=180)
    #: Report revenue at risk for accounts below ``small_sample_below`` respondents too.
    revenue_at_risk_small_sample: bool = False


@dataclass(frozen=True, slots=True)
class AccountFacts:
    """What the CRM knows about an account, beyond its responses. None: not known."""

    arr: float = 0.0
    renewal_date: date | None = None
    contacts: int | None = None
    key_contacts: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class Counted:
    """A response counted in a window, with its weight (1 without decay)."""

    response: ScoredResponse
    weight: float


@dataclass(frozen=True, slots=True)
class WindowScore:
    """One window's counted responses and the NPS they make."""

    start: datetime
    end: datetime
    counted: tuple[Counted, ...]
    nps: float | None
    promoters: int
    passives: int
    detractors: int
    #: Weighted share of detractors among the counted responses (0..1); None when none counted.
    detractor_share: float | None


@dataclass(frozen=True, slots=True)
class AccountMetrics:
    nps: float | None
    respondents: int
    promoters: int
    passives: int
    detractors: int
    #: None when not reported: fewer respondents than the minimum sample (see the settings).
    revenue_at_risk: float | None
    last_response_date: date | None
    previous_nps: float | None = None
    trend: float | None = None
    coverage: float | None = None
    key_contact_coverage: float | None = None
    small_sample: bool = True
    stale: bool = True
    days_to_renewal: int | None = None
    current: WindowScore | None = None
    previous: WindowScore | None = None


@dataclass(frozen=True, slots=True)
class SegmentAccount:
    """One account's contribution to a segment report."""

    segment: str
    arr: float
    nps: float | None


@dataclass(frozen=True, slots=True)
class SegmentScore:
    segment: str
    #: Accounts of the segment with an NPS (the ones that count).
    accounts: int
    arr: float
    revenue_weighted_nps: float | None
    average_nps: float | None


def nps(scores: Iterable[int]) -> float | None:
    """Net Promoter Score of these scores, rounded to one decimal; None without any score."""
    return weighted_nps((score, 1.0) for score in scores)


def weighted_nps(scored: Iterable[tuple[int, float]]) -> float | None:
    """NPS where each (score, weight) counts ``weight`` times; None when the weights sum to 0."""
    total = promoters = detractors = 0.0
    for score, weight in scored:
        total += weight
        if score >= 9:
            promoters += weight
        elif score <= 6:
            detractors += weight
    if total <= 0:
        return None
    return round(100.0 * (promoters - detractors) / total, 1)


def contact_metrics(responses: Sequence[ScoredResponse]) -> ContactMetrics | None:
    """The latest response of one contact, with the score before it."""
    if not responses:
        return None
    ordered = sorted(responses, key=lambda r: (r.created_at, r.response_id))
    last = ordered[-1]
    previous = ordered[-2].score if len(ordered) > 1 else None
    return ContactMetrics(
        last_score=last.score,
        category=category_of(last.score),
        last_comment=last.comment,
        last_response_date=last.created_at.date(),
        previous_score=previous,
        responses=len(ordered),
        change=last.score - previous if previous is not None else None,
        survey_type=last.survey_type,
        channel=last.channel,
        link=last.link,
        last_response_id=last.response_id,
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
        # The same order as a contact's own latest answer (:func:`contact_metrics`), so the
        # contact and its account never read two answers of one second differently.
        if seen is None or (r.created_at, r.response_id) > (seen.created_at, seen.response_id):
            latest[r.contact_id] = r
    return sorted(latest.values(), key=lambda r: r.contact_id)


def decay_weight(age: timedelta, half_life: timedelta | None) -> float:
    """1 without decay; halves every ``half_life`` of age otherwise."""
    if half_life is None:
        return 1.0
    return float(0.5 ** (max(age, timedelta(0)) / half_life))


def window_score(
    responses: Iterable[ScoredResponse],
    *,
    end: datetime,
    window: timedelta,
    half_life: timedelta | None = None,
) -> WindowScore:
    """The window ``(end - window, end]``: latest response per contact, weighted from ``end``."""
    chosen = latest_per_contact(responses, now=end, window=window)
    counted = tuple(Counted(r, decay_weight(end - r.created_at, half_life)) for r in chosen)
    total = sum(c.weight for c in counted)
    detractor_weight = sum(c.weight for c in counted if c.response.score <= 6)
    return WindowScore(
        start=end - window,
        end=end,
        counted=counted,
        nps=weighted_nps((c.response.score, c.weight) for c in counted),
        promoters=sum(1 for c in counted if c.response.score >= 9),
        passives=sum(1 for c in counted if 7 <= c.response.score <= 8),
        detractors=sum(1 for c in counted if c.response.score <= 6),
        detractor_share=detractor_weight / total if total > 0 else None,
    )


def revenue_at_risk(
    arr: float,
    *,
    nps_value: float | None,
    detractor_share: float | None,
    formula: RevenueFormula,
    at_risk_below: float,
) -> float:
    """The ARR at risk by the chosen formula (see the module docstring), to the cent."""
    if formula == "detractor_share":
        return round(arr * (detractor_share or 0.0), 2)
    return round(arr, 2) if nps_value is not None and nps_value < at_risk_below else 0.0


def percent(part: int, whole: int | None) -> float | None:
    """``part / whole`` in percent, one decimal, at most 100; None when ``whole`` is unknown/0."""
    if not whole:
        return None
    return round(min(100.0, 100.0 * part / whole), 1)


def account_summary(
    responses: Sequence[ScoredResponse],
    *,
    now: datetime,
    settings: AccountSettings,
    facts: AccountFacts,
) -> AccountMetrics:
    """Every account metric from the account's responses and what the CRM knows about it.

    An answer the intake accepted although dated a little ahead of ``now`` (a sender's clock
    running ahead, within :data:`FUTURE_SKEW`) counts as given now, as its contact's fields do.
    """
    now = max((r.created_at for r in responses if now < r.created_at <= now + FUTURE_SKEW),
              default=now)  # fmt: skip
    current = window_score(responses, end=now, window=settings.window, half_life=settings.half_life)
    previous = window_score(
        responses, end=now - settings.window, window=settings.window, half_life=settings.half_life
    )
    last = max((r.created_at for r in responses if r.created_at <= now), default=None)
    respondents = len(current.counted)
    trend = (
        round(current.nps - previous.nps, 1)
        if current.nps is not None and previous.nps is not None
        else None
    )
    small_sample = respondents < settings.small_sample_below
    risk = (
        None
        if small_sample and not settings.revenue_at_risk_small_sample
        else revenue_at_risk(
            facts.arr,
            nps_value=current.nps,
            detractor_share=current.detractor_share,
            formula=settings.revenue_formula,
            at_risk_below=settings.at_risk_below,
        )
    )
    key_coverage = None
    if facts.key_contacts is not None:
        answered = {c.response.contact_id for c in current.counted}
        key_coverage = percent(len(answered & facts.key_contacts), len(facts.key_contacts))
    return AccountMetrics(
        nps=current.nps,
        respondents=respondents,
        promoters=current.promoters,
        passives=current.passives,
        detractors=current.detractors,
        revenue_at_risk=risk,
        last_response_date=last.date() if last else None,
        previous_nps=previous.nps,
        trend=trend,
        coverage=percent(respondents, facts.contacts),
        key_contact_coverage=key_coverage,
        small_sample=small_sample,
        stale=last is None or now - last > settings.stale_after,
        days_to_renewal=(facts.renewal_date - now.date()).days if facts.renewal_date else None,
        current=current,
        previous=previous,
    )


def account_metrics(
    responses: Iterable[ScoredResponse],
    *,
    now: datetime,
    window: timedelta,
    arr: float,
    at_risk_below: float = 0.0,
) -> AccountMetrics:
    """Rolling NPS of one account and its revenue at risk, with the default settings otherwise.

    Revenue at risk is the account's whole ARR when its rolling NPS is below ``at_risk_below``,
    otherwise 0; None below the default minimum sample (5 respondents).
    """
    return account_summary(
        list(responses),
        now=now,
        settings=AccountSettings(window=window, at_risk_below=at_risk_below),
        facts=AccountFacts(arr=arr),
    )


def segment_scores(accounts: Iterable[SegmentAccount]) -> list[SegmentScore]:
    """Revenue-weighted and plain average NPS per segment, by segment name.

    Accounts without an NPS do not count; a segment whose counted accounts have no ARR has no
    revenue-weighted NPS.
    """
    grouped: dict[str, list[SegmentAccount]] = {}
    for account in accounts:
        grouped.setdefault(account.segment, [])
        if account.nps is not None:
            grouped[account.segment].append(account)
    scores: list[SegmentScore] = []
    for segment, members in sorted(grouped.items()):
        arr = sum(max(a.arr, 0.0) for a in members)
        weighted = (
            round(sum(max(a.arr, 0.0) * (a.nps or 0.0) for a in members) / arr, 1)
            if arr > 0
            else None
        )
        average = round(sum(a.nps or 0.0 for a in members) / len(members), 1) if members else None
        scores.append(SegmentScore(segment, len(members), round(arr, 2), weighted, average))
    return scores
