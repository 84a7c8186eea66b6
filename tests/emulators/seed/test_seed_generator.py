"""The seed book of business: deterministic, consistent and believable."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from emulators.seed import (
    REFERENCE_END,
    extend_salesforce_id,
    generate_seed,
    salesforce_id,
)
from emulators.seed_model import Seed

SEED = generate_seed()
SF_ID = re.compile(r"[0-9A-Za-z]{18}")


def test_same_seed_gives_identical_data_and_another_seed_differs() -> None:
    assert generate_seed(7) == SEED
    other = generate_seed(8)
    assert other != SEED
    assert [a.name for a in other.accounts] != [a.name for a in SEED.accounts]


def test_counts_fit_the_arguments() -> None:
    assert len(SEED.users) == 12
    assert len(SEED.accounts) == len(SEED.organizations) == 300
    assert 800 <= len(SEED.contacts) <= 1000
    assert len(SEED.responses) == 1500
    assert len(SEED.leads) >= 3
    assert {g.name for g in SEED.groups} == {"Support", "Customer Success"}
    assert len(SEED.tickets) > 0
    small = generate_seed(3, accounts=10, contacts_per_account=2, responses=40)
    assert len(small.accounts) == 10
    assert len(small.responses) == 40


def test_users_are_executives_with_a_manager_and_two_cx_managers() -> None:
    titles = Counter(u.title for u in SEED.users)
    assert titles["Customer Experience Manager"] == 2
    (head,) = [u for u in SEED.users if u.title == "VP of Sales"]
    executives = [u for u in SEED.users if "Account Executive" in u.title]
    assert len(executives) == 9
    assert all(u.manager_id == head.id for u in executives)
    owners = {a.owner_id for a in SEED.accounts}
    assert owners <= {u.id for u in executives}


def test_salesforce_ids_have_prefixes_and_checksums() -> None:
    ids_by_prefix = {
        "005": [u.id for u in SEED.users],
        "001": [a.id for a in SEED.accounts],
        "003": [c.id for c in SEED.contacts],
        "00Q": [lead.id for lead in SEED.leads],
    }
    for prefix, ids in ids_by_prefix.items():
        assert all(SF_ID.fullmatch(i) and i.startswith(prefix) for i in ids)
        assert all(extend_salesforce_id(i[:15]) == i for i in ids)
    assert salesforce_id("001", 0) == "0015g0000000000AAA"
    assert salesforce_id("001", 10) == "0015g000000000AAAQ"  # upper case at 15th place: bit 4


def test_checksum_matches_salesforce_documented_example() -> None:
    assert extend_salesforce_id("001D000000IqhSL") == "001D000000IqhSLIAZ"


@pytest.mark.parametrize(
    ("prefix", "number", "message"),
    [("01", 1, "key prefix"), ("0 1", 1, "key prefix"), ("001", -1, "out of range")],
)
def test_salesforce_id_rejects_bad_input(prefix: str, number: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        salesforce_id(prefix, number)


def test_ids_and_addresses_are_unique() -> None:
    def unique(values: Sequence[object]) -> bool:
        return len(values) == len(set(values))

    assert unique([a.id for a in SEED.accounts])
    assert unique([a.name for a in SEED.accounts])
    assert unique([a.domain for a in SEED.accounts])
    assert unique([c.email for c in SEED.contacts] + [lead.email for lead in SEED.leads])
    assert unique([u.id for u in SEED.zendesk_users])
    assert unique([t.id for t in SEED.tickets])
    assert unique([r.id for r in SEED.responses])


def test_tiers_and_arr_fit_a_b2b_book() -> None:
    tiers = Counter(a.tier for a in SEED.accounts)
    assert 0.08 <= tiers["Enterprise"] / 300 <= 0.22
    assert 0.25 <= tiers["Mid-Market"] / 300 <= 0.45
    assert 0.40 <= tiers["SMB"] / 300 <= 0.60
    for tier, low, high in [
        ("Enterprise", 250_000, 2_500_000),
        ("Mid-Market", 50_000, 250_000),
        ("SMB", 5_000, 50_000),
    ]:
        assert all(low <= a.arr <= high for a in SEED.accounts if a.tier == tier)


def test_account_fields_are_consistent() -> None:
    today = REFERENCE_END.date()
    for account in SEED.accounts:
        assert account.website == f"https://www.{account.domain}"
        assert today < account.renewal_date <= today + timedelta(days=396)
        assert today - timedelta(days=6 * 366) <= account.created_date <= today
        assert account.region in {"NA", "EMEA", "APAC", "LATAM"}
        assert account.industry


def test_contacts_are_mirrored_in_zendesk() -> None:
    accounts = {a.id: a for a in SEED.accounts}
    organizations = {o.id: o for o in SEED.organizations}
    zendesk_users = {u.id: u for u in SEED.zendesk_users}
    for contact in SEED.contacts:
        account = accounts[contact.account_id]
        local = contact.email.split("@")[0]
        assert contact.email.endswith("@" + account.domain)
        assert re.fullmatch(r"[a-z0-9]+\.[a-z0-9]+", local)
        assert contact.owner_id == account.owner_id
        mirror = zendesk_users[contact.zendesk_user_id]
        assert (mirror.external_id, mirror.email) == (contact.id, contact.email)
        organization = organizations[mirror.organization_id or 0]
        assert organization.external_id == account.id
        assert organization.domain_names == (account.domain,)
    names_per_account = Counter((c.account_id, c.first_name, c.last_name) for c in SEED.contacts)
    assert max(names_per_account.values()) == 1


def test_tickets_belong_to_their_requesters_organization() -> None:
    zendesk_users = {u.id: u for u in SEED.zendesk_users}
    statuses = Counter(t.status for t in SEED.tickets)
    assert len(statuses) >= 4
    for ticket in SEED.tickets:
        assert zendesk_users[ticket.requester_id].organization_id == ticket.organization_id
        assert ticket.updated_at >= ticket.created_at


def test_scores_follow_a_believable_nps_distribution() -> None:
    scores = [r.score for r in SEED.responses]
    assert all(0 <= s <= 10 for s in scores)
    detractors = sum(s <= 6 for s in scores) / len(scores)
    passives = sum(7 <= s <= 8 for s in scores) / len(scores)
    assert 0.11 <= detractors <= 0.19
    assert 0.25 <= passives <= 0.35


def test_responses_cover_the_awkward_cases() -> None:
    crm = {c.email for c in SEED.contacts} | {lead.email for lead in SEED.leads}
    unknown = [r for r in SEED.responses if r.email.lower() not in crm]
    mixed = [r for r in SEED.responses if r.email != r.email.lower()]
    assert 0.03 <= len(unknown) / 1500 <= 0.07
    assert 0.03 <= len(mixed) / 1500 <= 0.07
    assert all(r.email.lower() in crm for r in mixed)
    repeats = Counter(r.email.lower() for r in SEED.responses)
    assert sum(count > 1 for count in repeats.values()) > 100
    assert any(r.comment is None for r in SEED.responses)
    assert any(r.comment and "\n" in r.comment for r in SEED.responses)
    assert len({r.comment for r in SEED.responses}) > 100
    late = [r for r in SEED.responses if r.updated_at > r.created_at]
    assert len(late) > 100
    assert all(r.updated_at - r.created_at <= timedelta(hours=2) for r in late)
    with_properties = [r for r in SEED.responses if r.properties]
    assert 0.3 <= len(with_properties) / 1500 <= 0.9
    contacts = {c.id for c in SEED.contacts}
    assert all(
        r.properties["Salesforce Contact Id"] in contacts
        for r in with_properties
        if "Salesforce Contact Id" in r.properties
    )


def test_responses_stay_in_the_window_and_people_keep_their_id() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    end = datetime(2026, 4, 1, tzinfo=UTC)
    seed = generate_seed(1, accounts=40, responses=300, start=start, end=end)
    assert all(start <= r.created_at <= r.updated_at < end for r in seed.responses)
    person_ids: dict[str, set[str]] = {}
    for response in seed.responses:
        person_ids.setdefault(response.email.lower(), set()).add(response.person_id)
    assert all(len(ids) == 1 for ids in person_ids.values())
    assert all(r.id.isdigit() for r in seed.responses)


def test_repeat_respondents_answer_in_different_parts_of_the_year() -> None:
    by_person: dict[str, list[datetime]] = {}
    for response in SEED.responses:
        by_person.setdefault(response.email.lower(), []).append(response.created_at)
    twice = [sorted(times) for times in by_person.values() if len(times) == 2]
    gaps = [later - earlier for earlier, later in twice]
    assert sum(gap > timedelta(days=30) for gap in gaps) / len(gaps) > 0.8


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(ValueError, match="negative"):
        generate_seed(accounts=-1)
    with pytest.raises(ValueError, match="timezone-aware"):
        generate_seed(end=datetime(2026, 1, 1))  # naive on purpose
    with pytest.raises(ValueError, match="at least one day"):
        generate_seed(start=REFERENCE_END, end=REFERENCE_END)


def test_empty_book_still_has_staff() -> None:
    seed: Seed = generate_seed(accounts=0, responses=5)
    assert len(seed.users) == 12
    assert seed.contacts == []
    assert len(seed.responses) == 5  # all from people the CRM does not know
