"""Proportions with intervals, their differences and ratios: the building blocks of the revenue
and driver figures.

- A proportion gets the Wilson score interval (good coverage down to a handful of trials, never
  outside [0, 1]).
- A difference of two independent proportions gets Newcombe's hybrid score interval (method 10
  of Newcombe 1998), built from the two Wilson intervals.
- A ratio of two proportions (relative risk) gets the Katz log interval; when a cell is 0, half
  a count is added to every cell first so the ratio stays finite.

Each figure is "significant" only when its interval excludes the no-effect value (0 for a
difference, 1 for a ratio).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from insights.nps import z_value


@dataclass(frozen=True, slots=True)
class Proportion:
    """``part`` of ``whole`` with its Wilson interval; share and bounds None when whole is 0."""

    part: int
    whole: int
    share: float | None
    low: float | None
    high: float | None


@dataclass(frozen=True, slots=True)
class Comparison:
    """A difference (a - b) or a ratio (a / b) with its interval; ``significant`` when the
    interval excludes the no-effect value. All None when either side has no trial."""

    value: float | None
    low: float | None
    high: float | None
    significant: bool


NO_COMPARISON = Comparison(None, None, None, False)


def proportion(part: int, whole: int, *, confidence: float = 0.95) -> Proportion:
    """``part / whole`` with its Wilson score interval."""
    if not 0 <= part <= whole:
        raise ValueError(f"a proportion needs 0 <= part <= whole, got {part} of {whole}")
    if whole == 0:
        return Proportion(0, 0, None, None, None)
    z = z_value(confidence)
    p = part / whole
    denominator = 1.0 + z * z / whole
    centre = (p + z * z / (2 * whole)) / denominator
    half = z * math.sqrt(p * (1 - p) / whole + z * z / (4 * whole * whole)) / denominator
    return Proportion(part, whole, p, max(0.0, centre - half), min(1.0, centre + half))


def difference(a: Proportion, b: Proportion) -> Comparison:
    """``a - b`` with Newcombe's interval from the two Wilson intervals (same confidence)."""
    first, second = _bounds(a), _bounds(b)
    if first is None or second is None:
        return NO_COMPARISON
    (p1, l1, u1), (p2, l2, u2) = first, second
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return Comparison(d, low, high, low > 0 or high < 0)


def _bounds(p: Proportion) -> tuple[float, float, float] | None:
    if p.share is None or p.low is None or p.high is None:
        return None
    return p.share, p.low, p.high


def ratio(a: Proportion, b: Proportion, *, confidence: float = 0.95) -> Comparison:
    """Relative risk ``share a / share b`` with the Katz log interval."""
    if a.whole == 0 or b.whole == 0:
        return NO_COMPARISON
    x, n, y, m = float(a.part), float(a.whole), float(b.part), float(b.whole)
    if 0 in (a.part, b.part, a.whole - a.part, b.whole - b.part):
        x, n, y, m = x + 0.5, n + 1.0, y + 0.5, m + 1.0
    rr = (x / n) / (y / m)
    se = math.sqrt(1 / x - 1 / n + 1 / y - 1 / m)
    z = z_value(confidence)
    low, high = rr * math.exp(-z * se), rr * math.exp(z * se)
    return Comparison(rr, low, high, low > 1 or high < 1)
