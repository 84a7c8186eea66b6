"""NPS and its interval: hand-computed cases, the difference test, and coverage by simulation."""

from __future__ import annotations

import random

import pytest

from insights.nps import Counts, Method, nps_difference, nps_interval, z_value

# (promoters, passives, detractors), method -> (NPS, low, high); worked by hand with z = 1.95996:
# wald: (p - d) +- z sqrt((p + d - (p - d)^2) / n); adjusted: the same after adding z^2/3 to
# each count (n + z^2 in all), the NPS itself unadjusted.
CASES: list[tuple[tuple[int, int, int], Method, tuple[float, float, float]]] = [
    ((5, 3, 2), "wald", (30.0, -18.41, 78.41)),
    ((5, 3, 2), "adjusted", (30.0, -20.60, 63.94)),
    ((40, 30, 30), "wald", (10.0, -6.28, 26.28)),
    ((40, 30, 30), "adjusted", (10.0, -6.34, 25.60)),
    ((20, 30, 50), "wald", (-30.0, -45.31, -14.69)),
    # All promoters: Wald claims certainty, the adjusted interval does not (and is clipped).
    ((10, 0, 0), "wald", (100.0, 100.0, 100.0)),
    ((10, 0, 0), "adjusted", (100.0, 39.54, 100.0)),
    ((0, 0, 10), "adjusted", (-100.0, -100.0, -39.54)),
    # One promoter: the adjusted interval (-53.49, 94.80) is stretched to hold the NPS itself.
    ((1, 0, 0), "adjusted", (100.0, -53.49, 100.0)),
]


@pytest.mark.parametrize(("counts", "method", "expected"), CASES)
def test_interval_matches_the_hand_computed_one(
    counts: tuple[int, int, int], method: Method, expected: tuple[float, float, float]
) -> None:
    found = nps_interval(Counts(*counts), method=method)
    assert found.nps == pytest.approx(expected[0])
    assert found.low == pytest.approx(expected[1], abs=0.01)
    assert found.high == pytest.approx(expected[2], abs=0.01)
    assert found.respondents == sum(counts)


def test_scores_fall_in_their_categories() -> None:
    assert Counts.of_scores([0, 6, 7, 8, 9, 10, 10]) == Counts(
        promoters=3, passives=2, detractors=2
    )
    with pytest.raises(ValueError, match="11 is outside 0-10"):
        Counts.of_scores([11])


def test_no_respondent_has_no_nps_and_few_are_flagged() -> None:
    empty = nps_interval(Counts())
    assert (empty.nps, empty.low, empty.high) == (None, None, None)
    assert nps_interval(Counts(5, 3, 2), small_below=30).small_sample is True
    assert nps_interval(Counts(40, 30, 30), small_below=30).small_sample is False


def test_a_wider_confidence_gives_a_wider_interval() -> None:
    assert z_value(0.95) == pytest.approx(1.95996, abs=1e-5)
    narrow = nps_interval(Counts(40, 30, 30), confidence=0.8)
    wide = nps_interval(Counts(40, 30, 30), confidence=0.99)
    assert wide.low is not None
    assert narrow.low is not None
    assert wide.low < narrow.low
    with pytest.raises(ValueError, match="confidence"):
        nps_interval(Counts(1, 0, 0), confidence=1.5)


@pytest.mark.parametrize(
    ("a", "b", "method", "expected"),
    [
        ((40, 30, 30), (20, 30, 50), "wald", (40.0, 17.65, 62.35, True)),
        ((40, 30, 30), (20, 30, 50), "adjusted", (40.0, 16.55, 60.49, True)),
        # Ten respondents each: twenty points apart is well within the noise.
        ((5, 3, 2), (4, 3, 3), "adjusted", (20.0, -46.29, 75.19, False)),
        ((20, 30, 50), (40, 30, 30), "wald", (-40.0, -62.35, -17.65, True)),
    ],
)
def test_difference_is_flagged_only_when_its_interval_excludes_zero(
    a: tuple[int, int, int],
    b: tuple[int, int, int],
    method: Method,
    expected: tuple[float, float, float, bool],
) -> None:
    found = nps_difference(Counts(*a), Counts(*b), method=method)
    assert found.difference == pytest.approx(expected[0])
    assert found.low == pytest.approx(expected[1], abs=0.01)
    assert found.high == pytest.approx(expected[2], abs=0.01)
    assert found.significant is expected[3]


@pytest.mark.parametrize(("a", "b"), [((30, 0, 0), (0, 0, 30)), ((0, 0, 30), (30, 0, 0))])
def test_the_interval_of_an_extreme_difference_holds_the_difference(
    a: tuple[int, int, int], b: tuple[int, int, int]
) -> None:
    found = nps_difference(Counts(*a), Counts(*b))
    assert found.difference is not None
    assert found.low is not None
    assert found.high is not None
    assert found.low <= found.difference <= found.high
    assert found.significant


def test_difference_with_an_empty_side_is_not_a_difference() -> None:
    found = nps_difference(Counts(3, 0, 0), Counts())
    assert (found.difference, found.significant) == (None, False)


def _sample(rng: random.Random, shares: tuple[float, float, float], n: int) -> Counts:
    drawn = rng.choices(range(3), weights=shares, k=n)
    return Counts(drawn.count(0), drawn.count(1), drawn.count(2))


@pytest.mark.parametrize(
    ("shares", "n"),
    [
        ((0.5, 0.3, 0.2), 30),
        ((0.3, 0.3, 0.4), 100),
        ((0.9, 0.08, 0.02), 12),  # few respondents, nearly all promoters: where Wald fails
    ],
)
def test_intervals_cover_the_true_nps_in_at_least_90_percent_of_200_samples(
    shares: tuple[float, float, float], n: int
) -> None:
    rng = random.Random(2026)
    truth = 100.0 * (shares[0] - shares[2])
    covered = 0
    for _ in range(200):
        found = nps_interval(_sample(rng, shares, n))
        assert found.low is not None
        assert found.high is not None
        covered += found.low <= truth <= found.high
    assert covered >= 180
