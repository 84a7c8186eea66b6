"""sObject Collections: per-record results, allOrNone, the 200 cap, upsert, injected row locks."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from emulators.base import Fault
from emulators.salesforce import SalesforceEmulator


def task(subject: str, **fields: Any) -> dict[str, Any]:
    return {"attributes": {"type": "Task"}, "Subject": subject, **fields}


def collections(
    sf: Salesforce, method: str, records: list[dict[str, Any]], path: str = "", **body: Any
) -> Any:
    return sf.restful("composite/sobjects" + path, method=method, json={"records": records, **body})


def test_create_reports_one_result_per_record_in_order(
    sf: Salesforce, emulator: SalesforceEmulator
) -> None:
    emulator.add_validation_rule("Task", lambda r: r["Subject"] == "bad", "Subject is bad")
    results = collections(
        sf,
        "POST",
        [
            task("one"),
            task("bad"),
            task("x" * 256),
            {"attributes": {"type": "Contact"}, "FirstName": "No last name"},
            task("two", Status="Completed"),
        ],
    )
    assert [r["success"] for r in results] == [True, False, False, False, True]
    assert results[1] == {
        "success": False,
        "errors": [
            {
                "statusCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
                "message": "Subject is bad",
                "fields": [],
            }
        ],
    }
    assert results[2]["errors"][0]["statusCode"] == "STRING_TOO_LONG"
    assert results[3]["errors"][0] == {
        "statusCode": "REQUIRED_FIELD_MISSING",
        "message": "Required fields are missing: [LastName]",
        "fields": ["LastName"],
    }
    assert {r["Subject"] for r in emulator.records("Task")} == {"one", "two"}
    assert all(r["id"].startswith("00T") for r in results if r["success"])


def test_all_or_none_rolls_everything_back(sf: Salesforce, emulator: SalesforceEmulator) -> None:
    results = collections(
        sf, "POST", [task("kept?"), task("y" * 300), task("kept too?")], allOrNone=True
    )
    rolled = {
        "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "message": "Record rolled back because not all records were valid and the request was "
        "using AllOrNone header",
        "fields": [],
    }
    assert results[0] == {"success": False, "errors": [rolled]}
    assert results[1]["errors"][0]["statusCode"] == "STRING_TOO_LONG"
    assert results[2] == {"success": False, "errors": [rolled]}
    assert emulator.records("Task") == []
    assert all(
        r["success"] for r in collections(sf, "POST", [task("a"), task("b")], allOrNone=True)
    )
    assert len(emulator.records("Task")) == 2


def test_update_uses_lowercase_id_and_reports_missing_ones(
    sf: Salesforce, emulator: SalesforceEmulator
) -> None:
    account = emulator.insert_record("Account", {"Name": "Acme"})
    contact = emulator.insert_record("Contact", {"LastName": "C"})
    results = collections(
        sf,
        "PATCH",
        [
            {"attributes": {"type": "Account"}, "id": account, "NPS_Score__c": 42.5},
            {"attributes": {"type": "Contact"}, "Id": contact, "NPS_Category__c": "nope"},
            {"attributes": {"type": "Contact"}, "NPS_Last_Score__c": 3},
            {"attributes": {"type": "Account"}, "id": "001000000000009AAA", "Name": "Ghost"},
        ],
    )
    assert results[0] == {"id": account, "success": True, "errors": []}
    assert results[1]["id"] == contact
    assert results[1]["errors"][0]["statusCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert results[2]["errors"][0]["statusCode"] == "MISSING_ARGUMENT"
    assert results[3]["success"] is False
    assert emulator.get_record("Account", account)["NPS_Score__c"] == 42.5  # type: ignore[index]


def test_more_than_200_records_fail_the_request(
    sf: Salesforce,
    emulator: SalesforceEmulator,
    error_array: Callable[[BaseException], list[dict[str, Any]]],
) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        collections(sf, "POST", [task(f"t{i}") for i in range(201)])
    assert error_array(caught.value)[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    assert emulator.records("Task") == []
    assert len(collections(sf, "POST", [task(f"t{i}") for i in range(200)])) == 200


@pytest.mark.parametrize(
    ("record", "code"),
    [
        (task("x", Bogus__c=1), "INVALID_FIELD"),
        ({"Subject": "no type"}, "INVALID_TYPE"),
        ({"attributes": {"type": "Nope"}}, "INVALID_TYPE"),
        (task("x", ActivityDate="tomorrow"), "JSON_PARSER_ERROR"),
    ],
)
def test_request_level_problems_fail_the_whole_request(
    sf: Salesforce,
    emulator: SalesforceEmulator,
    record: dict[str, Any],
    code: str,
    error_array: Callable[[BaseException], list[dict[str, Any]]],
) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        collections(sf, "POST", [task("fine"), record])
    assert error_array(caught.value)[0]["errorCode"] == code
    assert emulator.records("Task") == []


def test_upsert_collection_creates_updates_and_flags_ambiguity(
    sf: Salesforce, emulator: SalesforceEmulator
) -> None:
    existing = emulator.insert_record("Contact", {"LastName": "Old", "Email": "old@x.io"})
    emulator.insert_record("Contact", {"LastName": "Twin1", "Email": "twin@x.io"})
    emulator.insert_record("Contact", {"LastName": "Twin2", "Email": "twin@x.io"})

    def contact(email: str, last: str) -> dict[str, Any]:
        return {"attributes": {"type": "Contact"}, "Email": email, "LastName": last}

    results = collections(
        sf,
        "PATCH",
        [contact("OLD@x.io", "Renamed"), contact("new@x.io", "New"), contact("twin@x.io", "T")],
        path="/Contact/Email",
    )
    assert results[0] == {"id": existing, "success": True, "errors": [], "created": False}
    assert results[1]["created"] is True
    assert results[2]["errors"][0]["statusCode"] == "DUPLICATE_EXTERNAL_ID"
    assert emulator.get_record("Contact", existing)["LastName"] == "Renamed"  # type: ignore[index]


def test_upsert_collection_by_id_with_null_ids_creates(sf: Salesforce) -> None:
    results = collections(
        sf,
        "PATCH",
        [{"attributes": {"type": "Account"}, "Name": "Fresh", "Id": None}],
        path="/Account/Id",
    )
    assert results[0]["created"] is True


def test_injected_locks_fail_individual_records(
    sf: Salesforce, emulator: SalesforceEmulator
) -> None:
    emulator.inject(Fault("lock", count=2, endpoint="composite_create"))
    results = collections(sf, "POST", [task(f"t{i}") for i in range(5)])
    assert [r["success"] for r in results] == [False, False, True, True, True]
    assert results[0]["errors"][0]["statusCode"] == "UNABLE_TO_LOCK_ROW"
    assert len(emulator.records("Task")) == 3
    assert emulator.fault_log == [("composite_create", "lock"), ("composite_create", "lock")]


def test_a_lock_rate_fails_roughly_that_fraction(
    sf: Salesforce, emulator: SalesforceEmulator
) -> None:
    emulator.inject(Fault("lock", rate=0.5))
    results = collections(sf, "POST", [task(f"t{i}") for i in range(200)])
    failures = sum(1 for r in results if not r["success"])
    assert 60 < failures < 140


def test_delete_collection(sf: Salesforce, emulator: SalesforceEmulator) -> None:
    first = emulator.insert_record("Task", {"Subject": "a"})
    second = emulator.insert_record("Task", {"Subject": "b"})
    results = sf.restful("composite/sobjects", method="DELETE", params={"ids": f"{first},{second}"})
    assert results is not None
    assert [r["success"] for r in results] == [True, True]
    assert emulator.records("Task") == []


def test_concurrent_writers_get_distinct_ids(
    emulator: SalesforceEmulator, http: requests.Session
) -> None:
    def create_batch(batch: int) -> list[str]:
        client = Salesforce(
            instance_url=emulator.instance_url,
            session_id=emulator.issue_session(),
            session=http,
        )
        results = collections(client, "POST", [task(f"b{batch}-{i}") for i in range(50)])
        return [r["id"] for r in results]

    with ThreadPoolExecutor(max_workers=8) as pool:
        created = [record_id for ids in pool.map(create_batch, range(8)) for record_id in ids]
    assert len(set(created)) == 400
    assert len(emulator.records("Task")) == 400
    assert emulator.api_used == 8
