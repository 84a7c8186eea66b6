"""Single-record resources through simple-salesforce: CRUD, upsert, validation, audit fields."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
import requests
from simple_salesforce.api import Salesforce, SFType
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceResourceNotFound,
)
from simple_salesforce.format import format_external_id

from emulators.salesforce import SalesforceEmulator

Api = Callable[[str], SFType]


def only_error(caught: pytest.ExceptionInfo[SalesforceError]) -> dict[str, Any]:
    """The single error of a Salesforce error array (the client annotates it as bytes)."""
    [error] = cast(list[dict[str, Any]], caught.value.content)
    return error


def test_create_get_update_delete_round_trip(sobject: Api, emulator: SalesforceEmulator) -> None:
    contacts = sobject("Contact")
    created = contacts.create({"FirstName": "Ada", "LastName": "Lovelace", "Email": "ada@x.io"})
    assert list(created) == ["id", "success", "errors"]
    assert created["id"].startswith("003")
    assert len(created["id"]) == 18
    record = contacts.get(created["id"])
    assert record["attributes"] == {
        "type": "Contact",
        "url": f"/services/data/v59.0/sobjects/Contact/{created['id']}",
    }
    assert (record["Name"], record["OwnerId"]) == ("Ada Lovelace", emulator.default_user_id)
    assert contacts.update(created["id"], {"Title": "Countess"}) == 204
    assert emulator.get_record("Contact", created["id"])["Title"] == "Countess"  # type: ignore[index]
    assert contacts.delete(created["id"]) == 204
    with pytest.raises(SalesforceResourceNotFound) as caught:
        contacts.get(created["id"])
    assert only_error(caught)["errorCode"] == "ENTITY_IS_DELETED"


def test_get_with_a_field_list(sobject: Api) -> None:
    created = sobject("Account").create({"Name": "Fields Inc", "Tier__c": "SMB"})
    record = sobject("Account").get(created["id"], params={"fields": "Name,tier__c"})
    assert list(record) == ["attributes", "Name", "Tier__c"]


def test_audit_fields_are_maintained(sobject: Api, emulator: SalesforceEmulator) -> None:
    moments = iter([datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=m) for m in range(10)])
    emulator.clock = lambda: next(moments)
    created = sobject("Account").create({"Name": "Timed"})
    sobject("Account").update(created["id"], {"Name": "Timed 2"})
    record = sobject("Account").get(created["id"])
    assert record["CreatedDate"] == "2025-01-01T00:00:00.000+0000"
    assert record["LastModifiedDate"] == "2025-01-01T00:01:00.000+0000"
    assert record["SystemModstamp"] == record["LastModifiedDate"]
    assert record["CreatedById"] == record["LastModifiedById"] == emulator.default_user_id


@pytest.mark.parametrize(
    ("sobject_name", "body", "code", "fields"),
    [
        ("Contact", {"LastName": "x", "Emial": "a@b.co"}, "INVALID_FIELD", None),
        (
            "Contact",
            {"LastName": "x", "Name": "Full"},
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            ["Name"],
        ),
        (
            "Contact",
            {"LastName": "x", "CreatedDate": "2024-01-01T00:00:00Z"},
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            ["CreatedDate"],
        ),
        ("Contact", {"FirstName": "No last name"}, "REQUIRED_FIELD_MISSING", ["LastName"]),
        (
            "Contact",
            {"LastName": "x", "NPS_Category__c": "Promoter"},
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            ["NPS_Category__c"],
        ),
        (
            "Contact",
            {"LastName": "x", "NPS_Last_Comment__c": "y" * 1001},
            "STRING_TOO_LONG",
            ["NPS_Last_Comment__c"],
        ),
        ("Contact", {"LastName": "x", "Email": "not an email"}, "INVALID_EMAIL_ADDRESS", ["Email"]),
        ("Contact", {"LastName": "x", "AccountId": "nope"}, "MALFORMED_ID", ["AccountId"]),
        (
            "Contact",
            {"LastName": "x", "AccountId": "003000000000001AAA"},
            "FIELD_INTEGRITY_EXCEPTION",
            ["AccountId"],
        ),
        (
            "Contact",
            {"LastName": "x", "AccountId": "001000000000001AAA"},
            "INVALID_CROSS_REFERENCE_KEY",
            ["AccountId"],
        ),
        ("Contact", {"LastName": "x", "NPS_Last_Score__c": "ten"}, "JSON_PARSER_ERROR", None),
        (
            "Contact",
            {"LastName": "x", "NPS_Last_Score__c": 100},
            "NUMBER_OUTSIDE_VALID_RANGE",
            ["NPS_Last_Score__c"],
        ),
        ("Task", {"ActivityDate": "2025-13-01"}, "JSON_PARSER_ERROR", None),
        (
            "Account",
            {"Name": "x", "Id": "001000000000001AAA"},
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            ["Id"],
        ),
    ],
)
def test_create_rejects_bad_records(
    sobject: Api, sobject_name: str, body: dict[str, Any], code: str, fields: list[str] | None
) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sobject(sobject_name).create(body)
    error = only_error(caught)
    assert error["errorCode"] == code
    assert error.get("fields") == fields


def test_field_names_in_bodies_are_case_insensitive(sobject: Api) -> None:
    created = sobject("Contact").create({"lastname": "Lower", "EMAIL": "l@x.io"})
    record = sobject("Contact").get(created["id"])
    assert (record["LastName"], record["Email"]) == ("Lower", "l@x.io")


def test_misconfigured_org_switches(
    sf: Salesforce, sobject: Api, emulator: SalesforceEmulator
) -> None:
    account = sobject("Account").create({"Name": "Conf"})["id"]
    emulator.set_field_updateable("Account", "NPS_Score__c", False)
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sobject("Account").update(account, {"NPS_Score__c": 42})
    assert only_error(caught)["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    emulator.remove_field("Account", "NPS_Trend__c")
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sobject("Account").update(account, {"NPS_Trend__c": 1.5})
    assert only_error(caught)["errorCode"] == "INVALID_FIELD"
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query("SELECT NPS_Trend__c FROM Account")
    assert only_error(caught)["errorCode"] == "INVALID_FIELD"
    names = [f["name"] for f in sobject("Account").describe()["fields"]]
    assert "NPS_Trend__c" not in names


def test_validation_rules_reject_single_writes(sobject: Api, emulator: SalesforceEmulator) -> None:
    emulator.add_validation_rule(
        "Task", lambda r: r["Subject"] == "forbidden", "Subject not allowed", field="Subject"
    )
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sobject("Task").create({"Subject": "forbidden"})
    assert only_error(caught) == {
        "message": "Subject not allowed",
        "errorCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
        "fields": ["Subject"],
    }
    assert sobject("Task").create({"Subject": "fine"})["success"] is True


def test_unknown_ids_and_types(sobject: Api) -> None:
    with pytest.raises(SalesforceResourceNotFound) as caught:
        sobject("Account").get("001000000000001AAA")
    assert only_error(caught) == {
        "message": "The requested resource does not exist",
        "errorCode": "NOT_FOUND",
    }
    with pytest.raises(SalesforceResourceNotFound):
        sobject("Account").get("garbage")
    with pytest.raises(SalesforceResourceNotFound):
        sobject("Foo").describe()


def test_upsert_by_external_id_creates_then_updates(
    sobject: Api, emulator: SalesforceEmulator
) -> None:
    responses = sobject("NPS_Response__c")
    key = format_external_id("Response_Id__c", "resp/1&x?")
    response = responses.upsert(key, {"Score__c": 9}, raw_response=True)
    assert response.status_code == 201
    body = response.json()
    assert body["created"] is True
    assert body["success"] is True
    again = responses.upsert(key, {"Score__c": 3}, raw_response=True)
    assert again.status_code == 200
    assert again.json() == {"id": body["id"], "success": True, "errors": [], "created": False}
    [record] = emulator.records("NPS_Response__c")
    assert (record["Response_Id__c"], record["Score__c"]) == ("resp/1&x?", 3.0)
    assert record["Name"] == "A0X-000001"
    fetched = responses.get_by_custom_id("Response_Id__c", "RESP/1&X?")
    assert fetched["Id"] == body["id"]


def test_upsert_answers_204_before_api_46(
    emulator: SalesforceEmulator, http: requests.Session
) -> None:
    old = Salesforce(
        instance_url=emulator.instance_url,
        session_id=emulator.issue_session(),
        session=http,
        version="45.0",
    )
    responses = cast(SFType, old.NPS_Response__c)
    assert responses.upsert("Response_Id__c/r1", {"Score__c": 1}) == 201
    assert responses.upsert("Response_Id__c/r1", {"Score__c": 2}) == 204


def test_upsert_on_an_ambiguous_key_answers_300(sobject: Api, emulator: SalesforceEmulator) -> None:
    first = emulator.insert_record("Contact", {"LastName": "A", "Email": "same@x.io"})
    second = emulator.insert_record("Contact", {"LastName": "B", "Email": "SAME@x.io"})
    with pytest.raises(SalesforceMoreThanOneRecord) as caught:
        sobject("Contact").upsert("Email/same@x.io", {"Title": "t"})
    assert cast(list[str], caught.value.content) == [
        f"/services/data/v59.0/sobjects/Contact/{first}",
        f"/services/data/v59.0/sobjects/Contact/{second}",
    ]


def test_upsert_on_an_unknown_or_unindexed_field(sobject: Api) -> None:
    with pytest.raises(SalesforceResourceNotFound) as caught:
        sobject("Contact").upsert("Nope__c/1", {"LastName": "x"})
    assert only_error(caught)["errorCode"] == "NOT_FOUND"
    with pytest.raises(SalesforceMalformedRequest):
        sobject("Task").upsert("NPS_Sync_Key__c/k1", {"Subject": "not an external id"})


def test_unique_external_ids_reject_duplicates(sobject: Api) -> None:
    sobject("NPS_Response__c").create({"Response_Id__c": "dup"})
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sobject("NPS_Response__c").create({"Response_Id__c": "DUP"})
    assert only_error(caught)["errorCode"] == "DUPLICATE_VALUE"


def test_task_derived_fields(sf: Salesforce, sobject: Api) -> None:
    account = sobject("Account").create({"Name": "Parent"})["id"]
    contact = sobject("Contact").create({"LastName": "Kid", "AccountId": account})["id"]
    task = sobject("Task").create({"Subject": "Call", "WhoId": contact, "Status": "Completed"})
    record = sobject("Task").get(task["id"])
    assert (record["AccountId"], record["IsClosed"], record["Priority"]) == (
        account,
        True,
        "Normal",
    )
    soql = f"SELECT Who.Name, What.Name FROM Task WHERE Id = '{task['id']}'"  # noqa: S608 - our id
    [row] = sf.query(soql)["records"]
    assert row["Who"]["attributes"]["type"] == "Contact"
    assert row["Who"]["Name"] == "Kid"
    assert row["What"] is None


def test_record_count_and_method_not_allowed(
    sf: Salesforce, sobject: Api, http: requests.Session, emulator: SalesforceEmulator
) -> None:
    sobject("Account").create({"Name": "Counted"})
    counts = sf.restful("limits/recordCount", params={"sObjects": "Account,Contact"})
    assert counts == {
        "sObjects": [{"count": 1, "name": "Account"}, {"count": 0, "name": "Contact"}]
    }
    answer = http.put(
        f"{emulator.instance_url}/services/data/v59.0/sobjects/Account/",
        headers={"Authorization": f"Bearer {emulator.issue_session()}"},
    )
    assert answer.status_code == 405
    assert answer.json()[0]["errorCode"] == "METHOD_NOT_ALLOWED"
