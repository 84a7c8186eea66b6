"""SOQL semantics against a small known org: filters, nulls, case, dates, ordering, errors."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from emulators.salesforce import SalesforceEmulator
from emulators.salesforce.errors import ApiError

NOW = datetime(2025, 6, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def org() -> SalesforceEmulator:
    emulator = SalesforceEmulator()
    emulator.clock = lambda: NOW
    owner = emulator.insert_record(
        "User",
        {"Username": "owner@acme.example", "LastName": "Owner", "Email": "Owner@Acme.example"},
    )
    acme = emulator.insert_record(
        "Account",
        {
            "Name": "Acme",
            "OwnerId": owner,
            "Tier__c": "Enterprise",
            "ARR__c": 500_000.0,
            "Industry": "Software",
            "Renewal_Date__c": date(2025, 1, 15),
        },
    )
    beta = emulator.insert_record(
        "Account", {"Name": "beta corp", "Tier__c": "SMB", "ARR__c": 10_000.0}
    )
    emulator.insert_record("Account", {"Name": "Gamma", "Tier__c": "Mid-Market"})
    contacts: list[dict[str, Any]] = [
        {"FirstName": "Alice", "LastName": "Smith", "Email": "alice@acme.com", "AccountId": acme},
        {"FirstName": "bob", "LastName": "Jones", "Email": "BOB@Beta.com", "AccountId": beta},
        {"FirstName": "Carol", "LastName": "Null"},
        {"FirstName": "Dan", "LastName": "Under", "Email": "d_an%@x.com", "AccountId": acme},
    ]
    for fields in contacts:
        emulator.insert_record("Contact", fields)
    for subject, day in [
        ("today", date(2025, 6, 15)),
        ("yesterday", date(2025, 6, 14)),
        ("ten days ago", date(2025, 6, 5)),
        ("tomorrow", date(2025, 6, 16)),
        ("undated", None),
    ]:
        emulator.insert_record("Task", {"Subject": subject, "ActivityDate": day})
    return emulator


def names(org: SalesforceEmulator, soql: str, key: str = "LastName") -> list[Any]:
    return [record[key] for record in org.query(soql)["records"]]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("Email = 'ALICE@acme.com'", ["Smith"]),
        ("Email = 'bob@beta.com'", ["Jones"]),
        ("Email != 'alice@acme.com'", ["Jones", "Null", "Under"]),
        ("Email <> null", ["Smith", "Jones", "Under"]),
        ("Email = null", ["Null"]),
        ("Email IN ('alice@ACME.com', 'nobody@x.com')", ["Smith"]),
        ("Email IN ('bob@beta.com', null)", ["Jones", "Null"]),
        ("Email NOT IN ('alice@acme.com')", ["Jones", "Null", "Under"]),
        ("Email LIKE '%@acme.com'", ["Smith"]),
        ("Email LIKE 'B_B@%'", ["Jones"]),
        ("Email LIKE 'd\\_an\\%@%'", ["Under"]),
        ("Email LIKE '_\\_an%'", ["Under"]),
        ("NOT Email LIKE '%@acme.com'", ["Jones", "Null", "Under"]),
        ("FirstName = 'Bob' AND LastName = 'jones'", ["Jones"]),
        ("FirstName = 'Alice' OR FirstName = 'Carol'", ["Smith", "Null"]),
        ("(FirstName = 'Alice' OR FirstName = 'Dan') AND Email LIKE '%x.com'", ["Under"]),
        ("NOT (FirstName = 'Alice' OR FirstName = 'Dan')", ["Jones", "Null"]),
        ("Account.Name = 'ACME'", ["Smith", "Under"]),
        ("Account.Tier__c != 'Enterprise'", ["Jones", "Null"]),
        ("Account.Owner.Email = 'owner@acme.example'", ["Smith", "Under"]),
        ("Account.ARR__c > 100000", ["Smith", "Under"]),
        ("Account.ARR__c <= 10000", ["Jones"]),
        ("LastName > 'm'", ["Smith", "Null", "Under"]),
        ("LastName >= 'Null' AND LastName < 'smith'", ["Null"]),
        ("Contact.LastName = 'Smith'", ["Smith"]),
    ],
)
def test_where_clause_filters(org: SalesforceEmulator, where: str, expected: list[str]) -> None:
    assert names(org, f"SELECT LastName FROM Contact WHERE {where}") == expected  # noqa: S608 - fixed SOQL fragments from the test table


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("ActivityDate = TODAY", ["today"]),
        ("ActivityDate = YESTERDAY", ["yesterday"]),
        ("ActivityDate = TOMORROW", ["tomorrow"]),
        ("ActivityDate < TODAY", ["yesterday", "ten days ago"]),
        ("ActivityDate > TODAY", ["tomorrow"]),
        ("ActivityDate = LAST_N_DAYS:7", ["today", "yesterday"]),
        ("ActivityDate = LAST_N_DAYS:10", ["today", "yesterday", "ten days ago"]),
        ("ActivityDate = NEXT_N_DAYS:3", ["tomorrow"]),
        ("ActivityDate = N_DAYS_AGO:10", ["ten days ago"]),
        ("ActivityDate >= 2025-06-14", ["today", "yesterday", "tomorrow"]),
        ("ActivityDate = 2025-06-05", ["ten days ago"]),
        ("ActivityDate != 2025-06-05", ["today", "yesterday", "tomorrow", "undated"]),
        ("ActivityDate = null", ["undated"]),
        ("CreatedDate = TODAY", ["today", "yesterday", "ten days ago", "tomorrow", "undated"]),
        (
            "CreatedDate > 2025-06-15T11:59:59Z",
            ["today", "yesterday", "ten days ago", "tomorrow", "undated"],
        ),
        ("CreatedDate > 2025-06-15T12:00:00+00:00", []),
        ("CreatedDate < 2025-06-15T13:00:00+01:00", []),
        ("IsClosed = false AND Subject LIKE 't%'", ["today", "ten days ago", "tomorrow"]),
    ],
)
def test_date_and_boolean_filters(org: SalesforceEmulator, where: str, expected: list[str]) -> None:
    assert names(org, f"SELECT Subject FROM Task WHERE {where}", "Subject") == expected  # noqa: S608 - fixed SOQL fragments from the test table


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("Email", ["Null", "Smith", "Jones", "Under"]),
        ("Email NULLS LAST", ["Smith", "Jones", "Under", "Null"]),
        ("Email DESC", ["Null", "Under", "Jones", "Smith"]),
        ("Email DESC NULLS LAST", ["Under", "Jones", "Smith", "Null"]),
        ("Email DESC NULLS FIRST", ["Null", "Under", "Jones", "Smith"]),
        ("Account.Name, LastName DESC", ["Null", "Under", "Smith", "Jones"]),
        ("FirstName", ["Smith", "Jones", "Null", "Under"]),
    ],
)
def test_order_by_with_nulls_and_case_insensitive_text(
    org: SalesforceEmulator, order: str, expected: list[str]
) -> None:
    assert names(org, f"SELECT LastName FROM Contact ORDER BY {order}") == expected  # noqa: S608 - fixed SOQL fragments from the test table


def test_limit_offset_and_count(org: SalesforceEmulator) -> None:
    soql = "SELECT LastName FROM Contact ORDER BY LastName LIMIT 2 OFFSET 1"
    assert names(org, soql) == ["Null", "Smith"]
    counted = org.query("SELECT COUNT() FROM Contact WHERE Email != null")
    assert (counted["totalSize"], counted["records"]) == (3, [])
    assert org.query("SELECT COUNT() FROM Contact LIMIT 2")["totalSize"] == 2


def test_relationship_fields_nest_with_attributes_or_null(org: SalesforceEmulator) -> None:
    soql = (
        "SELECT Id, Email, Account.Name, Account.Owner.Email, Account.Id FROM Contact "
        "WHERE LastName IN ('Smith', 'Null') ORDER BY LastName DESC"
    )
    smith, null = org.query(soql)["records"]
    assert smith["attributes"] == {
        "type": "Contact",
        "url": f"/services/data/v59.0/sobjects/Contact/{smith['Id']}",
    }
    account = smith["Account"]
    assert account["attributes"]["type"] == "Account"
    assert account["Name"] == "Acme"
    assert account["Owner"]["attributes"]["type"] == "User"
    assert account["Owner"]["Email"] == "Owner@Acme.example"
    assert list(account) == ["attributes", "Name", "Owner", "Id"]
    assert null["Account"] is None
    assert list(null) == ["attributes", "Id", "Email", "Account"]


def test_field_names_are_case_insensitive_and_answers_use_api_names(
    org: SalesforceEmulator,
) -> None:
    [record] = org.query(
        "select lastname, ACCOUNT.tier__C from contact where email = 'alice@acme.com'"
    )["records"]
    assert record["LastName"] == "Smith"
    assert record["Account"]["Tier__c"] == "Enterprise"


def test_values_render_as_the_rest_api_does(org: SalesforceEmulator) -> None:
    [account] = org.query(
        "SELECT ARR__c, Renewal_Date__c, CreatedDate, Industry FROM Account WHERE Name = 'Acme'"
    )["records"]
    assert account["ARR__c"] == 500000.0
    assert account["Renewal_Date__c"] == "2025-01-15"
    assert account["CreatedDate"] == "2025-06-15T12:00:00.000+0000"


def test_queryall_includes_deleted_records(org: SalesforceEmulator) -> None:
    [gamma] = org.query("SELECT Id FROM Account WHERE Name = 'Gamma'")["records"]
    org.org.writer.delete(
        org.org.store, org.org.schema.require("Account"), gamma["Id"], user_id=org.default_user_id
    )
    soql = "SELECT Name, IsDeleted FROM Account WHERE Name = 'Gamma'"
    assert org.query(soql)["records"] == []
    [deleted] = org.query(soql, include_deleted=True)["records"]
    assert deleted["IsDeleted"] is True


@pytest.mark.parametrize(
    ("soql", "code", "message"),
    [
        ("SELECT Id FROM Contacts", "INVALID_TYPE", "sObject type 'Contacts' is not supported"),
        (
            "SELECT Emial FROM Contact",
            "INVALID_FIELD",
            "No such column 'Emial' on entity 'Contact'",
        ),
        (
            "SELECT Account.Nme FROM Contact",
            "INVALID_FIELD",
            "No such column 'Nme' on entity 'Account'",
        ),
        (
            "SELECT Acount.Name FROM Contact",
            "INVALID_FIELD",
            "Didn't understand relationship 'Acount'",
        ),
        ("SELECT Id FROM Contact WHERE Foo = 'x'", "INVALID_FIELD", "No such column 'Foo'"),
        ("SELECT Id, id FROM Contact", "MALFORMED_QUERY", "duplicate field selected: Id"),
        (
            "SELECT Id FROM Contact WHERE Email = 5",
            "MALFORMED_QUERY",
            "must be of type email and should be enclosed in quotes",
        ),
        (
            "SELECT Id FROM Account WHERE ARR__c = '5'",
            "MALFORMED_QUERY",
            "must be of type currency and should not be enclosed in quotes",
        ),
        (
            "SELECT Id FROM Task WHERE ActivityDate = '2025-01-01'",
            "MALFORMED_QUERY",
            "must be of type date",
        ),
        (
            "SELECT Id FROM Task WHERE CreatedDate = 2025-01-01",
            "MALFORMED_QUERY",
            "must be of type dateTime",
        ),
        (
            "SELECT Id FROM Contact WHERE Id = 'not-an-id'",
            "INVALID_QUERY_FILTER_OPERATOR",
            "invalid ID field: not-an-id",
        ),
        (
            "SELECT Id FROM Contact WHERE AccountId IN ('001')",
            "INVALID_QUERY_FILTER_OPERATOR",
            "invalid ID field: 001",
        ),
        (
            "SELECT Id FROM Contact WHERE Email = 'a\\_b'",
            "MALFORMED_QUERY",
            "only allowed in a LIKE pattern",
        ),
        ("SELECT Id FROM Contact WHERE Description = 'x'", "INVALID_FIELD", "can not be filtered"),
        ("SELECT Id FROM Contact ORDER BY Description", "INVALID_FIELD", "can not be sorted"),
        ("SELECT Id FROM Account WHERE ARR__c LIKE '5%'", "INVALID_FIELD", "invalid operator"),
        (
            "SELECT Id FROM Contact WHERE HasOptedOutOfEmail > true",
            "MALFORMED_QUERY",
            "invalid operator",
        ),
        ("SELECT Id FROM Contact OFFSET 2001", "NUMBER_OUTSIDE_VALID_RANGE", "2000"),
    ],
)
def test_invalid_queries_fail_with_salesforce_codes(
    org: SalesforceEmulator, soql: str, code: str, message: str
) -> None:
    with pytest.raises(ApiError) as caught:
        org.query(soql)
    assert caught.value.status == 400
    assert caught.value.code == code
    assert message in caught.value.message
    assert "ERROR at Row:1:Column:" in caught.value.message


def test_ids_match_in_15_and_18_character_forms(org: SalesforceEmulator) -> None:
    [smith] = org.query("SELECT Id FROM Contact WHERE LastName = 'Smith'")["records"]
    full = smith["Id"]
    for form in (full, full[:15], full[:15] + full[15:].lower()):
        assert names(org, f"SELECT LastName FROM Contact WHERE Id = '{form}'") == ["Smith"]  # noqa: S608 - fixed SOQL fragments from the test table
