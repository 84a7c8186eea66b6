"""The closed-loop simulation at CI size: a week of answers, owners and agents in the emulators,
nps-sync on the same controlled clock, and its state against the ground truth."""

from __future__ import annotations

import importlib
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: Each simulation takes about 8 s on an idle machine; a loaded CI machine is slower.
pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def sim() -> ModuleType:
    mp = pytest.MonkeyPatch()
    mp.syspath_prepend(str(ROOT))  # bench/ is not an installed package
    try:
        return importlib.import_module("bench.loop_sim")
    finally:
        mp.undo()


def _run(sim: ModuleType, escalations: bool) -> Any:
    return sim.simulate(
        sim.SimSettings(
            days=7, answers_per_day=6, pass_every=timedelta(hours=3), escalations=escalations
        )
    )


def _planned(result: Any) -> list[tuple[str, int, Any]]:
    return [(a.email, a.score, a.answered_at) for a in result.answers if a.follows is None]


@pytest.fixture(scope="module")
def escalated(sim: ModuleType) -> Any:
    return _run(sim, escalations=True)


@pytest.fixture(scope="module")
def unescalated(sim: ModuleType) -> Any:
    return _run(sim, escalations=False)


def test_every_loop_escalation_and_figure_matches_the_ground_truth(escalated: Any) -> None:
    assert escalated.problems == []
    assert escalated.reported == escalated.truth
    assert escalated.truth.detractors >= 15
    assert escalated.truth.resolved > 0
    assert escalated.escalations_fired > 0


def test_escalations_reach_more_detractors_within_their_sla(
    escalated: Any, unescalated: Any
) -> None:
    assert unescalated.problems == []
    assert unescalated.reported == unescalated.truth
    # the same customers: the answers planned up front (resurvey answers follow the loops)
    assert _planned(escalated) == _planned(unescalated)
    assert unescalated.escalations_fired == 0
    assert escalated.share_within_sla > unescalated.share_within_sla


def test_resurvey_answers_are_tied_to_their_loops_and_reported_exactly(escalated: Any) -> None:
    truth, reported = escalated.truth, escalated.reported
    answered = [a for a in escalated.answers if a.follows]
    asked = [loop for loop in escalated.loops if loop.resurveys]
    assert len(answered) > 0
    assert reported.resurvey.sent == len(asked) > len(answered)
    assert reported.resurvey.answered == len(answered)
    assert reported.resurvey == truth.resurvey
    assert reported.recovery == truth.recovery
