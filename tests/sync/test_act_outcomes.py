"""The act stage reads what to do about a failed record from the tier its connector gave it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.models import Tier, WriteResult
from sync.stages.act import DrainStats, Outcome, outcome_of
from sync.state import ActionResult


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


AT = datetime(2026, 12, 6, 10, 17, 25, tzinfo=UTC)


@pytest.mark.parametrize(
    ("kind", "outcome", "deferred", "held"),
    [
        # A rate limit: the system that asked.
        ("zendesk_ticket", Outcome("k", "defer", system="zendesk"), {"zendesk": AT}, {}),
        # A create held while it may still land: due again when its window has passed.
        ("zendesk_ticket", Outcome("k", "defer", in_doubt_since=AT), {}, {"zendesk": AT}),
        ("salesforce_task", Outcome("k", "defer", in_doubt_since=AT), {}, {"salesforce": AT}),
        # Waiting for another action (a Task link for its ticket): neither.
        ("salesforce_task_link", Outcome("k", "defer", error="waiting for the ticket"), {}, {}),
    ],
)
def test_a_pass_says_until_when_its_deferred_and_held_work_waits(
    kind: str, outcome: Outcome, deferred: dict[str, datetime], held: dict[str, datetime]
) -> None:
    stats = DrainStats()
    stats.add(kind, outcome, ActionResult("k", "pending", next_attempt_at=AT))
    assert (stats.deferred, stats.deferred_until, stats.held_until) == (1, deferred, held)
