"""The connector's lookups for owners, escalations, account facts and read-back: batched SOQL
answered as plain records, against the emulated org."""

from __future__ import annotations

from datetime import date

import pytest

from connectors.errors import ConfigError
from connectors.models import FieldUpdate, TaskSpec
from connectors.salesforce.client import SalesforceConnector
from emulators.base import Reset
from emulators.salesforce import SalesforceEmulator
from emulators.salesforce.standard_schema import text
from tests.salesforce.conftest import add_account, add_contact


def queries(org: SalesforceEmulator) -> int:
    return org.calls["query"] + org.calls["query_more"]


def add_user(org: SalesforceEmulator, email: str, *, active: bool = True) -> str:
    name = email.split("@")[0]
    username = f"{name}.{len(org.records('User'))}@x"
    fields = {"LastName": name, "Username": username, "Email": email, "IsActive": active}
    return org.insert_record("User", fields)


def test_active_users_by_email_the_oldest_of_several_wins(
    org: SalesforceEmulator, crm: SalesforceConnector
) -> None:
    first = add_user(org, "cx-lead@acme.example")
    add_user(org, "cx-lead@acme.example")
    add_user(org, "gone@acme.example", active=False)

    found = crm.find_active_users_by_email(["CX-Lead@acme.example", "gone@acme.example", "x@y"])

    assert found == {"cx-lead@acme.example": first}
    assert crm.find_active_users_by_email([]) == {}


def test_open_tasks_leaves_out_closed_and_unknown_ones(
    org: SalesforceEmulator, crm: SalesforceConnector
) -> None:
    specs = [TaskSpec(f"k{i}", "Call", "", org.default_user_id, date(2026, 1, 5)) for i in range(3)]
    ids = [r.external_id for r in crm.create_tasks(specs)]
    crm.update_records([FieldUpdate("Task", ids[1], {"Status": "Completed"})])
    unknown = "00T" + "0" * 12

    assert crm.open_tasks([*ids, unknown]) == {ids[0][:15], ids[2][:15]}
    assert crm.open_tasks([i[:15] for i in ids]) == {ids[0][:15], ids[2][:15]}


def test_key_contacts_by_listed_values_or_a_checkbox(
    org: SalesforceEmulator, crm: SalesforceConnector
) -> None:
    acme, quiet = add_account(org, "Acme"), add_account(org, "Quiet")
    buyer = add_contact(org, "buyer@acme.example", acme, Role__c="Economic Buyer")
    odd = add_contact(org, "odd@acme.example", acme, Role__c="Sponsor's deputy")
    add_contact(org, "user@acme.example", acme, Role__c="User", HasOptedOutOfEmail=True)
    add_contact(org, "other@quiet.example", quiet, Role__c="User")

    by_value = crm.find_key_contacts(
        [acme, quiet], field="Role__c", values=["Economic Buyer", "Sponsor's deputy"]
    )
    assert by_value == {acme: frozenset({buyer, odd}), quiet: frozenset()}

    by_checkbox = crm.find_key_contacts([acme, quiet], field="HasOptedOutOfEmail")
    assert {k: len(v) for k, v in by_checkbox.items()} == {acme: 1, quiet: 0}


def test_read_fields_answers_by_the_ids_given_in_batches_of_200(
    org: SalesforceEmulator, crm: SalesforceConnector
) -> None:
    account = add_account(org, "Acme")
    ids = [
        add_contact(org, f"p{i}@acme.example", account, NPS_Last_Score__c=i % 11)
        for i in range(250)
    ]
    # The 18-character id's suffix is case-insensitive; an unknown (15-character) id is absent.
    given = ids[0][:15] + ids[0][15:].lower()
    asked = [given, *ids[1:], "003" + "0" * 12]
    before = queries(org)

    current = crm.read_fields("Contact", asked, ["NPS_Last_Score__c", "Email"])

    assert queries(org) - before == 2
    assert len(current) == 250
    assert current[given] == {"Email": "p0@acme.example", "NPS_Last_Score__c": 0}
    assert current[ids[13]]["NPS_Last_Score__c"] == 2
    assert crm.read_fields("Contact", ids, []) == {}


def test_accounts_searched_by_name_or_domain_with_wildcards_taken_literally(
    org: SalesforceEmulator, crm: SalesforceConnector
) -> None:
    fernwood = add_account(org, "Fernwood Labs", Email_Domain__c="fernwood.com")
    by_domain = add_account(org, "FW Holdings", Email_Domain__c="fernwood-group.de")
    add_account(org, "Quiet Co", Email_Domain__c="quiet.example")
    odd = add_account(org, "100%_Sure Ltd", Email_Domain__c="sure.example")

    found = crm.search_accounts(["fernwood"])
    assert [(a.id, a.name, a.domain) for a in found] == sorted(
        [
            (fernwood, "Fernwood Labs", "fernwood.com"),
            (by_domain, "FW Holdings", "fernwood-group.de"),
        ]
    )
    assert [a.id for a in crm.search_accounts(["%_"])] == [odd]  # not every account
    assert crm.search_accounts(["nothing-like-it"]) == []
    assert crm.search_accounts([]) == []


def test_queues_by_name_or_developer_name_with_their_objects_in_two_queries(
    org: SalesforceEmulator, crm: SalesforceConnector
) -> None:
    cases = org.org.add_queue("Case Desk", ("Case",))
    quoted = org.org.add_queue("O'Brien's team", ("Task", "Case"))
    before = queries(org)

    found = crm.find_queues(["nps_follow_up", "CASE DESK", "O'Brien's team", "Nobody"])

    assert queries(org) - before == 2
    assert [(q.id, q.name, q.developer_name, q.sobjects) for q in found] == [
        (org.task_queue_id, "NPS Follow-up", "NPS_Follow_up", frozenset({"Task"})),
        (cases, "Case Desk", "Case_Desk", frozenset({"Case"})),
        (quoted, "O'Brien's team", "O_Brien_s_team", frozenset({"Task", "Case"})),
    ]
    assert crm.find_queues([]) == []


def test_key_accounts_by_tier_or_arr_in_one_query(
    org: SalesforceEmulator, crm: SalesforceConnector
) -> None:
    big = add_account(org, "Big", Tier__c="SMB", ARR__c=250_000)
    enterprise = add_account(org, "Ent", Tier__c="Enterprise", ARR__c=10_000)
    add_account(org, "Small", Tier__c="SMB", ARR__c=5_000)
    add_account(org, "O'Brien", Tier__c="Mid-Market")
    before = queries(org)

    found = crm.key_accounts(tiers=["Enterprise", "Mid-Market' OR Name != '"], min_arr=100_000)

    assert sorted(a.id for a in found) == sorted([big, enterprise])
    assert queries(org) == before + 1
    assert crm.key_accounts() == []


def test_a_failed_page_of_a_long_answer_is_asked_again_not_the_whole_query(
    org: SalesforceEmulator, crm: SalesforceConnector
) -> None:
    """Contacts counted over five pages; the third page's request is cut off twice (resets).
    The page is asked again and the count is whole; before, the failure ended the lookup, and
    its retry read every page again."""
    accounts = [add_account(org, f"Account {n}") for n in range(3)]
    for n in range(45):
        add_contact(org, f"c{n}@a.example", accounts[n % 3])
    org.page_size = 10
    cut = 0

    def cut_the_third_page(endpoint: str, phase: str) -> None:
        nonlocal cut
        if endpoint == "query_more" and phase == "received":
            cut += 1
            if cut in (2, 3):
                raise Reset

    org.observers.append(cut_the_third_page)

    counts = crm.count_contacts(accounts)

    assert counts == dict.fromkeys(accounts, 15)
    assert (org.calls["query"], org.calls["query_more"]) == (1, 4 + 2)


def test_custom_fields_ride_along_with_every_lookup_in_any_case_and_once(
    org: SalesforceEmulator, crm: SalesforceConnector
) -> None:
    org.add_field("Contact", text("Persona__c", 40, custom=True))
    account = add_account(org, "Acme", Tier__c="Enterprise", Industry="Retail")
    add_contact(org, "ana@acme.example", account, Persona__c="Champion")

    # Written as the admin wrote them; one also selected for the tier already.
    crm.read_custom_fields(account=["industry", "TIER__C"], contact=["persona__c"])
    before = queries(org)
    (contact,) = crm.find_contacts(emails=["ana@acme.example"]).by_email["ana@acme.example"]

    assert queries(org) - before == 1
    assert contact.custom == (("persona__c", "Champion"),)
    assert contact.account is not None
    assert contact.account.custom == (("industry", "Retail"), ("TIER__C", "Enterprise"))
    assert crm.find_accounts([account])[account].custom == contact.account.custom


def test_custom_fields_the_org_lacks_are_refused_before_any_lookup_uses_them(
    org: SalesforceEmulator, crm: SalesforceConnector
) -> None:
    described = crm.described_fields("Account", ["Health__c", "Name", "Bad Name"])
    assert [name for name, info in described.items() if info is None] == ["Health__c", "Bad Name"]
    assert described["Name"] is not None
    assert described["Name"].type == "string"
    with pytest.raises(ConfigError, match="Account has no field Health__c"):
        crm.read_custom_fields(account=["Health__c"])
    assert not crm.account_fields.account_custom
    # Created since the first describe: found in a fresh one.
    org.add_field("Account", text("Health__c", 10, custom=True))
    crm.read_custom_fields(account=["Health__c"])
    assert crm.account_fields.account_custom == ("Health__c",)
