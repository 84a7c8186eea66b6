"""NPS and its 95% interval as the views show it: hand-computed cases, coverage of the truth
in simulated samples, and changes flagged only outside the interval of the difference."""

from __future__ import annotations

import random

import pytest

from sync.reports.nps import moved, nps_of


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        # 2 promoters, 2 detractors of 6: NPS 0; Var = (2/6 + 2/6 - 0) / 6 * 100^2 = 1111.1,
        # half width 1.96 * 33.33 = 65.3
        ([10, 9, 8, 7, 6, 0], (6, 0.0, -65.3, 65.3)),
        # 3 promoters, 1 detractor of 4: NPS 50; Var = (0.75 + 0.25 - 0.25) / 4 * 100^2 = 1875,
        # half width 1.96 * 43.3 = 84.9, clipped at 100
        ([10, 10, 9, 3], (4, 50.0, -34.9, 100.0)),
        # NPS 20 of 100; Var = (0.4 + 0.2 - 0.04) / 100 * 100^2 = 56, half width 14.7
        ([9] * 40 + [7] * 40 + [5] * 20, (100, 20.0, 5.3, 34.7)),
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
        ([0], [10], False),  # one answer each: never judged
        ([10] * 9, [0] * 9, False),  # below the minimum on both sides
    ],
)
def test_a_change_is_flagged_only_outside_the_interval_of_the_difference(
    before: list[int], after: list[int], flagged: bool
) -> None:
    assert moved(nps_of(before), nps_of(after)) is flagged
