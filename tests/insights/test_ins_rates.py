"""Proportions (Wilson), their differences (Newcombe) and ratios (Katz): hand-computed cases."""

from __future__ import annotations

import pytest

from insights.rates import difference, proportion, ratio


@pytest.mark.parametrize(
    ("part", "whole", "expected"),
    [
        (8, 10, (0.8, 0.4902, 0.9433)),
        (0, 10, (0.0, 0.0, 0.2775)),
        (3, 10, (0.3, 0.1078, 0.6032)),
        (10, 10, (1.0, 0.7225, 1.0)),
    ],
)
def test_wilson_interval(part: int, whole: int, expected: tuple[float, float, float]) -> None:
    found = proportion(part, whole)
    assert (found.share, found.low, found.high) == pytest.approx(expected, abs=1e-4)


def test_no_trial_has_no_share_and_impossible_counts_are_refused() -> None:
    empty = proportion(0, 0)
    assert (empty.share, empty.low, empty.high) == (None, None, None)
    with pytest.raises(ValueError, match="3 of 2"):
        proportion(3, 2)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ((8, 10), (3, 10), (0.5, 0.0665, 0.7398, True)),
        ((6, 10), (4, 10), (0.2, -0.2063, 0.5278, False)),
    ],
)
def test_newcombe_difference(
    a: tuple[int, int], b: tuple[int, int], expected: tuple[float, float, float, bool]
) -> None:
    found = difference(proportion(*a), proportion(*b))
    assert (found.value, found.low, found.high) == pytest.approx(expected[:3], abs=1e-4)
    assert found.significant is expected[3]


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ((10, 20), (5, 50), (5.0, 1.9532, 12.7995, True)),
        # A zero cell: half a count is added to every cell.
        ((0, 10), (5, 10), (0.0909, 0.00569, 1.4534, False)),
    ],
)
def test_katz_relative_risk(
    a: tuple[int, int], b: tuple[int, int], expected: tuple[float, float, float, bool]
) -> None:
    found = ratio(proportion(*a), proportion(*b))
    assert (found.value, found.low, found.high) == pytest.approx(expected[:3], rel=1e-3)
    assert found.significant is expected[3]


def test_comparisons_with_an_empty_side_say_nothing() -> None:
    assert difference(proportion(1, 2), proportion(0, 0)).value is None
    assert ratio(proportion(0, 0), proportion(1, 2)).significant is False
