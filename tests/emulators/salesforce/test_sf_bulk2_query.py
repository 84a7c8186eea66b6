"""Bulk API 2.0 query jobs through simple-salesforce's ``sf.bulk2.<Object>.query`` and raw calls
on the client's session: states, CSV pages with their locator headers, failure, abort, delete."""

from __future__ import annotations

import csv
import io
from typing import Any, cast

import pytest
import requests
from simple_salesforce.api import Salesforce
from simple_salesforce.bulk2 import SFBulk2Type
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceOperationError

from emulators.salesforce import SalesforceEmulator


def bulk2(sf: Salesforce, sobject: str) -> SFBulk2Type:
    return cast(SFBulk2Type, getattr(sf.bulk2, sobject))


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def call(sf: Salesforce, method: str, path: str, **kwargs: Any) -> requests.Response:
    return sf.session.request(method, f"{sf.base_url}{path}", headers=sf.headers, **kwargs)


@pytest.fixture
def accounts(emulator: SalesforceEmulator) -> list[str]:
    owner = emulator.default_user_id
    made = [
        emulator.insert_record(
            "Account", {"Name": f"Acct {i:02d}", "OwnerId": owner, "ARR__c": 1000.5 * i or None}
        )
        for i in range(5)
    ]
    emulator.insert_record("Contact", {"LastName": "Quote", "Title": 'say "hi", ok'})
    return made


def test_query_pages_through_csv_with_the_unmodified_client(
    sf: Salesforce, emulator: SalesforceEmulator, accounts: list[str]
) -> None:
    soql = "SELECT Id, Name, ARR__c, Owner.Email FROM Account WHERE Name LIKE 'Acct%' ORDER BY Name"
    pages = list(bulk2(sf, "Account").query(soql, max_records=2, wait=0))

    assert len(pages) == 3
    found = [row for page in pages for row in rows(str(page))]
    assert [r["Id"] for r in found] == accounts
    assert list(found[0]) == ["Id", "Name", "ARR__c", "Owner.Email"]
    assert (found[0]["ARR__c"], found[1]["ARR__c"]) == ("", "1000.5")
    owner = emulator.get_record("User", emulator.default_user_id)
    assert owner is not None
    assert {r["Owner.Email"] for r in found} == {owner["Email"]}
    # One create, polls until JobComplete, one results call per page: no per-record calls.
    assert emulator.calls["bulk2_query_results"] == 3
    assert emulator.calls["query"] == 0


def test_job_states_and_the_results_headers(
    sf: Salesforce, emulator: SalesforceEmulator, accounts: list[str]
) -> None:
    emulator.bulk_polls_to_complete = 2
    created = call(
        sf, "POST", "jobs/query", json={"operation": "query", "query": "SELECT Id FROM Account"}
    )
    assert created.status_code == 200
    job = created.json()
    assert (job["state"], job["operation"], job["object"]) == ("UploadComplete", "query", "Account")
    assert job["id"].startswith("750")

    early = call(sf, "GET", f"jobs/query/{job['id']}/results")
    assert early.status_code == 400
    assert early.json()[0]["errorCode"] == "INVALIDJOBSTATE"
    states = [call(sf, "GET", f"jobs/query/{job['id']}").json()["state"] for _ in range(2)]
    assert states == ["InProgress", "JobComplete"]

    first = call(sf, "GET", f"jobs/query/{job['id']}/results", params={"maxRecords": 3})
    assert first.headers["Content-Type"].startswith("text/csv")
    assert first.headers["Sforce-NumberOfRecords"] == "3"
    locator = first.headers["Sforce-Locator"]
    assert locator not in ("", "null")
    last = call(
        sf, "GET", f"jobs/query/{job['id']}/results", params={"maxRecords": 3, "locator": locator}
    )
    assert (last.headers["Sforce-NumberOfRecords"], last.headers["Sforce-Locator"]) == ("2", "null")
    assert [r["Id"] for r in rows(first.text) + rows(last.text)] == accounts
    assert "Sforce-Limit-Info" in last.headers

    assert call(sf, "DELETE", f"jobs/query/{job['id']}").status_code == 204
    assert call(sf, "GET", f"jobs/query/{job['id']}").status_code == 404


def test_a_quoted_value_and_a_null_survive_the_csv(
    sf: Salesforce, emulator: SalesforceEmulator, accounts: list[str]
) -> None:
    soql = "SELECT LastName, Title, Email FROM Contact WHERE LastName = 'Quote'"
    (page,) = bulk2(sf, "Contact").query(soql, wait=0)
    assert rows(str(page)) == [{"LastName": "Quote", "Title": 'say "hi", ok', "Email": ""}]


def test_a_failed_job_raises_with_its_error_message(
    sf: Salesforce, emulator: SalesforceEmulator, accounts: list[str]
) -> None:
    emulator.fail_bulk_queries("QUERY_TIMEOUT: Your query request was running for too long.")
    with pytest.raises(SalesforceOperationError, match="QUERY_TIMEOUT"):
        list(bulk2(sf, "Account").query("SELECT Id FROM Account", wait=0))
    assert len(list(bulk2(sf, "Account").query("SELECT Id FROM Account", wait=0))) == 1


def test_invalid_soql_is_refused_when_the_job_is_created(
    sf: Salesforce, emulator: SalesforceEmulator
) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        list(bulk2(sf, "Account").query("SELECT Nope__c FROM Account", wait=0))
    assert caught.value.content[0]["errorCode"] == "INVALID_FIELD"  # type: ignore[index]
    count = call(
        sf,
        "POST",
        "jobs/query",
        json={"operation": "query", "query": "SELECT COUNT() FROM Account"},
    )
    assert (count.status_code, count.json()[0]["errorCode"]) == (400, "INVALIDJOB")


def test_a_running_job_can_be_aborted_once(sf: Salesforce, emulator: SalesforceEmulator) -> None:
    emulator.bulk_polls_to_complete = 3
    job = call(
        sf, "POST", "jobs/query", json={"operation": "query", "query": "SELECT Id FROM Account"}
    ).json()
    aborted = call(sf, "PATCH", f"jobs/query/{job['id']}", json={"state": "Aborted"})
    assert aborted.json()["state"] == "Aborted"
    again = call(sf, "PATCH", f"jobs/query/{job['id']}", json={"state": "Aborted"})
    assert (again.status_code, again.json()[0]["errorCode"]) == (400, "INVALIDJOBSTATE")
    assert call(sf, "GET", f"jobs/query/{job['id']}").json()["state"] == "Aborted"
    listed = call(sf, "GET", "jobs/query").json()
    assert [j["id"] for j in listed["records"]] == [job["id"]]
