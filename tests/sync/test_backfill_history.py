"""A backfill writes each history record once: during the import, as its batch is recorded, and
not again by the write-out after it, which plans the same records and finds them landed."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from emulators.world import EmulatedWorld
from sync.app.runtime import connect_all, open_store
from sync.core.config import Config
from sync.core.retry import RetryPolicy
from sync.fields.fieldmap import suggested_mapping
from sync.ops.backfill import backfill
from sync.stages.writeback import send

RETRY = RetryPolicy(attempts=3, initial_wait=0.01, max_wait=1.0)
HISTORY = "NPS_Response__c"


def ticking(start: datetime) -> Callable[[], datetime]:
    """A clock a millisecond later at each reading: a record written again shows a later
    ``LastModifiedDate`` than its ``CreatedDate``, however fast the writes follow."""
    counter = itertools.count()
    return lambda: start + timedelta(milliseconds=next(counter))


@pytest.fixture
def world() -> Iterator[EmulatedWorld]:
    with EmulatedWorld(seed=21, accounts=20, responses=300) as w:
        w.salesforce.clock = ticking(datetime.now(UTC))
        yield w


def test_a_history_record_written_during_the_import_is_not_written_again_by_the_write_out(
    world: EmulatedWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(send, "FLUSH_RECORDS", 40)  # several batches while pages are read
    data = world.config_data(state_url=f"sqlite:///{tmp_path / 'state.db'}")
    data["write_back"] = suggested_mapping()
    config = Config.model_validate(data)
    store = open_store(config)
    now = datetime.now(UTC)
    try:
        stats = backfill(
            config,
            store,
            connect_all(config),
            RETRY,
            since=now - timedelta(days=800),
            until=now,
            now=now,
            batch_size=50,
        )
    finally:
        store.close()

    assert stats.errors == stats.write.errors == []
    history = world.salesforce.records(HISTORY)
    assert len(history) == stats.write.updated[f"salesforce.{HISTORY}"] > 100
    # Written during the import: before the write-out's first contact update.
    first_contact_update = min(
        c["LastModifiedDate"]
        for c in world.salesforce.records("Contact")
        if c["LastModifiedDate"] != c["CreatedDate"]
    )
    assert max(h["CreatedDate"] for h in history) < first_contact_update
    # And never again: no record was updated after it was created.
    assert [h for h in history if h["LastModifiedDate"] != h["CreatedDate"]] == []
