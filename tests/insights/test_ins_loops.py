"""Score change after a resolved loop: pairs built per person, means and intervals by hand."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from insights.loops import FollowUp, follow_ups, loop_effect, score_change


def at(day: int) -> datetime:
    return datetime(2026, 3, day, tzinfo=UTC)


def test_each_detractor_answer_is_paired_with_the_same_persons_next_one() -> None:
    answers = [
        ("Ann@x.io", at(5), 9, None),  # a promoter's answer starts no pair
        ("ann@x.io", at(1), 3, "resolved"),
        ("ann@x.io", at(9), 2, "open"),
        ("ann@x.io", at(20), 7, None),
        ("bob@x.io", at(2), 4, "resolved"),  # no later answer
    ]
    assert follow_ups(answers) == [FollowUp(3, 9, True), FollowUp(2, 7, False)]


def test_mean_change_and_interval_by_hand() -> None:
    # Changes 6, 3, 0, 9: mean 4.5, variance of the mean 15 / 4 = 3.75, 4.5 +- 1.96 x 1.936.
    found = score_change([(2, 8), (4, 7), (6, 6), (0, 9)])
    assert (found.pairs, found.mean_before, found.mean_after, found.mean_change) == (
        4,
        3.0,
        7.5,
        4.5,
    )
    assert (found.low, found.high) == pytest.approx((0.7045, 8.2955), abs=1e-4)
    assert found.small_sample
    assert (found.recovered.part, found.recovered.whole) == (3, 4)


def test_gap_between_resolved_loops_and_the_others() -> None:
    resolved = [FollowUp(b, a, True) for b, a in [(2, 8), (4, 7), (6, 6), (0, 9)]]
    others = [FollowUp(b, a, False) for b, a in [(3, 3), (5, 4), (6, 8)]]
    effect = loop_effect([*resolved, *others])
    assert effect.not_resolved.mean_change == pytest.approx(1 / 3)
    # 4.5 - 1/3, +- 1.96 x sqrt(3.75 + 0.7778): just includes 0, so no claim.
    assert effect.gap.value == pytest.approx(4.1667, abs=1e-4)
    assert (effect.gap.low, effect.gap.high) == pytest.approx((-0.0039, 8.3372), abs=1e-4)
    assert not effect.gap.significant


def test_without_pairs_there_is_nothing_to_compare() -> None:
    effect = loop_effect([FollowUp(3, 8, True)])
    assert effect.resolved.mean_change == 5
    assert effect.resolved.low is None  # one pair has no spread
    assert effect.not_resolved.pairs == 0
    assert effect.gap.value is None
