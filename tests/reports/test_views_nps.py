"""NPS and its 95% interval as the views show them (``insights.nps``): hand-computed cases,
coverage of the truth in simulated samples, and changes flagged only when the interval of the
difference excludes 0."""

from __future__ import annotations

import random

import pytest

from sync.reports.nps import moved, nps_of


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        # The adjusted interval adds z^2/3 = 1.2805 pseudo-respondents to each category.
        # 2 of each of 6: p' = d' = 3.2805 / 9.8415 = 1/3, centre 0, Var = (2/3) / 9.8415,
        # half width 1.96 * 0.2603 = 0.510
        ([10, 9, 8, 7, 6, 0], (6, 0.0, -51.0, 51.0)),
        # 3 promoters, 1 detractor of 4: p' = 4.2805 / 7.8415 = 0.5459, d' = 0.2908,
        # centre 0.2551, Var = (0.8367 - 0.0651) / 7.8415, half width 0.6148
        ([10, 10, 9, 3], (4, 50.0, -36.0, 87.0)),
        # 40/40/20 of 100: p' = 0.3975, d' = 0.2049, centre 0.1926, half width 0.1446
        ([9] * 40 + [7] * 40 + [5] * 20, (100, 20.0, 4.8, 33.7)),
    ],
)
def test_nps_and_interval_match_the_hand_computation(
    scores: list[int], expected: tuple[int, float, float, float]
) -> None:
    figure = nps_of(scores).to_json()
    assert (figure["n"], figure["nps"], figure["low"], figure["high"]) == expected


def test_no_answers_give_no_figure() -> None:
    assert nps_of([]).to_json()["nps"] is None


def test_the_interval_covers_the_true_nps_in_at_least_90_percent_of_samples() -> None:
    rng = random.Random(7)  # deterministic; most seeds cover 185-196 of 200
    shares = {10: 0.45, 8: 0.30, 3: 0.25}  # true NPS 20
    covered = 0
    for _ in range(200):
        sample = rng.choices(list(shares), weights=list(shares.values()), k=120)
        figure = nps_of(sample)
        assert figure.low is not None
        assert figure.high is not None
        covered += figure.low <= 20.0 <= figure.high
    assert covered >= 180


@pytest.mark.parametrize(
    ("before", "after", "flagged"),
    [
        ([10] * 30 + [0] * 10, [10] * 10 + [0] * 30, True),  # +50 to -50 on 40 answers each
        ([10] * 12 + [0] * 8, [10] * 10 + [0] * 10, False),  # +20 to 0: inside the interval
        ([0], [10], False),  # one answer each: the interval spans everything
        ([10] * 9, [0] * 9, True),  # +100 to -100 on 9 answers each
    ],
)
def test_a_change_is_flagged_only_outside_the_interval_of_the_difference(
    before: list[int], after: list[int], flagged: bool
) -> None:
    assert moved(nps_of(before), nps_of(after)) is flagged
