"""Bulk API 2.0 ingest through simple-salesforce's ``sf.bulk2``."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import cast

import pytest
import requests
from simple_salesforce.api import Salesforce
from simple_salesforce.bulk2 import SFBulk2Type
from simple_salesforce.exceptions import SalesforceOperationError

from emulators.base import Fault
from emulators.salesforce import SalesforceEmulator


@pytest.fixture
def contacts(emulator: SalesforceEmulator) -> list[str]:
    return [
        emulator.insert_record("Contact", {"LastName": f"C{i}", "Email": f"c{i}@x.io"})
        for i in range(3)
    ]


def bulk2(sf: Salesforce, sobject: str) -> SFBulk2Type:
    """``sf.bulk2.<sobject>`` with its real type (the client types it as a union)."""
    return cast(SFBulk2Type, getattr(sf.bulk2, sobject))


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_update_from_records(
    sf: Salesforce, emulator: SalesforceEmulator, contacts: list[str]
) -> None:
    records = [
        {"Id": contacts[0], "NPS_Last_Score__c": "9", "NPS_Category__c": "promoter"},
        {"Id": contacts[1], "NPS_Last_Score__c": "3", "NPS_Category__c": "Detractor"},
        {"Id": contacts[2], "NPS_Last_Score__c": "7", "NPS_Category__c": "passive"},
    ]
    [result] = bulk2(sf, "Contact").update(records=records, wait=0)
    assert result["numberRecordsProcessed"] == 3
    assert result["numberRecordsFailed"] == 1
    assert emulator.get_record("Contact", contacts[0])["NPS_Last_Score__c"] == 9.0  # type: ignore[index]
    assert emulator.get_record("Contact", contacts[1])["NPS_Category__c"] is None  # type: ignore[index]
    [failed] = rows(bulk2(sf, "Contact").get_failed_records(str(result["job_id"])))
    assert failed["sf__Id"] == contacts[1]
    assert failed["sf__Error"].startswith("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST:")
    successes = rows(bulk2(sf, "Contact").get_successful_records(str(result["job_id"])))
    assert [(s["sf__Id"], s["sf__Created"]) for s in successes] == [
        (contacts[0], "false"),
        (contacts[2], "false"),
    ]
    assert rows(bulk2(sf, "Contact").get_unprocessed_records(str(result["job_id"]))) == []


def test_update_from_a_csv_file(
    sf: Salesforce, emulator: SalesforceEmulator, contacts: list[str], tmp_path: Path
) -> None:
    path = tmp_path / "update.csv"
    path.write_text(f'Id,Title,NPS_Last_Comment__c\n{contacts[0]},CTO,"a, quoted\ncomment"\n')
    [result] = bulk2(sf, "Contact").update(csv_file=str(path), wait=0)
    assert (result["numberRecordsProcessed"], result["numberRecordsFailed"]) == (1, 0)
    record = emulator.get_record("Contact", contacts[0])
    assert record is not None
    assert (record["Title"], record["NPS_Last_Comment__c"]) == ("CTO", "a, quoted\ncomment")


def test_insert_and_upsert(sf: Salesforce, emulator: SalesforceEmulator) -> None:
    [inserted] = bulk2(sf, "NPS_Response__c").insert(
        records=[
            {"Response_Id__c": "r1", "Score__c": "10"},
            {"Response_Id__c": "r2", "Score__c": "0"},
        ],
        wait=0,
    )
    assert inserted["numberRecordsFailed"] == 0
    [upserted] = bulk2(sf, "NPS_Response__c").upsert(
        records=[
            {"Response_Id__c": "R1", "Score__c": "8"},
            {"Response_Id__c": "r3", "Score__c": "5"},
        ],
        external_id_field="Response_Id__c",
        wait=0,
    )
    created = {
        r["Response_Id__c"]: r["sf__Created"]
        for r in rows(bulk2(sf, "NPS_Response__c").get_successful_records(str(upserted["job_id"])))
    }
    assert created == {"R1": "false", "r3": "true"}
    scores = {r["Response_Id__c"]: r["Score__c"] for r in emulator.records("NPS_Response__c")}
    assert scores == {"r1": 8.0, "r2": 0.0, "r3": 5.0}


def test_an_unknown_column_fails_the_job(sf: Salesforce, contacts: list[str]) -> None:
    with pytest.raises(SalesforceOperationError, match="Field name not found : Bogus__c"):
        bulk2(sf, "Contact").update(records=[{"Id": contacts[0], "Bogus__c": "x"}], wait=0)


def test_row_locks_fail_single_rows(
    sf: Salesforce, emulator: SalesforceEmulator, contacts: list[str]
) -> None:
    emulator.inject(Fault("lock", count=1, endpoint="bulk2_process"))
    records = [{"Id": record_id, "Title": "T"} for record_id in contacts]
    [result] = bulk2(sf, "Contact").update(records=records, wait=0)
    assert result["numberRecordsFailed"] == 1
    [failed] = rows(bulk2(sf, "Contact").get_failed_records(str(result["job_id"])))
    assert failed["sf__Error"].startswith("UNABLE_TO_LOCK_ROW:")


def test_job_states_advance_on_polls(emulator: SalesforceEmulator, http: requests.Session) -> None:
    base = f"{emulator.instance_url}/services/data/v59.0/jobs/ingest"
    headers = {"Authorization": f"Bearer {emulator.issue_session()}"}
    job = http.post(base, json={"object": "Account", "operation": "insert"}, headers=headers).json()
    assert job["state"] == "Open"
    assert job["contentUrl"] == f"services/data/v59.0/jobs/ingest/{job['id']}/batches"
    upload = http.put(
        f"{base}/{job['id']}/batches",
        data=b"Name\nBulk One\n",
        headers={**headers, "Content-Type": "text/csv"},
    )
    assert upload.status_code == 201
    closed = http.patch(f"{base}/{job['id']}", json={"state": "UploadComplete"}, headers=headers)
    assert closed.json()["state"] == "UploadComplete"
    states = [http.get(f"{base}/{job['id']}", headers=headers).json()["state"] for _ in range(3)]
    assert states == ["InProgress", "JobComplete", "JobComplete"]
    assert [a["Name"] for a in emulator.records("Account")] == ["Bulk One"]
    again = http.put(f"{base}/{job['id']}/batches", data=b"Name\nx\n", headers=headers)
    assert again.status_code == 409


def test_abort_leaves_rows_unprocessed(
    emulator: SalesforceEmulator, http: requests.Session
) -> None:
    base = f"{emulator.instance_url}/services/data/v59.0/jobs/ingest"
    headers = {"Authorization": f"Bearer {emulator.issue_session()}"}
    job = http.post(base, json={"object": "Account", "operation": "insert"}, headers=headers).json()
    http.put(f"{base}/{job['id']}/batches", data=b"Name\nA\nB\n", headers=headers)
    aborted = http.patch(f"{base}/{job['id']}", json={"state": "Aborted"}, headers=headers)
    assert aborted.json()["state"] == "Aborted"
    unprocessed = http.get(f"{base}/{job['id']}/unprocessedrecords/", headers=headers)
    assert unprocessed.text == "Name\nA\nB\n"
    assert emulator.records("Account") == []
