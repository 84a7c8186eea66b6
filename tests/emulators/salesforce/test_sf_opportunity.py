"""Opportunity: the standard object, its stage deciding IsClosed, IsWon and the probability."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from simple_salesforce.api import Salesforce, SFType
from simple_salesforce.exceptions import SalesforceMalformedRequest
from simple_salesforce.format import format_soql

from emulators.salesforce import SalesforceEmulator


@pytest.fixture
def account(emulator: SalesforceEmulator) -> str:
    return emulator.insert_record("Account", {"Name": "Acorn Labs"})


@pytest.mark.parametrize(
    ("stage", "closed", "won", "probability"),
    [
        ("Negotiation/Review", False, False, 90.0),
        ("Closed Won", True, True, 100.0),
        ("Closed Lost", True, False, 0.0),
    ],
)
def test_stage_decides_closed_won_and_default_probability(
    sobject: Callable[[str], SFType],
    account: str,
    stage: str,
    closed: bool,
    won: bool,
    probability: float,
) -> None:
    created = sobject("Opportunity").create(
        {
            "AccountId": account,
            "Name": "Acorn Labs - Renewal 2026",
            "StageName": stage,
            "CloseDate": "2026-03-01",
            "Amount": 42000,
            "Type": "Renewal",
        }
    )
    record = sobject("Opportunity").get(created["id"])
    assert (record["IsClosed"], record["IsWon"], record["Probability"]) == (
        closed,
        won,
        probability,
    )
    assert record["CloseDate"] == "2026-03-01"
    assert record["Amount"] == 42000.0


def test_closing_a_deal_lost_updates_the_derived_fields(
    sf: Salesforce, sobject: Callable[[str], SFType], account: str
) -> None:
    fields = {"AccountId": account, "Name": "Upsell", "StageName": "Proposal/Price Quote"}
    created = sobject("Opportunity").create({**fields, "CloseDate": "2026-04-30"})
    sobject("Opportunity").update(created["id"], {"StageName": "Closed Lost"})
    soql = format_soql(
        "SELECT IsClosed, IsWon, Probability FROM Opportunity WHERE AccountId = {} "
        "AND CloseDate >= 2026-04-01 AND IsClosed = true",
        account,
    )
    rows = sf.query(soql)["records"]
    assert [(r["IsClosed"], r["IsWon"], r["Probability"]) for r in rows] == [(True, False, 0.0)]


def test_derived_fields_cannot_be_written(sobject: Callable[[str], SFType], account: str) -> None:
    with pytest.raises(SalesforceMalformedRequest, match="IsWon"):
        sobject("Opportunity").create(
            {
                "AccountId": account,
                "Name": "x",
                "StageName": "Prospecting",
                "CloseDate": "2026-01-01",
                "IsWon": True,
            }
        )


def test_stage_and_close_date_are_required(sobject: Callable[[str], SFType], account: str) -> None:
    with pytest.raises(SalesforceMalformedRequest, match="REQUIRED_FIELD_MISSING"):
        sobject("Opportunity").create(
            {"AccountId": account, "Name": "x", "StageName": "Closed Won"}
        )
