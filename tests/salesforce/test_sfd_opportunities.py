"""The connector reads accounts' opportunities in batches of 200 accounts, as plain records."""

from __future__ import annotations

from datetime import date

from connectors.salesforce.client import SalesforceConnector
from emulators.salesforce import SalesforceEmulator
from tests.salesforce.conftest import add_account


def add_deal(
    org: SalesforceEmulator, account: str, stage: str, close: date, **fields: object
) -> str:
    closed, won = stage.startswith("Closed"), stage == "Closed Won"
    record = {"AccountId": account, "Name": f"deal {close}", "StageName": stage, "CloseDate": close}
    return org.insert_record("Opportunity", {**record, "IsClosed": closed, "IsWon": won, **fields})


def test_opportunities_of_many_accounts_in_batches(
    org: SalesforceEmulator, crm: SalesforceConnector
) -> None:
    accounts = [add_account(org, f"Account {i}") for i in range(250)]
    for n, account in enumerate(accounts):
        add_deal(org, account, "Closed Won", date(2026, 1, 1 + n % 28), Type="Renewal", Amount=10.0)
    before = org.calls["query"]

    found = crm.find_opportunities(accounts)

    assert org.calls["query"] - before == 2  # 250 accounts: 200, then 50
    assert len(found) == 250
    assert {o.account_id for o in found} == set(accounts)
    assert [o.close_date for o in found] == sorted(o.close_date for o in found)


def test_an_opportunity_as_a_plain_record_and_the_close_date_filter(
    org: SalesforceEmulator, crm: SalesforceConnector
) -> None:
    account = add_account(org, "Acorn Labs")
    other = add_account(org, "Not asked for")
    lost = add_deal(org, account, "Closed Lost", date(2026, 2, 1), Type="Renewal", Amount=42000.0)
    add_deal(org, account, "Closed Won", date(2025, 2, 1), Type="Renewal", Amount=40000.0)
    add_deal(org, account, "Negotiation/Review", date(2027, 2, 1), Type="Renewal")
    add_deal(org, other, "Closed Won", date(2026, 2, 1))

    found = crm.find_opportunities([account], closing_after=date(2026, 1, 1))

    assert [(o.stage, o.close_date, o.is_closed, o.is_won) for o in found] == [
        ("Closed Lost", date(2026, 2, 1), True, False),
        ("Negotiation/Review", date(2027, 2, 1), False, False),
    ]
    first = found[0]
    assert (first.id[:15], first.account_id, first.type, first.amount) == (
        lost[:15],
        account,
        "Renewal",
        42000.0,
    )
    assert found[1].amount == 0.0  # no amount: counted as none
    assert crm.find_opportunities([]) == []
