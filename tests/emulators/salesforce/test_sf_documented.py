"""Documented Salesforce behaviour a client could be misled about, through the real
simple-salesforce client and, for write errors, the connector's error tiers
(emulators/FIDELITY.md names the documentation of each)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any, cast

import pytest
from simple_salesforce.api import Salesforce, SFType
from simple_salesforce.exceptions import SalesforceMalformedRequest
from simple_salesforce.format import format_soql

from connectors.errors import ConfigError, RecordError
from connectors.models import FieldUpdate, TaskSpec
from connectors.salesforce.client import SalesforceConnector
from connectors.salesforce.errors import translate
from emulators.base import Fault
from emulators.salesforce import SalesforceEmulator

Api = Callable[[str], SFType]


def only_error(exc: BaseException) -> dict[str, Any]:
    assert isinstance(exc, SalesforceMalformedRequest)
    [error] = cast(list[dict[str, Any]], exc.content)
    return error


# -- upsert by external id --------------------------------------------------------------------
@pytest.mark.parametrize("body_key", ["Response_Id__c", "response_id__c", "Id"])
def test_an_upsert_naming_its_key_in_the_body_is_refused(sobject: Api, body_key: str) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sobject("NPS_Response__c").upsert("Response_Id__c/r1", {body_key: "r1", "Score__c": 9})

    error = only_error(caught.value)
    assert error["errorCode"] == "INVALID_FIELD"
    assert [f.lower() for f in error["fields"]] == [body_key.lower()]
    assert isinstance(translate(caught.value), ConfigError)  # our bug, not a bad record


def test_a_collections_upsert_carries_its_key_in_each_record(sf: Salesforce) -> None:
    answer = sf.restful(
        "composite/sobjects/NPS_Response__c/Response_Id__c",
        method="PATCH",
        json={
            "allOrNone": False,
            "records": [{"attributes": {"type": "NPS_Response__c"}, "Response_Id__c": "r1"}],
        },
    )

    assert answer is not None
    assert [(r["success"], r["created"]) for r in answer] == [(True, True)]


# -- ORDER BY and nulls -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("Title", [None, "a", "b"]),
        ("Title DESC", [None, "b", "a"]),
        ("Title NULLS LAST", ["a", "b", None]),
        ("Title DESC NULLS LAST", ["b", "a", None]),
        ("Title DESC NULLS FIRST", [None, "b", "a"]),
    ],
)
def test_nulls_sort_first_unless_asked_otherwise(
    sf: Salesforce, sobject: Api, order: str, expected: list[str | None]
) -> None:
    for title in ("b", None, "a"):
        sobject("Contact").create({"LastName": "x", "Title": title})

    rows = sf.query(f"SELECT Title FROM Contact ORDER BY {order}")["records"]  # noqa: S608 - fixed fragments

    assert [r["Title"] for r in rows] == expected


# -- dateTime literals ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "literal", ["2024-01-01T00:00:00Z", "2024-01-01T00:00:00+00:00", "2024-01-01T01:00:00+01:00"]
)
def test_documented_datetime_literals_are_accepted(sf: Salesforce, literal: str) -> None:
    assert sf.query(f"SELECT Id FROM Account WHERE CreatedDate > {literal}")["done"] is True  # noqa: S608 - fixed literals


@pytest.mark.parametrize("literal", ["2024-01-01T00:00:00+0000", "2024-01-01T00:00:00"])
def test_undocumented_datetime_literals_are_malformed(sf: Salesforce, literal: str) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query(f"SELECT Id FROM Account WHERE CreatedDate > {literal}")  # noqa: S608 - fixed literals

    assert only_error(caught.value)["errorCode"] == "MALFORMED_QUERY"


def test_the_clients_own_datetime_formatting_is_accepted(sf: Salesforce) -> None:
    soql = format_soql(
        "SELECT Id FROM Account WHERE CreatedDate > {}", datetime(2024, 1, 1, tzinfo=UTC)
    )

    assert sf.query(soql)["done"] is True


def test_rest_answers_write_datetimes_with_a_colonless_offset_and_accept_them_back(
    sobject: Api,
) -> None:
    created = sobject("NPS_Response__c").create({"Responded_At__c": "2024-01-01T10:00:00.000+0000"})

    stored = sobject("NPS_Response__c").get(created["id"])["Responded_At__c"]

    assert stored == "2024-01-01T10:00:00.000+0000"


# -- date literals in the querying user's time zone ------------------------------------------
#: 05:30 UTC on 10 March 2026 is still 9 March in Los Angeles (UTC-7) and already 10 March in
#: Paris (UTC+1).
NOW = datetime(2026, 3, 10, 5, 30, tzinfo=UTC)


@pytest.fixture
def dated(emulator: SalesforceEmulator) -> SalesforceEmulator:
    emulator.clock = lambda: NOW
    for day in (date(2026, 3, 8), date(2026, 3, 9), date(2026, 3, 10)):
        emulator.insert_record(
            "Task",
            {"Subject": day.isoformat(), "ActivityDate": day, "OwnerId": emulator.default_user_id},
        )
    return emulator


def _subjects(sf: Salesforce, where: str) -> list[str]:
    soql = f"SELECT Subject FROM Task WHERE {where} ORDER BY Subject"  # noqa: S608 - fixed fragments
    return [r["Subject"] for r in sf.query(soql)["records"]]


def test_date_literals_count_days_in_the_users_time_zone(
    sf: Salesforce, sobject: Api, dated: SalesforceEmulator
) -> None:
    [user] = sf.query(
        format_soql("SELECT TimeZoneSidKey FROM User WHERE Id = {}", dated.default_user_id)
    )["records"]

    in_los_angeles = _subjects(sf, "ActivityDate = TODAY")
    sobject("User").update(dated.default_user_id, {"TimeZoneSidKey": "Europe/Paris"})
    in_paris = _subjects(sf, "ActivityDate = TODAY")

    assert user["TimeZoneSidKey"] == "America/Los_Angeles"
    assert in_los_angeles == ["2026-03-09"]
    assert in_paris == ["2026-03-10"]
    assert _subjects(sf, "ActivityDate = LAST_N_DAYS:1") == ["2026-03-09", "2026-03-10"]


def test_datetime_date_literals_start_at_the_users_midnight(
    sf: Salesforce, dated: SalesforceEmulator
) -> None:
    # 07:30 UTC on 9 March is 00:30 in Los Angeles: today, seen from there, began 31 h earlier.
    dated.insert_record(
        "Account", {"Name": "LA morning", "CreatedDate": datetime(2026, 3, 9, 7, 30, tzinfo=UTC)}
    )
    dated.insert_record(
        "Account", {"Name": "LA night", "CreatedDate": datetime(2026, 3, 9, 6, 30, tzinfo=UTC)}
    )

    rows = sf.query("SELECT Name FROM Account WHERE CreatedDate = TODAY")["records"]

    assert [r["Name"] for r in rows] == ["LA morning"]


# -- write errors -> the connector's tiers ----------------------------------------------------
@pytest.fixture
def connector(sf: Salesforce) -> SalesforceConnector:
    return SalesforceConnector(sf)


def _update(connector: SalesforceConnector, obj: str, record_id: str, **values: object) -> Any:
    [result] = connector.update_records([FieldUpdate(obj, record_id, dict(values))])
    return result


def test_required_field_missing_skips_the_record(
    connector: SalesforceConnector, emulator: SalesforceEmulator
) -> None:
    contact = emulator.insert_record("Contact", {"LastName": "Kid"})

    result = _update(connector, "Contact", contact, LastName=None)

    assert (result.ok, result.code, result.tier) == (False, "REQUIRED_FIELD_MISSING", "skip")


def test_string_too_long_skips_the_record(
    connector: SalesforceConnector, emulator: SalesforceEmulator
) -> None:
    contact = emulator.insert_record("Contact", {"LastName": "Kid"})

    result = _update(connector, "Contact", contact, Title="t" * 129)

    assert (result.code, result.tier) == ("STRING_TOO_LONG", "skip")
    assert "max length=128" in result.error


def test_duplicate_value_skips_the_record(
    connector: SalesforceConnector, emulator: SalesforceEmulator
) -> None:
    emulator.insert_record("NPS_Response__c", {"Response_Id__c": "taken"})
    other = emulator.insert_record("NPS_Response__c", {"Response_Id__c": "mine"})

    result = _update(connector, "NPS_Response__c", other, Response_Id__c="TAKEN")

    assert (result.code, result.tier) == ("DUPLICATE_VALUE", "skip")


def test_a_validation_rule_skips_the_record(
    connector: SalesforceConnector, emulator: SalesforceEmulator
) -> None:
    emulator.add_validation_rule("Contact", lambda r: r["Title"] == "CEO", "No CEOs", field="Title")
    contact = emulator.insert_record("Contact", {"LastName": "Kid"})

    result = _update(connector, "Contact", contact, Title="CEO")

    assert (result.code, result.tier, result.error) == (
        "FIELD_CUSTOM_VALIDATION_EXCEPTION",
        "skip",
        "FIELD_CUSTOM_VALIDATION_EXCEPTION: No CEOs (Title)",
    )


def test_a_locked_row_is_retried(
    connector: SalesforceConnector, emulator: SalesforceEmulator
) -> None:
    contact = emulator.insert_record("Contact", {"LastName": "Kid"})
    emulator.inject(Fault("lock", count=1))

    first = _update(connector, "Contact", contact, Title="VP")
    second = _update(connector, "Contact", contact, Title="VP")

    assert (first.code, first.tier) == ("UNABLE_TO_LOCK_ROW", "retry")
    assert second.ok


def test_a_task_for_a_record_that_is_gone_skips(
    connector: SalesforceConnector, emulator: SalesforceEmulator, sobject: Api
) -> None:
    contact = sobject("Contact").create({"LastName": "Gone"})["id"]
    sobject("Contact").delete(contact)
    task = TaskSpec(
        key="k1",
        subject="Call back",
        description="",
        owner_id=emulator.default_user_id,
        due_date=date(2026, 3, 10),
        who_id=contact,
    )

    [result] = connector.create_tasks([task])

    # In the recycle bin, Salesforce names it so; a record that never was is a bad reference.
    assert (result.code, result.tier) == ("ENTITY_IS_DELETED", "skip")
    [never] = connector.create_tasks([replace(task, key="k2", who_id="003000000000000AAA")])
    assert (never.code, never.tier) == ("INVALID_CROSS_REFERENCE_KEY", "skip")


def test_single_record_errors_keep_their_tier(sobject: Api) -> None:
    with pytest.raises(SalesforceMalformedRequest) as too_long:
        sobject("Contact").create({"LastName": "x" * 81})
    with pytest.raises(SalesforceMalformedRequest) as unknown_field:
        sobject("Contact").create({"LastName": "x", "Nope__c": 1})

    assert isinstance(translate(too_long.value), RecordError)
    assert isinstance(translate(unknown_field.value), ConfigError)


# -- queues and owners ------------------------------------------------------------------------
def _task(owner_id: str, key: str = "k1", **links: str) -> TaskSpec:
    return TaskSpec(
        key=key,
        subject="Call back",
        description="",
        owner_id=owner_id,
        due_date=date(2026, 3, 10),
        **links,
    )


def test_soql_reads_queues_from_group(sf: Salesforce, emulator: SalesforceEmulator) -> None:
    rows = sf.query("SELECT Id, Name FROM Group WHERE Type = 'Queue'")["records"]
    allowed = sf.query(
        format_soql(
            "SELECT SobjectType FROM QueueSobject WHERE QueueId = {}", emulator.task_queue_id
        )
    )["records"]

    assert [(r["Id"], r["Name"]) for r in rows] == [(emulator.task_queue_id, "NPS Follow-up")]
    assert [r["SobjectType"] for r in allowed] == ["Task"]


def test_the_connector_tells_queues_and_active_users_apart(
    connector: SalesforceConnector, emulator: SalesforceEmulator
) -> None:
    team = emulator.insert_record(
        "Group", {"Name": "Team", "DeveloperName": "Team", "Type": "Regular"}
    )
    gone = emulator.insert_record(
        "User",
        {
            "Username": "gone@acme.example",
            "LastName": "Gone",
            "Email": "gone@acme.example",
            "IsActive": False,
        },
    )

    owners = connector.find_owners([emulator.task_queue_id, emulator.default_user_id, team, gone])

    assert owners == {emulator.task_queue_id: "Queue", emulator.default_user_id: "User"}


def test_a_task_queue_may_own_a_task(
    connector: SalesforceConnector, emulator: SalesforceEmulator
) -> None:
    [result] = connector.create_tasks([_task(emulator.task_queue_id)])

    assert result.ok
    [task] = emulator.records("Task")
    assert task["OwnerId"] == emulator.task_queue_id


def test_owners_that_cannot_own_a_task_are_refused(
    connector: SalesforceConnector, emulator: SalesforceEmulator
) -> None:
    team = emulator.insert_record(
        "Group", {"Name": "Team", "DeveloperName": "Team", "Type": "Regular"}
    )
    leads_only = emulator.org.add_queue("Lead pool", ("Lead",))
    gone = emulator.insert_record(
        "User",
        {
            "Username": "gone@acme.example",
            "LastName": "Gone",
            "Email": "gone@acme.example",
            "IsActive": False,
        },
    )
    missing_user = emulator.default_user_id[:3] + "0" * 12 + "AAA"

    results = connector.create_tasks(
        [
            _task(owner, key=f"k{i}")
            for i, owner in enumerate((team, leads_only, missing_user, gone))
        ]
    )

    assert [(r.code, r.tier) for r in results] == [
        ("INVALID_CROSS_REFERENCE_KEY", "skip"),
        ("INVALID_CROSS_REFERENCE_KEY", "skip"),
        ("INVALID_CROSS_REFERENCE_KEY", "skip"),
        ("INACTIVE_OWNER_OR_USER", "skip"),
    ]
    assert emulator.records("Task") == []


# -- Task fields ------------------------------------------------------------------------------
def test_task_account_comes_from_what_then_from_the_contact(
    connector: SalesforceConnector, emulator: SalesforceEmulator
) -> None:
    parent = emulator.insert_record("Account", {"Name": "Parent"})
    other = emulator.insert_record("Account", {"Name": "Other"})
    contact = emulator.insert_record("Contact", {"LastName": "Kid", "AccountId": parent})
    response = emulator.insert_record("NPS_Response__c", {"Account__c": other})
    owner = emulator.default_user_id

    connector.create_tasks(
        [
            _task(owner, key="what", what_id=other, who_id=contact),
            _task(owner, key="who", who_id=contact),
            _task(owner, key="custom", what_id=response, who_id=contact),
            _task(owner, key="none"),
        ]
    )

    accounts = {t["NPS_Sync_Key__c"]: t["AccountId"] for t in emulator.records("Task")}
    assert accounts == {"what": other, "who": parent, "custom": parent, "none": None}


def test_a_task_about_a_lead_cannot_be_related_to_a_record(
    connector: SalesforceConnector, emulator: SalesforceEmulator
) -> None:
    lead = emulator.insert_record("Lead", {"LastName": "Prospect", "Company": "Co"})
    account = emulator.insert_record("Account", {"Name": "Co"})

    related, alone = connector.create_tasks(
        [
            _task(emulator.default_user_id, key="related", who_id=lead, what_id=account),
            _task(emulator.default_user_id, key="alone", who_id=lead),
        ]
    )

    assert (related.code, related.tier) == ("FIELD_INTEGRITY_EXCEPTION", "skip")
    assert related.error == (
        "FIELD_INTEGRITY_EXCEPTION: Related To ID: id value of incorrect type: … (WhatId)"
    )
    assert alone.ok


def test_a_task_is_closed_exactly_when_its_status_is_completed(
    sobject: Api, emulator: SalesforceEmulator
) -> None:
    task = sobject("Task").create({"Subject": "s", "OwnerId": emulator.default_user_id})["id"]
    opened = sobject("Task").get(task)
    sobject("Task").update(task, {"Status": "Completed"})
    closed = sobject("Task").get(task)

    assert (opened["Status"], opened["IsClosed"], opened["Priority"]) == (
        "Not Started",
        False,
        "Normal",
    )
    assert (closed["Status"], closed["IsClosed"]) == ("Completed", True)
