"""Account field values for segments: one query per 200 accounts, values escaped, text out, and a
field the Account does not have named before anything is queried."""

from __future__ import annotations

import pytest

from connectors.errors import ConfigError, UnknownFieldError
from connectors.salesforce.client import SalesforceConnector
from emulators.salesforce import SalesforceEmulator
from tests.salesforce.conftest import add_account


def test_values_of_many_accounts_in_batches_of_200(
    org: SalesforceEmulator, crm: SalesforceConnector
) -> None:
    kinds = ("Customer - Direct", "Customer - Channel", "Other")
    accounts = [add_account(org, f"Account {i}", Type=kinds[i % 3]) for i in range(250)]
    add_account(org, "Not asked for", Type="Prospect")
    before = org.calls["query"]

    found = crm.account_values(accounts, ["Type", "NumberOfEmployees"])

    assert org.calls["query"] - before == 2  # 250 accounts: 200, then 50
    assert set(found) == {a[:15] for a in accounts}
    assert found[accounts[4][:15]] == {"Type": "Customer - Channel", "NumberOfEmployees": ""}
    assert crm.account_values([], ["Type"]) == {}
    assert crm.account_values(accounts, []) == {}


def test_relationship_paths_and_numbers_read_as_text(
    org: SalesforceEmulator, crm: SalesforceConnector
) -> None:
    parent = add_account(org, "Parent Co", Industry="Retail")
    child = add_account(org, "Child Co", ParentId=parent, NumberOfEmployees=250)
    orphan = add_account(org, "Orphan Co")

    found = crm.account_values([child, orphan], ["Parent.Industry", "NumberOfEmployees"])

    assert found[child[:15]] == {"Parent.Industry": "Retail", "NumberOfEmployees": "250"}
    assert found[orphan[:15]] == {"Parent.Industry": "", "NumberOfEmployees": ""}


def test_an_unknown_field_is_named_before_any_query(
    org: SalesforceEmulator, crm: SalesforceConnector
) -> None:
    account = add_account(org, "Acorn Labs")
    before = org.calls["query"]

    with pytest.raises(UnknownFieldError, match="Account has no field Health__c"):
        crm.account_values([account], ["Type", "Health__c"])

    assert org.calls["query"] == before


def test_an_account_id_that_is_not_one_never_reaches_the_query(
    org: SalesforceEmulator, crm: SalesforceConnector
) -> None:
    account = add_account(org, "Acorn Labs", Type="Other")

    found = crm.account_values([account, "001' OR Name != '"], ["Type"])

    assert found == {account[:15]: {"Type": "Other"}}


def test_a_name_that_is_not_a_field_name_never_reaches_the_query(
    org: SalesforceEmulator, crm: SalesforceConnector
) -> None:
    account = add_account(org, "Acorn Labs")
    before = org.calls["query"]
    with pytest.raises(ConfigError, match="not a field API name: 'Name FROM User --'"):
        crm.account_values([account], ["Type", "Name FROM User --"])
    assert org.calls["query"] == before
