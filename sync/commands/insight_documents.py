"""The ``--json`` documents of ``nps-sync insights``: every figure the tables show, and more.

Key names are part of the command line's contract (listed in the README). NPS figures are in
points (-100..100), unrounded; intervals are ``{"low", "high"}`` at the stated confidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from insights.nps import NpsDifference, NpsInterval
from insights.segments import SegmentMovement, SegmentReport
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
