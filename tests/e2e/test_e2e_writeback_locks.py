"""A record Salesforce reports locked during write-back (UNABLE_TO_LOCK_ROW, another process
holding it for a moment) is written again in the same pass, not reported as a failed pass."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from emulators.base import Fault
from emulators.world import EmulatedWorld
from tests.e2e.conftest import EngineFactory


def test_a_locked_row_is_written_in_the_same_pass(
    world: EmulatedWorld, make_engine: EngineFactory
) -> None:
    assert make_engine().run_once().errors == []
    # A first answer, a passive without a comment: no Task, no link and no note to write.
    answered = {r.email.lower() for r in world.book.responses}
    contact = next(c for c in world.book.contacts if c.email.lower() not in answered)
    world.delighted.add_response(
        email=contact.email, score=8, created_at=datetime.now(UTC) - timedelta(hours=1)
    )
    world.salesforce.inject(Fault("lock", count=3, endpoint="^composite_update$"))

    report = make_engine().run_once()

    assert report.errors == []
    assert ("composite_update", "lock") in world.salesforce.fault_log
    (record,) = [c for c in world.salesforce.records("Contact") if c["Id"][:15] == contact.id[:15]]
    assert record["NPS_Last_Score__c"] == 8
