"""Net Promoter Score with a confidence interval, and the difference of two scores.

NPS = 100 x (share of promoters - share of detractors). Its sampling variance follows from the
multinomial distribution of the three categories: with shares ``p`` (promoters) and ``d``
(detractors) of ``n`` respondents, ``Var(p - d) = (p + d - (p - d)^2) / n``.

Two interval methods:

- ``wald``: the point estimate +- z x the standard error above. Fine for large samples, but with
  few respondents (or all of one category) it is too narrow, down to zero width.
- ``adjusted`` (the default): the same formula after adding ``z^2 / 3`` pseudo-respondents to
  each category (``z^2`` in all), the three-category analogue of the Agresti-Coull interval for a
  proportion. The point estimate reported stays the plain NPS; only the interval is adjusted. It
  keeps its nominal coverage down to a handful of respondents (checked by simulation in the tests).

Intervals are clipped to [-100, 100] and stretched to hold the point estimate (with one or two
respondents the adjusted centre can lie beyond it). Respondents are treated as independent;
several people of one account answer alike, so for clustered samples the intervals are somewhat
optimistic.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

Method = Literal["adjusted", "wald"]

#: Below this many respondents a score is flagged as a small sample (its interval is wide).
SMALL_SAMPLE_BELOW = 30


@dataclass(frozen=True, slots=True)
class Counts:
    """How many respondents fell in each category."""

    promoters: int = 0
    passives: int = 0
    detractors: int = 0

    @classmethod
    def of_scores(cls, scores: Iterable[int]) -> Counts:
        """Counts of 0-10 scores: 9-10 promoters, 7-8 passives, 0-6 detractors."""
        promoters = passives = detractors = 0
        for score in scores:
            if not 0 <= score <= 10:
                raise ValueError(f"NPS score {score} is outside 0-10")
            if score >= 9:
                promoters += 1
            elif score >= 7:
                passives += 1
            else:
                detractors += 1
        return cls(promoters, passives, detractors)

    @property
    def respondents(self) -> int:
        return self.promoters + self.passives + self.detractors

    @property
    def nps(self) -> float | None:
        """The plain NPS (-100..100); None without respondents."""
        n = self.respondents
        return None if n == 0 else 100.0 * (self.promoters - self.detractors) / n

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.promoters + other.promoters,
            self.passives + other.passives,
            self.detractors + other.detractors,
        )


@dataclass(frozen=True, slots=True)
class NpsInterval:
    """An NPS with its confidence interval; ``nps``/``low``/``high`` are None without
    respondents."""

    nps: float | None
    low: float | None
    high: float | None
    counts: Counts
    small_sample: bool
    method: Method
    confidence: float

    @property
    def respondents(self) -> int:
        return self.counts.respondents


@dataclass(frozen=True, slots=True)
class NpsDifference:
    """``a - b`` in NPS points with its interval; ``significant`` only when the interval
    excludes 0 (None everywhere when either side has no respondent)."""

    difference: float | None
    low: float | None
    high: float | None
    significant: bool
    method: Method
    confidence: float


def z_value(confidence: float) -> float:
    """The two-sided normal quantile for a confidence level (0.95 -> 1.96)."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def _shares(counts: Counts, method: Method, z: float) -> tuple[float, float, float]:
    """(promoter share, detractor share, effective n) that the interval is built from."""
    extra = z * z / 3.0 if method == "adjusted" else 0.0
    n = counts.respondents + 3.0 * extra
    return (counts.promoters + extra) / n, (counts.detractors + extra) / n, n


def _centre_and_variance(counts: Counts, method: Method, z: float) -> tuple[float, float]:
    """Centre of the interval and variance of the NPS, both as a fraction (-1..1)."""
    p, d, n = _shares(counts, method, z)
    return p - d, max(p + d - (p - d) ** 2, 0.0) / n


def _clip(value: float) -> float:
    return min(100.0, max(-100.0, value))


def nps_interval(
    counts: Counts,
    *,
    confidence: float = 0.95,
    method: Method = "adjusted",
    small_below: int = SMALL_SAMPLE_BELOW,
) -> NpsInterval:
    """The NPS of these counts with its ``confidence`` interval (see the module for methods)."""
    z = z_value(confidence)
    n = counts.respondents
    if n == 0:
        return NpsInterval(None, None, None, counts, True, method, confidence)
    centre, variance = _centre_and_variance(counts, method, z)
    half = z * math.sqrt(variance)
    point = 100.0 * (counts.promoters - counts.detractors) / n
    return NpsInterval(
        nps=point,
        low=min(point, _clip(100.0 * (centre - half))),
        high=max(point, _clip(100.0 * (centre + half))),
        counts=counts,
        small_sample=n < small_below,
        method=method,
        confidence=confidence,
    )


def nps_difference(
    a: Counts, b: Counts, *, confidence: float = 0.95, method: Method = "adjusted"
) -> NpsDifference:
    """NPS of ``a`` minus NPS of ``b`` for independent samples (two segments, two periods):
    the variances add; the difference counts as real only when its interval excludes 0."""
    nps_a, nps_b = a.nps, b.nps
    if nps_a is None or nps_b is None:
        return NpsDifference(None, None, None, False, method, confidence)
    z = z_value(confidence)
    centre_a, var_a = _centre_and_variance(a, method, z)
    centre_b, var_b = _centre_and_variance(b, method, z)
    half = z * math.sqrt(var_a + var_b)
    difference = nps_a - nps_b
    # The adjusted centre pulls an extreme split inwards (all promoters against all detractors:
    # 200, interval 157 to 197): as for one NPS, the interval is widened to hold the estimate.
    low = min(difference, max(-200.0, 100.0 * (centre_a - centre_b - half)))
    high = max(difference, min(200.0, 100.0 * (centre_a - centre_b + half)))
    return NpsDifference(
        difference=difference,
        low=low,
        high=high,
        significant=low > 0.0 or high < 0.0,
        method=method,
        confidence=confidence,
    )
