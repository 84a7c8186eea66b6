"""Score change after a closed loop: do detractors whose loop was resolved answer better the next
time than those whose loop was not?

A follow-up is a detractor's answer and the same person's next answer. Follow-ups are split by
whether the detractor's loop ended ``resolved`` (contacted, every Task and ticket done) or not
(never contacted, closed without contact, still open, or no loop at all). Each group gets its mean
score before and after, the mean change with a normal-approximation interval (flagged as a small
sample under 30 pairs), and the share back at 7 or more (Wilson). The gap is the mean change of
the resolved group minus the other's (Welch's standard error), a real difference only when its
interval excludes 0. People choose whether to answer again, so this is an association: those
who were reached may be those who were going to warm up anyway.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

from insights.nps import SMALL_SAMPLE_BELOW, z_value
from insights.rates import NO_COMPARISON, Comparison, Proportion, proportion

#: A later answer at or above this is a recovery (no longer a detractor).
RECOVERED_MIN = 7


@dataclass(frozen=True, slots=True)
class FollowUp:
    """A detractor's score, the same person's next score, and whether the loop was resolved."""

    before: int
    after: int
    resolved: bool


@dataclass(frozen=True, slots=True)
class ScoreChange:
    """Follow-ups of one group: means, the mean change with its interval, and recoveries."""

    pairs: int
    mean_before: float | None
    mean_after: float | None
    mean_change: float | None
    low: float | None
    high: float | None
    small_sample: bool
    recovered: Proportion
    #: Variance of the mean change (for the gap between groups); None under two pairs.
    variance: float | None


@dataclass(frozen=True, slots=True)
class LoopEffect:
    resolved: ScoreChange
    not_resolved: ScoreChange
    #: Mean change of the resolved minus that of the others.
    gap: Comparison


def score_change(pairs: Sequence[tuple[int, int]], *, confidence: float = 0.95) -> ScoreChange:
    """Mean before, after and change of these (before, after) pairs."""
    recovered = proportion(
        sum(after >= RECOVERED_MIN for _, after in pairs), len(pairs), confidence=confidence
    )
    if not pairs:
        return ScoreChange(0, None, None, None, None, None, True, recovered, None)
    changes = [after - before for before, after in pairs]
    mean = statistics.fmean(changes)
    variance = statistics.variance(changes) / len(changes) if len(changes) > 1 else None
    half = None if variance is None else z_value(confidence) * math.sqrt(variance)
    return ScoreChange(
        pairs=len(pairs),
        mean_before=statistics.fmean(b for b, _ in pairs),
        mean_after=statistics.fmean(a for _, a in pairs),
        mean_change=mean,
        low=None if half is None else mean - half,
        high=None if half is None else mean + half,
        small_sample=len(pairs) < SMALL_SAMPLE_BELOW,
        recovered=recovered,
        variance=variance,
    )


def loop_effect(follow_ups: Iterable[FollowUp], *, confidence: float = 0.95) -> LoopEffect:
    """Score change of detractors whose loop was resolved against the others."""
    listed = list(follow_ups)
    done = score_change([(f.before, f.after) for f in listed if f.resolved], confidence=confidence)
    other = score_change(
        [(f.before, f.after) for f in listed if not f.resolved], confidence=confidence
    )
    if (
        done.mean_change is None
        or other.mean_change is None
        or done.variance is None
        or other.variance is None
    ):
        return LoopEffect(done, other, NO_COMPARISON)
    gap = done.mean_change - other.mean_change
    half = z_value(confidence) * math.sqrt(done.variance + other.variance)
    low, high = gap - half, gap + half
    return LoopEffect(done, other, Comparison(gap, low, high, low > 0 or high < 0))


def follow_ups(answers: Iterable[tuple[str, datetime, int, str | None]]) -> list[FollowUp]:
    """Follow-ups from (person, answered at, score, loop state) tuples, any order: each
    detractor answer paired with the same person's next answer."""
    by_person: dict[str, list[tuple[datetime, int, str | None]]] = {}
    for person, at, score, state in answers:
        by_person.setdefault(person.lower(), []).append((at, score, state))
    out = []
    for listed in by_person.values():
        listed.sort(key=lambda a: a[0])
        for (_, score, state), (_, later, _) in pairwise(listed):
            if score <= 6:
                out.append(FollowUp(score, later, state == "resolved"))
    return out
