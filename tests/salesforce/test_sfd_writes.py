"""Write-backs: one bad record fails alone with a clear message, the rest land; large ones go
through Bulk API 2.0 with the same per-record results."""

from __future__ import annotations

import math
from typing import Any

import pytest

from connectors.backoff import Backoff
from connectors.errors import RetryableError
from connectors.models import FieldUpdate, WriteResult
from connectors.salesforce.bulk import READ_FAILURES, Polling, csv_value, failed_row
from connectors.salesforce.client import SalesforceConnector
from emulators.base import Fault
from emulators.salesforce import SalesforceEmulator
from tests.salesforce.conftest import ConnectorFactory, add_account, add_contact

GOOD = {"NPS_Last_Score__c": 9, "NPS_Category__c": "promoter"}


def contacts(org: SalesforceEmulator, n: int) -> list[str]:
    account = add_account(org, "Acme")
    return [add_contact(org, f"person{i}@acme.example", account) for i in range(n)]


def field(org: SalesforceEmulator, record_id: str, name: str) -> Any:
    record = org.get_record("Contact", record_id)
    assert record is not None
    return record[name]


def poison(org: SalesforceEmulator) -> None:
    """Three ways one record is refused while its neighbours are fine (see BAD_UPDATES)."""
    org.add_validation_rule(
        "Contact",
        lambda rec: rec.get("Title") == "Do not survey",
        "Surveys are not allowed for this contact",
        field="Title",
    )
    org.set_field_updateable("Contact", "NPS_Previous_Score__c", False)


BAD_UPDATES: list[tuple[dict[str, object], str, str]] = [
    (
        {**GOOD, "Title": "Do not survey"},
        "FIELD_CUSTOM_VALIDATION_EXCEPTION",
        "Surveys are not allowed for this contact",
    ),
    (
        {"NPS_Category__c": "fan"},
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        "bad value for restricted picklist field (NPS_Category__c)",
    ),
    ({"NPS_Previous_Score__c": 3}, "INVALID_FIELD_FOR_INSERT_UPDATE", "NPS_Previous_Score__c"),
]


@pytest.mark.parametrize("bulk", [False, True], ids=["collections", "bulk"])
def test_one_bad_record_fails_alone_with_a_clear_message(
    bulk: bool, org: SalesforceEmulator, connect: ConnectorFactory
) -> None:
    crm = connect(bulk_threshold=3 if bulk else 0, bulk_poll_seconds=0.01)
    poison(org)
    ids = contacts(org, 6)
    updates = [FieldUpdate("Contact", i, dict(GOOD)) for i in ids[:3]]
    updates += [
        FieldUpdate("Contact", i, values)
        for i, (values, _, _) in zip(ids[3:], BAD_UPDATES, strict=True)
    ]
    results = crm.update_records(updates)
    assert [r.record_id for r in results] == ids
    assert [r.ok for r in results] == [True] * 3 + [False] * 3
    for result, (_, code, text) in zip(results[3:], BAD_UPDATES, strict=True):
        assert result.code == code
        assert text in result.error
    assert [field(org, i, "NPS_Last_Score__c") for i in ids[:3]] == [9.0] * 3
    assert field(org, ids[3], "NPS_Last_Score__c") is None
    endpoint = "bulk2_create_job" if bulk else "composite_update"
    assert org.calls[endpoint] == 1


def test_collections_send_200_records_per_call(
    org: SalesforceEmulator, crm: SalesforceConnector
) -> None:
    ids = contacts(org, 450)
    results = crm.update_records([FieldUpdate("Contact", i, dict(GOOD)) for i in ids])
    assert all(r.ok for r in results)
    assert org.calls["composite_update"] == math.ceil(450 / 200)
    assert org.calls["bulk2_create_job"] == 0


def test_bulk_writes_only_the_values_each_record_carries(
    org: SalesforceEmulator, connect: ConnectorFactory
) -> None:
    crm = connect(bulk_threshold=1, bulk_poll_seconds=0.01)
    first, second = contacts(org, 2)
    crm.update_records([FieldUpdate("Contact", i, dict(GOOD)) for i in (first, second)])
    results = crm.update_records(
        [
            FieldUpdate("Contact", first, {"NPS_Last_Score__c": 4}),
            FieldUpdate("Contact", second, {"NPS_Category__c": "passive", "Title": None}),
        ]
    )
    assert all(r.ok for r in results)
    assert (field(org, first, "NPS_Last_Score__c"), field(org, first, "NPS_Category__c")) == (
        4.0,
        "promoter",
    )
    assert (field(org, second, "NPS_Last_Score__c"), field(org, second, "NPS_Category__c")) == (
        9.0,
        "passive",
    )
    assert org.calls["bulk2_create_job"] == 2


@pytest.mark.parametrize("polls", [1, 4, 9])
def test_bulk_polls_start_short_and_back_off_to_a_cap(
    polls: int, org: SalesforceEmulator, connect: ConnectorFactory
) -> None:
    """A job done at its first poll is seen done after half a second; a long one is polled
    less and less often, never more than 10 s apart."""
    crm = connect(bulk_threshold=1)
    waits: list[float] = []
    crm.bulk_poll = Polling(Backoff(first=0.5, factor=1.5, cap=10.0), sleep=waits.append)
    org.bulk_polls_to_complete = polls
    ids = contacts(org, 3)

    results = crm.update_records([FieldUpdate("Contact", i, dict(GOOD)) for i in ids])

    assert all(r.ok for r in results)
    assert org.calls["bulk2_get_job"] == polls
    expected = [min(0.5 * 1.5**n, 10.0) for n in range(polls)]
    assert waits == pytest.approx(expected)


def test_a_job_of_a_minute_costs_a_dozen_polls_not_thirty() -> None:
    delays = Backoff(first=0.5, factor=1.5, cap=10.0).delays()
    elapsed, polls = 0.0, 0
    while elapsed < 60:
        elapsed += next(delays)
        polls += 1
    assert polls == 12  # every 2 s it was 30


def test_a_failed_bulk_job_is_retryable_and_aborts_nothing_twice(
    org: SalesforceEmulator, connect: ConnectorFactory
) -> None:
    crm = connect(bulk_threshold=1, bulk_poll_seconds=0.001)
    ids = contacts(org, 2)
    with pytest.raises(RetryableError, match="bulk operation failed"):
        crm.update_records([FieldUpdate("Contact", i, {"No_Such_Field__c": 1}) for i in ids])
    assert org.calls["bulk2_create_job"] == 1


def test_a_bulk_job_outlives_failed_reads_of_its_state_and_results(
    org: SalesforceEmulator, connect: ConnectorFactory
) -> None:
    """Polls of the job's state and reads of its failed rows fail twice in a row each (a 503,
    a reset): each read is asked again and the one job completes. Before, the first failed poll
    aborted the job and the call failed, for its retry to send every record again."""
    crm = connect(bulk_threshold=1, bulk_poll_seconds=0.001)
    org.bulk_polls_to_complete = 2
    ids = contacts(org, 3)
    org.inject(Fault("503", count=2, endpoint="^bulk2_get_job$"))
    org.inject(Fault("reset", count=2, endpoint="^bulk2_results$"))
    results = crm.update_records([FieldUpdate("Contact", i, dict(GOOD)) for i in ids])
    assert all(r.ok for r in results)
    assert [field(org, i, "NPS_Last_Score__c") for i in ids] == [9.0] * 3
    assert org.calls["bulk2_create_job"] == 1
    assert org.calls["bulk2_get_job"] == 4  # two failed, then the two the job takes
    assert sorted(kind for _, kind in org.fault_log) == ["503", "503", "reset", "reset"]


def test_a_bulk_job_whose_state_cannot_be_read_is_given_up(
    org: SalesforceEmulator, connect: ConnectorFactory
) -> None:
    crm = connect(bulk_threshold=1, bulk_poll_seconds=0.001)
    ids = contacts(org, 2)
    org.inject(Fault("503", count=READ_FAILURES, endpoint="^bulk2_get_job$"))
    with pytest.raises(RetryableError):
        crm.update_records([FieldUpdate("Contact", i, dict(GOOD)) for i in ids])
    assert org.calls["bulk2_create_job"] == 1


def test_a_lead_matched_as_contact_is_written_as_a_lead(
    org: SalesforceEmulator, crm: SalesforceConnector
) -> None:
    lead = org.insert_record("Lead", {"LastName": "Pat", "Company": "Initech"})
    [contact] = contacts(org, 1)
    results = crm.update_records(
        [
            FieldUpdate("Contact", contact, {"Title": "CFO"}),
            FieldUpdate("Contact", lead, {"Title": "CTO"}),
        ]
    )
    assert all(r.ok for r in results)
    assert org.get_record("Lead", lead)["Title"] == "CTO"  # type: ignore[index]


def test_an_object_refused_as_a_whole_fails_only_its_records(
    org: SalesforceEmulator, crm: SalesforceConnector
) -> None:
    """The Lead lacks the NPS fields: its records fail, the contacts' land."""
    lead = org.insert_record("Lead", {"LastName": "Pat", "Company": "Initech"})
    [contact] = contacts(org, 1)
    results = crm.update_records(
        [
            FieldUpdate("Contact", contact, dict(GOOD)),
            FieldUpdate("Contact", lead, dict(GOOD)),
        ]
    )
    assert results[0] == WriteResult(contact, ok=True, external_id=contact)
    assert not results[1].ok
    assert results[1].error.startswith("Lead: ")
    assert "NPS_" in results[1].error


@pytest.mark.parametrize(
    ("value", "cell"),
    [(None, "#N/A"), (True, "true"), (False, "false"), (9.5, "9.5"), ("a,b", "a,b")],
)
def test_bulk_cells(value: object, cell: str) -> None:
    assert csv_value(value) == cell


@pytest.mark.parametrize(
    ("error", "code", "text"),
    [
        ("REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --",
         "REQUIRED_FIELD_MISSING", "REQUIRED_FIELD_MISSING: Required fields are missing: "
         "[LastName] (LastName)"),
        (
            "STRING_TOO_LONG:Comments: data value too large: Slow, slow, slow (max length=8):--",
            "STRING_TOO_LONG",
            "STRING_TOO_LONG: data value too large (max length=8)",
        ),
        ("UNKNOWN_EXCEPTION", "UNKNOWN_EXCEPTION", "UNKNOWN_EXCEPTION"),
    ],
)  # fmt: skip
def test_bulk_failed_rows(error: str, code: str, text: str) -> None:
    result = failed_row({"sf__Id": "", "sf__Error": error, "Id": "003x"})
    assert (result.record_id, result.ok, result.code, result.error) == ("003x", False, code, text)


def test_records_are_deleted_by_external_id_and_a_missing_one_counts_as_deleted(
    org: SalesforceEmulator, crm: SalesforceConnector
) -> None:
    keys = [f"delighted:r{i}" for i in range(3)] + ["delighted:it's \\ odd"]
    crm.upsert_records(
        "NPS_Response__c", "Response_Id__c", [{"Response_Id__c": k, "Score__c": 3} for k in keys]
    )
    org.reset_counters()

    wanted = [keys[0], keys[3], "delighted:never-written"]
    results = crm.delete_by_external_id("NPS_Response__c", "Response_Id__c", wanted)

    assert [(r.record_id, r.ok) for r in results] == [(k, True) for k in wanted]
    left = {r["Response_Id__c"] for r in org.records("NPS_Response__c")}
    assert left == {keys[1], keys[2]}
    assert dict(org.calls) == {"query": 1, "composite_delete": 1}
    # Asked again: nothing left to delete, and nothing fails.
    again = crm.delete_by_external_id("NPS_Response__c", "Response_Id__c", wanted)
    assert all(r.ok for r in again)
