"""The account facts the metrics need (ARR, contacts, key contacts) are read 200 accounts a
query, each query retried on its own, against the emulator through the real connector."""

from __future__ import annotations

from connectors.salesforce.client import SalesforceConnector
from emulators.salesforce import SalesforceEmulator
from sync.core.retry import RetryPolicy
from sync.fields.facts import crm_facts
from sync.fields.fieldmap import field_map
from tests.metrics.conftest import make_config
from tests.salesforce.conftest import add_account, add_contact
from tests.support import QueryCutter

RETRY = RetryPolicy(attempts=3, initial_wait=0.001, max_wait=0.01)


def test_a_flaky_link_does_not_stop_account_facts_being_read(
    org: SalesforceEmulator, crm: SalesforceConnector
) -> None:
    """450 accounts take three queries per fact. Every second query of the org is cut off:
    each query, retried on its own, gets through; retried as one lookup, every try met a cut
    and the write-back of those accounts failed."""
    config = make_config(
        write_back={
            "salesforce": {
                "account": {
                    "coverage": "NPS_Coverage__c",
                    "key_contact_coverage": "NPS_Key_Contact_Coverage__c",
                }
            }
        },
        metrics={"key_contact_field": "Title", "key_contact_values": ["CFO"]},
    )
    ids = [add_account(org, f"Account {i}") for i in range(450)]
    for i, account_id in enumerate(ids):
        add_contact(org, f"person{i}@acme.example", account_id, Title="CFO" if i % 3 else "")
    org.observers.append(QueryCutter(every=2))
    facts = crm_facts(
        ids, crm=crm, fmap=field_map(config), metrics=config.metrics, retry=RETRY, fresh=True
    )
    assert facts.accounts is not None
    assert sorted(facts.accounts) == sorted(ids)
    assert facts.contacts is not None
    assert set(facts.contacts.values()) == {1}
    assert len(facts.contacts) == 450
    assert facts.key_contacts is not None
    assert sum(bool(keys) for keys in facts.key_contacts.values()) == 300
