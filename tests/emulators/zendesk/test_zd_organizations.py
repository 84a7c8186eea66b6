"""Organizations and the seed book of business: lookups, field writes, bulk updates."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests
from zenpy.lib.api_objects import Organization

from emulators.seed_model import Seed, SeedGroup
from emulators.zendesk import ZendeskEmulator

API = "https://acme.zendesk.com/api/v2"


def test_the_seed_maps_salesforce_ids_onto_zendesk_external_ids(
    seeded: ZendeskEmulator, book: Seed
) -> None:
    organizations = {o["id"]: o for o in seeded.organizations()}
    users = {u["id"]: u for u in seeded.users()}
    account = book.organizations[0]
    person = next(u for u in book.zendesk_users if u.external_id)

    assert organizations[account.id]["external_id"] == account.external_id
    assert organizations[account.id]["domain_names"] == list(account.domain_names)
    assert users[person.id]["external_id"] == person.external_id
    assert users[person.id]["organization_id"] == person.organization_id
    assert [g["id"] for g in seeded.groups()] == [g.id for g in book.groups]
    assert len(seeded.tickets()) == len(book.tickets)


def test_a_seeded_ticket_starts_with_its_description_as_first_comment(
    seeded: ZendeskEmulator, book: Seed
) -> None:
    ticket = book.tickets[0]

    (first,) = seeded.comments(ticket.id)

    assert (first["body"], first["author_id"]) == (ticket.description, ticket.requester_id)
    assert seeded.ticket(ticket.id)["status"] == ticket.status


def test_loading_a_seed_that_collides_with_existing_records_fails(
    seeded: ZendeskEmulator, book: Seed
) -> None:
    with pytest.raises(ValueError, match="already taken"):
        seeded.load_seed(Seed(organizations=book.organizations[:1]))


def test_a_seeded_group_replaces_the_default_group_of_the_same_name(
    emulator: ZendeskEmulator,
) -> None:
    emulator.load_seed(Seed(groups=[SeedGroup(id=77, name="Support")]))

    assert sorted(g["name"] for g in emulator.groups()) == ["Customer Success", "Support"]
    assert 77 in {g["id"] for g in emulator.groups()}


def test_organizations_are_found_by_external_id_in_any_case(
    zenpy: Any, http: requests.Session, seeded: ZendeskEmulator, book: Seed
) -> None:
    account = book.organizations[3]

    shown = [o.id for o in zenpy.organizations(external_id=account.external_id.lower())]
    searched = http.get(
        f"{API}/organizations/search.json", params={"external_id": account.external_id}
    ).json()

    assert shown == [account.id]
    assert [o["id"] for o in searched["organizations"]] == [account.id]
    assert zenpy.organizations(id=account.id).name == account.name


def test_organization_fields_update_in_bulk_and_name_clashes_fail_per_item(
    zenpy: Any, seeded: ZendeskEmulator, book: Seed, finished: Callable[[Any], Any]
) -> None:
    first, second = book.organizations[0], book.organizations[1]
    changes = [
        Organization(id=first.id, organization_fields={"nps_account_score": "42.5"}),
        Organization(id=second.id, name=first.name, organization_fields={"nps_respondents": 3}),
    ]

    job = zenpy.organizations.update(changes)
    results = finished(job).results

    assert results[0].status == "Updated"
    assert results[1].error == "OrganizationUpdateFailed"
    assert results[1].details == f"Name:  {first.name} has already been taken"
    fields = {o["id"]: o["organization_fields"] for o in seeded.organizations()}
    assert fields[first.id] == {"nps_account_score": 42.5, "nps_respondents": None}
    assert fields[second.id] == {"nps_account_score": None, "nps_respondents": None}


def test_organization_tickets_lists_the_tickets_of_that_organization(
    zenpy: Any, seeded: ZendeskEmulator, book: Seed
) -> None:
    org_id = book.tickets[0].organization_id
    expected = sorted(t.id for t in book.tickets if t.organization_id == org_id)

    assert [t.id for t in zenpy.tickets.organizations(org_id)] == expected


def test_catalogue_lists_the_nps_fields_and_groups(http: requests.Session) -> None:
    ticket_fields = http.get(f"{API}/ticket_fields.json").json()["ticket_fields"]
    user_fields = http.get(f"{API}/user_fields.json").json()["user_fields"]
    org_fields = http.get(f"{API}/organization_fields").json()["organization_fields"]

    custom = {f["title"]: f for f in ticket_fields if f["removable"]}
    assert {title: f["type"] for title, f in custom.items()} == {
        "NPS Score": "integer",
        "NPS Category": "tagger",
        "NPS Response Link": "text",
        "Loop outcome": "tagger",
    }
    assert [o["value"] for o in custom["NPS Category"]["custom_field_options"]] == [
        "promoter",
        "passive",
        "detractor",
    ]
    assert {f["key"]: f["type"] for f in user_fields} == {
        "nps_score": "integer",
        "nps_category": "text",
        "nps_date": "date",
    }
    assert {f["key"]: f["type"] for f in org_fields} == {
        "nps_account_score": "decimal",
        "nps_respondents": "integer",
    }
