"""The closed-loop simulation at CI size: ten simulated days of answers, owners and agents in
the emulators, nps-sync on the same controlled clock, and its state against the ground truth."""

from __future__ import annotations

import importlib
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sim() -> ModuleType:
    mp = pytest.MonkeyPatch()
    mp.syspath_prepend(str(ROOT))  # bench/ is not an installed package
    try:
        return importlib.import_module("bench.loop_sim")
    finally:
        mp.undo()


@pytest.fixture(scope="module")
def runs(sim: ModuleType) -> dict[bool, Any]:
    settings = sim.SimSettings(days=10, answers_per_day=6, pass_every=timedelta(hours=2))
    return {
        on: sim.simulate(sim.SimSettings(**{**settings.__dict__, "escalations": on}))
        for on in (True, False)
    }


def test_every_loop_escalation_and_figure_matches_the_ground_truth(runs: dict[bool, Any]) -> None:
    for result in runs.values():
        assert result.problems == []
        assert result.reported == result.truth
        assert result.truth.detractors >= 20
        assert result.truth.resolved > 0
        assert result.truth.never_contacted > 0  # one loop in ten has people who never act


def test_escalations_reach_more_detractors_within_their_sla(runs: dict[bool, Any]) -> None:
    on, off = runs[True], runs[False]
    assert on.truth.detractors == off.truth.detractors  # the same customers answered
    assert on.escalations_fired > 0
    assert off.escalations_fired == 0
    assert on.share_within_sla > off.share_within_sla
