"""Write-back batches go out in the background while the next ones are planned: they reach the
system in the order they were planned, and a record planned again while its first batch is in
flight ends with its later values."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.models import FieldUpdate, WriteResult
from sync.core.retry import RetryPolicy
from sync.stages.writeback import Plan, changes
from sync.stages.writeback import send as send_module
from sync.stages.writeback.send import BatchSender
from sync.state import StateStore
from sync.state.written import WrittenValues

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
USER = ("zendesk", "user")


class HeldForget(WrittenValues):
    """Written values whose first ``forget`` (a batch starting to go out) waits for ``go``."""

    def __init__(self, store: StateStore) -> None:
        super().__init__(store.db)
        self.go = threading.Event()
        self.first = True

    def forget(self, system: str, obj: str, values: Mapping[str, Mapping[str, Any]]) -> None:
        if self.first:
            self.first = False
            assert self.go.wait(10)
        super().forget(system, obj, values)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    s = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    s.migrate()
    try:
        yield s
    finally:
        s.close()


def test_a_record_planned_again_while_its_batch_is_in_flight_ends_with_its_later_values(
    store: StateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(send_module, "FLUSH_RECORDS", 1)  # every planned record is a batch
    store.written.record(*USER, {"7": {"NPS_Score": 9}}, NOW)  # what an earlier run wrote
    held = HeldForget(store)
    store.written = held
    received: list[list[tuple[str, dict[str, Any]]]] = []

    def zendesk(updates: Sequence[FieldUpdate]) -> list[WriteResult]:
        received.append([(u.record_id, dict(u.values)) for u in updates])
        return [WriteResult(u.record_id, ok=True) for u in updates]

    sender = BatchSender({USER: zendesk}, store, RetryPolicy(attempts=1), NOW)
    try:
        sender.add({USER: {"7": {"NPS_Score": 3}}})  # a new answer: goes out, held in flight
        # The next answer brings the score back to what the earlier run wrote, planned while
        # the first batch has not reached Zendesk yet: it must still be sent after it.
        part, _ = changes(Plan({USER: {"7": {"NPS_Score": 9}}}), sender.written)
        held.go.set()
        sender.add(part)
        sender.flush()
    finally:
        held.go.set()
        sender.close()

    assert received == [[("7", {"NPS_Score": 3})], [("7", {"NPS_Score": 9})]]
    assert store.written.get(*USER, ["7"]) == {"7": {"NPS_Score": 9}}
    assert sender.stats.updated == {"zendesk.user": 2}


def test_batches_reach_the_system_in_planned_order_each_once(
    store: StateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(send_module, "FLUSH_RECORDS", 3)
    received: list[str] = []

    def zendesk(updates: Sequence[FieldUpdate]) -> list[WriteResult]:
        received.extend(u.record_id for u in updates)
        return [WriteResult(u.record_id, ok=True) for u in updates]

    sender = BatchSender({USER: zendesk}, store, RetryPolicy(attempts=1), NOW)
    try:
        for n in range(10, 30):
            sender.add({USER: {str(n): {"NPS_Score": n % 11}}})
        sender.flush()
    finally:
        sender.close()

    assert received == [str(n) for n in range(10, 30)]
    assert sender.stats.updated == {"zendesk.user": 20}
    assert len(store.written.get(*USER, received)) == 20
