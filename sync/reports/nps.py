"""NPS with a 95% interval, as the views show it: the ``insights`` package's figures in the
shape the views draw.

The interval is :func:`insights.nps.nps_interval`'s adjusted multinomial interval (the NPS
variance ``(p + d - (p - d)^2) / n`` after adding ``z^2 / 3`` pseudo-respondents to each
category), and a change between two periods or segments counts only when the interval of the
difference excludes 0 (:func:`insights.nps.nps_difference`). So the views agree with
``nps-sync insights``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from insights.nps import SMALL_SAMPLE_BELOW, Counts, nps_difference, nps_interval

#: How the intervals are computed, as reports state it.
METHOD = (
    "95%, multinomial variance of NPS with z²/3 pseudo-respondents added to each category "
    "(adjusted Wald)"
)


@dataclass(frozen=True, slots=True)
class Nps:
    """An NPS (-100..100) with its counts and 95% interval (None without answers)."""

    n: int
    promoters: int
    passives: int
    detractors: int
    score: float | None
    low: float | None
    high: float | None

    @property
    def small(self) -> bool:
        return self.n < SMALL_SAMPLE_BELOW

    @property
    def counts(self) -> Counts:
        return Counts(self.promoters, self.passives, self.detractors)

    def to_json(self) -> dict[str, object]:
        return {
            "n": self.n,
            "promoters": self.promoters,
            "passives": self.passives,
            "detractors": self.detractors,
            "nps": _round(self.score),
            "low": _round(self.low),
            "high": _round(self.high),
            "small_sample": self.small,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def nps_of(scores: Iterable[int]) -> Nps:
    """The NPS of ``scores`` (0-10) with its 95% interval."""
    counts = Counts.of_scores(scores)
    figure = nps_interval(counts)
    return Nps(
        counts.respondents,
        counts.promoters,
        counts.passives,
        counts.detractors,
        figure.nps,
        figure.low,
        figure.high,
    )


def moved(before: Nps, after: Nps) -> bool:
    """The change from ``before`` to ``after`` is real: the 95% interval of the difference of
    the two (independent) scores excludes 0."""
    return nps_difference(after.counts, before.counts).significant
