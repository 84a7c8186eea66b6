"""The query resources over HTTP: pages, cursors, queryAll, and the URI and literal limits."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import requests
from simple_salesforce.api import Salesforce, SFType
from simple_salesforce.exceptions import SalesforceError, SalesforceMalformedRequest

from emulators.salesforce import SalesforceEmulator


@pytest.fixture
def accounts(emulator: SalesforceEmulator) -> list[str]:
    emulator.page_size = 10
    return [emulator.insert_record("Account", {"Name": f"Account {i:03d}"}) for i in range(25)]


def test_query_returns_the_first_page_and_a_next_records_path(
    sf: Salesforce, accounts: list[str]
) -> None:
    page = sf.query("SELECT Id FROM Account ORDER BY Name")
    assert page["totalSize"] == 25
    assert page["done"] is False
    assert len(page["records"]) == 10
    assert re.fullmatch(r"/services/data/v59\.0/query/01g\w{15}-10", page["nextRecordsUrl"])
    assert list(page) == ["totalSize", "done", "nextRecordsUrl", "records"]


def test_query_more_walks_the_pages_in_order(sf: Salesforce, accounts: list[str]) -> None:
    page = sf.query("SELECT Id FROM Account ORDER BY Name")
    seen = [r["Id"] for r in page["records"]]
    while not page["done"]:
        page = sf.query_more(page["nextRecordsUrl"], identifier_is_url=True)
        assert page["totalSize"] == 25
        seen += [r["Id"] for r in page["records"]]
    assert seen == accounts
    assert "nextRecordsUrl" not in page


def test_query_more_accepts_the_bare_locator(sf: Salesforce, accounts: list[str]) -> None:
    first = sf.query("SELECT Id FROM Account ORDER BY Name")
    locator = first["nextRecordsUrl"].rsplit("/", 1)[1]
    second = sf.query_more(locator)
    assert [r["Id"] for r in second["records"]] == accounts[10:20]


def test_query_all_collects_every_page(sf: Salesforce, accounts: list[str]) -> None:
    result = sf.query_all("SELECT Id, Name FROM Account")
    assert [r["Id"] for r in result["records"]] == accounts
    assert result["totalSize"] == 25


def test_unknown_locator_is_invalid_query_locator(
    sf: Salesforce, error_array: Callable[[BaseException], list[dict[str, Any]]]
) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query_more("01g8x0000000zzzAAA-2000")
    assert error_array(caught.value)[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


def test_default_page_size_is_2000(emulator: SalesforceEmulator, sf: Salesforce) -> None:
    for i in range(2001):
        emulator.insert_record("Task", {"Subject": f"t{i}"})
    page = sf.query("SELECT Id FROM Task")
    assert (len(page["records"]), page["done"]) == (2000, False)
    assert page["nextRecordsUrl"].endswith("-2000")


def test_query_all_rows_includes_deleted_records(
    sf: Salesforce, accounts: list[str], sobject: Callable[[str], SFType]
) -> None:
    sobject("Account").delete(accounts[0])
    soql = "SELECT Id, IsDeleted FROM Account WHERE Name = 'Account 000'"
    assert sf.query(soql)["records"] == []
    [deleted] = sf.query(soql, include_deleted=True)["records"]
    assert (deleted["Id"], deleted["IsDeleted"]) == (accounts[0], True)


def test_a_uri_over_16384_bytes_is_refused_with_414(sf: Salesforce) -> None:
    values = ", ".join(f"'{i:05d}@example.com'" for i in range(900))
    soql = f"SELECT Id FROM Contact WHERE Email IN ({values})"  # noqa: S608 - generated literals
    with pytest.raises(SalesforceError) as caught:
        sf.query(soql)
    assert caught.value.status == 414


def test_a_long_uri_under_the_limit_is_fine(sf: Salesforce) -> None:
    values = ", ".join(f"'{i:05d}@example.com'" for i in range(400))
    soql = f"SELECT Id FROM Contact WHERE Email IN ({values})"  # noqa: S608 - generated literals
    assert sf.query(soql)["totalSize"] == 0


def test_a_string_literal_over_4000_characters_is_malformed(
    sf: Salesforce, error_array: Callable[[BaseException], list[dict[str, Any]]]
) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query("SELECT Id FROM Contact WHERE Email = '" + "x" * 4001 + "'")
    assert error_array(caught.value)[0]["errorCode"] == "MALFORMED_QUERY"


def test_unknown_object_error_body_matches_salesforce(
    sf: Salesforce, error_array: Callable[[BaseException], list[dict[str, Any]]]
) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query("select count() from XYZZY")
    [error] = error_array(caught.value)
    assert error == {
        "message": "\nselect count() from XYZZY\n                    ^\nERROR at Row:1:Column:21\n"
        "sObject type 'XYZZY' is not supported. If you are attempting to use a custom object, "
        "be sure to append the '__c' after the entity name. Please reference your WSDL or the "
        "describe call for the appropriate names.",
        "errorCode": "INVALID_TYPE",
    }


def test_missing_q_parameter_is_malformed(
    http: requests.Session, emulator: SalesforceEmulator
) -> None:
    answer = http.get(
        f"{emulator.instance_url}/services/data/v59.0/query/",
        headers={"Authorization": f"Bearer {emulator.issue_session()}"},
    )
    assert answer.status_code == 400
    assert answer.json()[0]["errorCode"] == "MALFORMED_QUERY"


def test_any_api_version_is_accepted(emulator: SalesforceEmulator, http: requests.Session) -> None:
    emulator.insert_record("Account", {"Name": "Versioned"})
    old = Salesforce(
        instance_url=emulator.instance_url,
        session_id=emulator.issue_session(),
        session=http,
        version="42.0",
    )
    [record] = old.query("SELECT Id FROM Account")["records"]
    assert record["attributes"]["url"].startswith("/services/data/v42.0/sobjects/Account/")
