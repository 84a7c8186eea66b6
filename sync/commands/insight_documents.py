"""The ``--json`` documents of ``nps-sync insights``: every figure the tables show, and more.

Key names are part of the command line's contract (listed in the README). NPS figures are in
points (-100..100), unrounded; intervals are ``{"low", "high"}`` at the stated confidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from insights.drivers import Driver
from insights.loops import LoopEffect, ScoreChange
from insights.nps import NpsDifference, NpsInterval
from insights.rates import Comparison, Proportion
from insights.revenue import RevenueReport
from insights.segments import SegmentMovement, SegmentReport
from insights.trend import TrendPoint
from sync.commands.output import iso
from sync.ops.insights import Periods

#: How the intervals are computed, for the reader of a document.
INTERVAL_METHODS = {
    "adjusted": "multinomial variance of NPS after adding z^2/3 pseudo-respondents to each "
    "category (Agresti-Coull style); point estimate is the plain NPS",
    "wald": "multinomial variance of NPS: (p + d - (p - d)^2) / n, normal approximation",
}


def interval_document(i: NpsInterval) -> dict[str, Any]:
    """One NPS with its interval, counts and small-sample flag."""
    return {
        "nps": i.nps,
        "interval": None if i.low is None else {"low": i.low, "high": i.high},
        "respondents": i.respondents,
        "promoters": i.counts.promoters,
        "passives": i.counts.passives,
        "detractors": i.counts.detractors,
        "small_sample": i.small_sample,
    }


def difference_document(d: NpsDifference | None) -> dict[str, Any] | None:
    """A difference in NPS points; ``significant`` when its interval excludes 0."""
    if d is None:
        return None
    return {
        "difference": d.difference,
        "interval": None if d.low is None else {"low": d.low, "high": d.high},
        "significant": d.significant,
    }


def segments_document(
    periods: Periods,
    reports: Sequence[SegmentReport],
    movements: Sequence[Sequence[SegmentMovement]],
    *,
    confidence: float,
    method: str,
) -> dict[str, Any]:
    """``nps-sync insights segments --json``: per attribute, every segment now, against the
    rest of the respondents and against the previous period."""
    return {
        "period": {"start": iso(periods.start), "end": iso(periods.end)},
        "previous_period": {
            "start": iso(periods.start - (periods.end - periods.start)),
            "end": iso(periods.start),
        },
        "confidence": confidence,
        "method": method,
        "method_description": INTERVAL_METHODS[method],
        "attributes": [
            {
                "attribute": report.attribute,
                "overall": interval_document(report.overall),
                "segments": [
                    {
                        "segment": s.segment,
                        "accounts": s.accounts,
                        "arr": s.arr,
                        **interval_document(s.interval),
                        "versus_rest": difference_document(s.versus_rest),
                        "previous": _previous(moves, s.segment),
                    }
                    for s in report.segments
                ],
                "movements": [
                    {
                        "segment": m.segment,
                        "now": interval_document(m.now),
                        "before": interval_document(m.before),
                        "change": difference_document(m.change),
                    }
                    for m in moves
                ],
            }
            for report, moves in zip(reports, movements, strict=True)
        ],
    }


def _previous(moves: Sequence[SegmentMovement], segment: str) -> dict[str, Any] | None:
    move = next((m for m in moves if m.segment == segment), None)
    if move is None:
        return None
    return {**interval_document(move.before), "change": difference_document(move.change)}


def proportion_document(p: Proportion) -> dict[str, Any]:
    """A share with its Wilson interval."""
    return {
        "count": p.part,
        "of": p.whole,
        "share": p.share,
        "interval": None if p.low is None else {"low": p.low, "high": p.high},
    }


def comparison_document(c: Comparison) -> dict[str, Any]:
    """A difference or ratio with its interval; ``significant`` when it excludes no effect."""
    return {
        "value": c.value,
        "interval": None if c.low is None else {"low": c.low, "high": c.high},
        "significant": c.significant,
    }


def score_change_document(c: ScoreChange) -> dict[str, Any]:
    """Follow-ups of one group: means, the mean change with its interval, recoveries."""
    return {
        "pairs": c.pairs,
        "mean_before": c.mean_before,
        "mean_after": c.mean_after,
        "mean_change": c.mean_change,
        "interval": None if c.low is None else {"low": c.low, "high": c.high},
        "small_sample": c.small_sample,
        "recovered": proportion_document(c.recovered),
    }


def revenue_document(
    report: RevenueReport, loops: LoopEffect, *, confidence: float
) -> dict[str, Any]:
    """``nps-sync insights revenue --json``: per NPS category, renewals, churn, expansion,
    retention and revenue at risk, the two comparisons of detractors with promoters, and the
    score change after a resolved loop."""
    return {
        "period": {"start": report.start.isoformat(), "end": report.end.isoformat()},
        "lookback_days": report.lookback_days,
        "confidence": confidence,
        "categories": [
            {
                "category": c.category,
                "accounts": c.accounts,
                "renewal_rate": proportion_document(c.renewal_rate),
                "churn_rate": proportion_document(c.churn_rate),
                "renewal_amount": c.renewal_amount,
                "renewed_amount": c.renewed_amount,
                "lost_amount": c.lost_amount,
                "expansion_accounts": proportion_document(c.expansion_accounts),
                "expansion_amount": c.expansion_amount,
                "gross_revenue_retention": c.gross_retention,
                "net_revenue_retention": c.net_retention,
                "open_renewals": c.open_renewals,
                "open_renewal_amount": c.open_renewal_amount,
                "revenue_at_risk": c.revenue_at_risk,
            }
            for c in report.categories
        ],
        "churn_risk_detractors_vs_promoters": comparison_document(report.churn_risk_detractors),
        "renewal_rate_gap_promoters_minus_detractors": comparison_document(report.renewal_gap),
        "revenue_at_risk": report.revenue_at_risk,
        "detractor_open_renewal_amount": report.detractor_open_renewal_amount,
        "score_change_after_loop": {
            "resolved": score_change_document(loops.resolved),
            "not_resolved": score_change_document(loops.not_resolved),
            "gap": comparison_document(loops.gap),
        },
    }


def drivers_document(
    periods: Periods,
    drivers: Sequence[Driver],
    *,
    confidence: float,
    resamples: int,
    themes: bool = True,
) -> dict[str, Any]:
    """``nps-sync insights drivers --json``: every feature's risk ratio of being a detractor
    with its account-bootstrap interval and its reading in words; drivers first. ``themes``:
    whether comment themes were asked for; ``comment_themes`` says whether they were there."""
    return {
        "period": {"start": iso(periods.start), "end": iso(periods.end)},
        "respondents": len(periods.now),
        "comment_themes": (
            "left out" if not themes else "analysed" if periods.themes else "not analysed"
        ),
        "confidence": confidence,
        "resamples": resamples,
        "method": "risk ratio of detractors with / without the feature; percentile bootstrap "
        "over accounts",
        "drivers": [
            {
                "feature": d.feature,
                "attribute": d.attribute,
                "value": d.value,
                "with_feature": proportion_document(d.with_feature),
                "without_feature": proportion_document(d.without_feature),
                "accounts": d.accounts,
                "risk_ratio": d.risk_ratio,
                "interval": None if d.low is None else {"low": d.low, "high": d.high},
                "significant": d.significant,
                "reading": d.reading,
            }
            for d in drivers
        ],
    }


def trend_document(
    points: Sequence[TrendPoint], *, every: str, confidence: float
) -> dict[str, Any]:
    """``nps-sync insights trend --json``: each period's NPS, category mix and change."""
    return {
        "every": every,
        "confidence": confidence,
        "method": "adjusted",
        "periods": [
            {
                "start": iso(p.start),
                "end": iso(p.end),
                **interval_document(p.interval),
                "change": difference_document(p.change),
            }
            for p in points
        ],
    }
