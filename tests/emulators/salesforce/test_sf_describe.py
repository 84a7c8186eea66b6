"""Describe answers: the fields the product reads, with the properties that drive validation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from simple_salesforce.api import Salesforce, SFType

from emulators.salesforce import SalesforceEmulator

REQUIRED_FIELD_KEYS = {
    "name",
    "label",
    "type",
    "length",
    "updateable",
    "createable",
    "nillable",
    "filterable",
    "externalId",
    "custom",
    "picklistValues",
    "referenceTo",
    "relationshipName",
}


Api = Callable[[str], SFType]


def fields_of(sobject: Api, name: str) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in sobject(name).describe()["fields"]}


def test_global_describe_lists_the_objects_with_key_prefixes(sf: Salesforce) -> None:
    described = sf.describe()
    assert described is not None
    assert (described["encoding"], described["maxBatchSize"]) == ("UTF-8", 200)
    prefixes = {o["name"]: o["keyPrefix"] for o in described["sobjects"]}
    assert prefixes == {
        "User": "005",
        "Group": "00G",
        "QueueSobject": "03g",
        "Account": "001",
        "Contact": "003",
        "Lead": "00Q",
        "Opportunity": "006",
        "Task": "00T",
        "NPS_Response__c": "a0X",
    }


@pytest.mark.parametrize(
    "sobject_name", ["User", "Account", "Contact", "Lead", "Opportunity", "Task", "NPS_Response__c"]
)
def test_every_field_has_the_keys_callers_rely_on(sobject: Api, sobject_name: str) -> None:
    described = sobject(sobject_name).describe()
    assert described["name"] == sobject_name
    for field in described["fields"]:
        assert set(field) >= REQUIRED_FIELD_KEYS, field["name"]


@pytest.mark.parametrize(
    ("sobject_name", "field", "expected"),
    [
        ("Account", "Tier__c", {"type": "picklist", "custom": True, "restrictedPicklist": False}),
        ("Account", "ARR__c", {"type": "currency", "precision": 18, "scale": 2}),
        ("Account", "Email_Domain__c", {"type": "string", "length": 255}),
        (
            "Account",
            "OwnerId",
            {"type": "reference", "referenceTo": ["User"], "relationshipName": "Owner"},
        ),
        ("Account", "Name", {"nillable": False, "createable": True, "nameField": True}),
        ("Contact", "NPS_Category__c", {"type": "picklist", "restrictedPicklist": True}),
        ("Contact", "NPS_Last_Comment__c", {"type": "textarea", "length": 1000}),
        ("Contact", "Email", {"type": "email", "idLookup": True, "externalId": False}),
        (
            "Contact",
            "Name",
            {"createable": False, "updateable": False, "extraTypeInfo": "personname"},
        ),
        ("Contact", "AccountId", {"referenceTo": ["Account"], "relationshipName": "Account"}),
        (
            "Task",
            "NPS_Sync_Key__c",
            {
                "type": "string",
                "length": 80,
                "filterable": True,
                "externalId": False,
                "unique": False,
            },
        ),
        ("Task", "WhoId", {"referenceTo": ["Contact", "Lead"], "polymorphicForeignKey": True}),
        ("Task", "Description", {"filterable": False, "sortable": False}),
        ("NPS_Response__c", "Response_Id__c", {"externalId": True, "unique": True}),
        (
            "NPS_Response__c",
            "Contact__c",
            {"referenceTo": ["Contact"], "relationshipName": "Contact__r"},
        ),
        ("NPS_Response__c", "Responded_At__c", {"type": "datetime", "soapType": "xsd:dateTime"}),
        ("Lead", "Status", {"defaultedOnCreate": True, "nillable": False}),
        ("User", "ManagerId", {"referenceTo": ["User"], "relationshipName": "Manager"}),
    ],
)
def test_field_properties(
    sobject: Api, sobject_name: str, field: str, expected: dict[str, Any]
) -> None:
    described = fields_of(sobject, sobject_name)[field]
    assert {key: described[key] for key in expected} == expected


def test_picklist_values_carry_the_default(sobject: Api) -> None:
    status = fields_of(sobject, "Task")["Status"]
    defaults = [p["value"] for p in status["picklistValues"] if p["defaultValue"]]
    assert defaults == ["Not Started"]
    assert all(
        set(p) == {"active", "defaultValue", "label", "validFor", "value"}
        for p in status["picklistValues"]
    )


def test_describe_follows_org_changes(sobject: Api, emulator: SalesforceEmulator) -> None:
    emulator.set_field_updateable("Contact", "NPS_Last_Score__c", False)
    emulator.remove_field("Contact", "NPS_Previous_Score__c")
    fields = fields_of(sobject, "Contact")
    assert fields["NPS_Last_Score__c"]["updateable"] is False
    assert "NPS_Previous_Score__c" not in fields


def test_child_relationships_and_basic_info(sobject: Api) -> None:
    described = sobject("Account").describe()
    children = {
        (c["childSObject"], c["field"]): c["relationshipName"]
        for c in described["childRelationships"]
    }
    assert children[("Contact", "AccountId")] == "Contacts"
    assert children[("NPS_Response__c", "Account__c")] == "NPS_Responses__r"
    info = sobject("Account").metadata()
    assert info["objectDescribe"]["keyPrefix"] == "001"
    assert info["recentItems"] == []
