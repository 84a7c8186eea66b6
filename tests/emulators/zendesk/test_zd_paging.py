"""Offset and cursor pagination over a seeded account, through zenpy and raw HTTP."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from emulators.seed_model import Seed
from emulators.zendesk import ZendeskEmulator

PUBLIC = "https://acme.zendesk.com"
API = f"{PUBLIC}/api/v2"


def test_zenpy_walks_every_cursor_page_of_tickets_and_users(
    zenpy: Any, seeded: ZendeskEmulator, book: Seed
) -> None:
    ticket_ids = [t.id for t in zenpy.tickets()]
    user_ids = [u.id for u in zenpy.users()]

    assert ticket_ids == sorted(t.id for t in book.tickets)
    assert len(user_ids) == len(book.zendesk_users) + 1  # plus the emulator's own agent
    assert seeded.calls["tickets_list"] == -(-len(book.tickets) // 100)


def test_zenpy_follows_offset_pages_when_asked_not_to_use_cursors(
    zenpy: Any, seeded: ZendeskEmulator, book: Seed
) -> None:
    ticket_ids = [t.id for t in zenpy.tickets(cursor_pagination=False)]

    assert ticket_ids == sorted(t.id for t in book.tickets)


def test_cursor_links_walk_forward_and_back_on_the_public_origin(
    http: requests.Session, seeded: ZendeskEmulator, book: Seed
) -> None:
    expected = sorted(o.id for o in book.organizations)[:5]
    pages: list[dict[str, Any]] = []
    url = f"{API}/organizations.json?page[size]=2"
    while len(pages) < 3:
        body = http.get(url).json()
        pages.append(body)
        url = body["links"]["next"]
    back = http.get(pages[2]["links"]["prev"]).json()

    assert [o["id"] for page in pages for o in page["organizations"]][:5] == expected
    assert all(page["meta"]["has_more"] for page in pages)
    assert url.startswith(f"{API}/organizations.json?")
    assert [o["id"] for o in back["organizations"]] == expected[2:4]


def test_the_last_cursor_page_says_there_is_no_more(
    http: requests.Session, emulator: ZendeskEmulator
) -> None:
    page = http.get(f"{API}/groups", params={"page[size]": 100}).json()

    assert [g["name"] for g in page["groups"]] == ["Support", "Customer Success"]
    assert page["meta"]["has_more"] is False
    assert page["links"]["next"].startswith(f"{API}/groups?")


def test_offset_pages_carry_count_and_neighbour_links(
    http: requests.Session, seeded: ZendeskEmulator, book: Seed
) -> None:
    first = http.get(f"{API}/tickets.json", params={"per_page": 50}).json()
    second = http.get(first["next_page"]).json()

    assert first["count"] == len(book.tickets)
    assert first["previous_page"] is None
    assert second["previous_page"].startswith(f"{API}/tickets.json?")
    assert [t["id"] for t in second["tickets"]] == sorted(t.id for t in book.tickets)[50:100]
    assert "fields" in first["tickets"][0]  # offset pages keep the alias cursor pages drop


@pytest.mark.parametrize(
    ("params", "description"),
    [
        ({"page[size]": "101"}, "page[size] is greater than the maximum allowed: 100"),
        ({"page[after]": "not-a-cursor"}, "The page cursor is not valid"),
    ],
)
def test_bad_cursor_parameters_are_refused(
    http: requests.Session, emulator: ZendeskEmulator, params: dict[str, str], description: str
) -> None:
    answer = http.get(f"{API}/tickets.json", params=params)

    assert answer.status_code == 400
    assert answer.json() == {"error": "InvalidPaginationParameter", "description": description}


@pytest.mark.parametrize("suffix", ["", ".json"])
def test_paths_work_with_and_without_the_json_suffix(
    http: requests.Session, emulator: ZendeskEmulator, suffix: str
) -> None:
    answer = http.get(f"{API}/users/{emulator.agent_id}{suffix}")

    assert answer.json()["user"]["url"] == f"{API}/users/{emulator.agent_id}.json"
