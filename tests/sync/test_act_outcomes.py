"""The act stage reads what to do about a failed record from the tier its connector gave it."""

from __future__ import annotations

import pytest

from connectors.models import Tier, WriteResult
from sync.stages.act import outcome_of


@pytest.mark.parametrize(
    ("tier", "result"),
    [("retry", "retry"), ("defer", "defer"), ("skip", "dead"), ("fix-config", "dead")],
)
def test_a_failed_record_becomes_the_outcome_of_its_tier(tier: Tier, result: str) -> None:
    outcome = outcome_of(WriteResult("k1", False, error="no", code="WHATEVER", tier=tier))
    assert (outcome.key, outcome.result, outcome.error) == ("k1", result, "no")


def test_the_code_alone_decides_nothing() -> None:
    locked = WriteResult("k1", False, error="locked", code="UNABLE_TO_LOCK_ROW")
    assert outcome_of(locked).result == "dead"
    done = outcome_of(WriteResult("k2", True, external_id="00T1"))
    assert (done.result, done.external_id) == ("done", "00T1")
