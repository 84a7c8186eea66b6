"""NPS with a 95% interval, as the views need it.

A thin adapter: the views call :func:`nps_of` and :func:`moved` only, so the statistics can be
swapped for the ``insights`` package's without touching them. The interval is the normal
approximation with the multinomial variance of NPS: for shares ``p`` of promoters and ``d`` of
detractors among ``n`` answers, ``Var(NPS) = (p + d - (p - d)^2) / n``, in points squared after
scaling by 100^2.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

Z95 = 1.959964
#: How the intervals are computed, as reports state it.
METHOD = "95%, normal approximation with the multinomial variance of NPS"
#: Below this many answers a figure is shown but flagged: the interval is wide and the normal
#: approximation rough.
SMALL_SAMPLE = 30
#: Changes are not judged below this many answers on either side: with a handful of answers all
#: in one category the variance estimate is zero and any change would look significant.
MIN_COMPARED = 10


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
        return self.n < SMALL_SAMPLE

    @property
    def variance(self) -> float:
        if not self.n:
            return math.inf
        p, d = self.promoters / self.n, self.detractors / self.n
        return (p + d - (p - d) ** 2) / self.n * 100**2

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
    """The NPS of ``scores`` (0-10) with its 95% interval, clipped to -100..100."""
    values = list(scores)
    n = len(values)
    promoters = sum(s >= 9 for s in values)
    detractors = sum(s <= 6 for s in values)
    if not n:
        return Nps(0, 0, 0, 0, None, None, None)
    score = (promoters - detractors) / n * 100
    half = Z95 * math.sqrt(Nps(n, promoters, 0, detractors, score, None, None).variance)
    return Nps(
        n,
        promoters,
        n - promoters - detractors,
        detractors,
        score,
        max(-100.0, score - half),
        min(100.0, score + half),
    )


def moved(before: Nps, after: Nps) -> bool:
    """The change from ``before`` to ``after`` is outside its 95% interval (independent
    samples: the variances add), so it is unlikely to be noise."""
    if before.score is None or after.score is None:
        return False
    if min(before.n, after.n) < MIN_COMPARED:
        return False
    spread = Z95 * math.sqrt(before.variance + after.variance)
    return abs(after.score - before.score) > spread
