"""``update_fields`` actions: values written to the matched records, through the ports."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from connectors.models import FieldUpdate, WriteResult
from connectors.salesforce.errors import record_tier
from sync.core.retry import NO_RETRY
from sync.stages.executors.fields import FieldUpdateExecutor
from sync.state import ClaimedAction


class Recorder:
    """A fake of both ports' update calls; ids in ``reject`` fail with ``code``."""

    def __init__(self, reject: dict[str, str] | None = None) -> None:
        self.calls: list[tuple[str, list[FieldUpdate]]] = []
        self.reject = reject or {}

    def _write(self, name: str, updates: Sequence[FieldUpdate]) -> list[WriteResult]:
        assert len({u.record_id for u in updates}) == len(updates), "a record twice in a batch"
        self.calls.append((name, list(updates)))
        return [
            WriteResult(
                u.record_id,
                False,
                error="bad value",
                code=self.reject[u.record_id],
                tier=record_tier(self.reject[u.record_id]),
            )
            if u.record_id in self.reject
            else WriteResult(u.record_id, True)
            for u in updates
        ]

    def update_records(self, updates: Sequence[FieldUpdate]) -> list[WriteResult]:
        return self._write("salesforce", updates)

    def update_users(self, updates: Sequence[FieldUpdate]) -> list[WriteResult]:
        return self._write("users", updates)

    def update_organizations(self, updates: Sequence[FieldUpdate]) -> list[WriteResult]:
        return self._write("organizations", updates)


def update(key: str, system: str, obj: str, record: str, at: str, **values: Any) -> ClaimedAction:
    payload = {
        "system": system,
        "object": obj,
        "record_id": record,
        "values": values,
        "submitted_at": at,
    }
    return ClaimedAction(key, "update_fields", payload, 1, 0, "test", key, "rule", None)


def test_updates_go_to_the_right_object_in_submission_order() -> None:
    ports = Recorder()
    executor = FieldUpdateExecutor(ports, ports, NO_RETRY)
    outcomes = executor.execute(
        [
            update("late", "salesforce", "Account", "001A", "2024-03-02", Health__c="Watch"),
            update("early", "salesforce", "Account", "001A", "2024-03-01", Health__c="At risk"),
            update("contact", "salesforce", "Contact", "003A", "2024-03-01", Title="VP"),
            update("user", "zendesk", "user", "901", "2024-03-01", nps_flag=True),
            update("org", "zendesk", "organization", "55", "2024-03-01", tier="gold"),
        ]
    )
    assert sorted((o.key, o.result, o.external_id) for o in outcomes) == [
        ("contact", "done", "003A"),
        ("early", "done", "001A"),
        ("late", "done", "001A"),
        ("org", "done", "55"),
        ("user", "done", "901"),
    ]
    account_writes = [
        (u.object_type, u.values)
        for name, batch in ports.calls
        for u in batch
        if u.record_id == "001A"
    ]
    # The same account twice: two batches, the later response last.
    assert account_writes == [
        ("Account", {"Health__c": "At risk"}),
        ("Account", {"Health__c": "Watch"}),
    ]
    assert [name for name, _ in ports.calls].count("salesforce") == 3


def test_rejected_records_and_unknown_objects() -> None:
    ports = Recorder(reject={"001B": "INVALID_FIELD", "001C": "UNABLE_TO_LOCK_ROW"})
    executor = FieldUpdateExecutor(ports, ports, NO_RETRY)
    outcomes = {
        o.key: o
        for o in executor.execute(
            [
                update("bad", "salesforce", "Account", "001B", "", X__c=1),
                update("locked", "salesforce", "Account", "001C", "", X__c=1),
                update("odd", "salesforce", "Lead", "00QA", "", X__c=1),
            ]
        )
    }
    assert (outcomes["bad"].result, outcomes["bad"].error) == ("dead", "bad value")
    assert outcomes["locked"].result == "retry"
    assert (outcomes["odd"].result, outcomes["odd"].error) == (
        "dead",
        "cannot update salesforce Lead records",
    )
