"""Cursor-based incremental ticket export: start rules, resumable cursor, its own rate limit."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
import requests
from zenpy.lib.exception import APIException

from emulators.zendesk import ZendeskEmulator
from emulators.zendesk.clock import ManualClock

API = "https://acme.zendesk.com/api/v2"
EXPORT = f"{API}/incremental/tickets/cursor.json"
HEADER = "zendesk-ratelimit-incremental-exports"


def create_tickets(http: requests.Session, count: int) -> list[int]:
    return [
        http.post(
            f"{API}/tickets.json", json={"ticket": {"subject": f"t{n}", "comment": {"body": "b"}}}
        ).json()["ticket"]["id"]
        for n in range(count)
    ]


def walk(http: requests.Session, url: str) -> tuple[list[int], dict[str, Any]]:
    """Follow ``after_url`` to the end of the stream; the ids seen and the last page."""
    seen: list[int] = []
    while True:
        page = http.get(url).json()
        seen += [t["id"] for t in page["tickets"]]
        if page["end_of_stream"]:
            return seen, page
        url = page["after_url"]


def test_a_start_time_within_the_last_minute_is_refused(
    http: requests.Session, zenpy: Any, emulator: ZendeskEmulator
) -> None:
    answer = http.get(EXPORT, params={"start_time": int(emulator.now()) - 30})

    assert answer.status_code == 400
    assert answer.json() == {
        "error": "InvalidValue",
        "description": "Too recent start_time. Use a start_time older than 1 minute",
    }
    with pytest.raises(APIException, match="Too recent start_time"):
        zenpy.tickets.incremental(start_time=int(emulator.now()))


def test_the_export_pages_in_update_order_and_resumes_with_changed_tickets(
    http: requests.Session, emulator: ZendeskEmulator
) -> None:
    start = int(emulator.now()) - 3600
    ids = create_tickets(http, 5)
    emulator.advance_clock(10)

    first_run, last = walk(http, f"{EXPORT}?start_time={start}&per_page=2")
    http.put(f"{API}/tickets/{ids[1]}.json", json={"ticket": {"status": "pending"}})
    second_run, resumed = walk(http, last["after_url"])
    third_run, idle = walk(http, resumed["after_url"])

    assert first_run == ids
    assert second_run == [ids[1]]
    assert third_run == []
    assert idle["after_cursor"] == resumed["after_cursor"]
    assert last["after_url"].startswith(f"{EXPORT}?cursor=")
    assert {"generated_timestamp", "fields"} <= set(resumed["tickets"][0])


def test_zenpy_iterates_the_export_to_the_end_of_the_stream(
    zenpy: Any, http: requests.Session, emulator: ZendeskEmulator
) -> None:
    ids = create_tickets(http, 3)

    exported = [t.id for t in zenpy.tickets.incremental(start_time=0)]

    assert exported == ids
    assert emulator.calls["incremental_tickets"] == 1


def test_the_export_has_its_own_budget_of_ten_requests_a_minute(
    http: requests.Session, emulator: ZendeskEmulator
) -> None:
    emulator.use_clock(ManualClock(time.time()))  # no minute may end between the requests
    answers = [http.get(EXPORT, params={"start_time": 0}) for _ in range(11)]
    other = http.get(f"{API}/tickets.json")

    assert [a.status_code for a in answers] == [200] * 10 + [429]
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 60
    assert other.status_code == 200
    emulator.advance_clock(60)
    assert http.get(EXPORT, params={"start_time": 0}).status_code == 200


def budget(header: str) -> tuple[int, int, int]:
    """``total=10; remaining=9; resets=41`` as numbers."""
    found = re.fullmatch(r"total=(\d+); remaining=(\d+); resets=(\d+)", header)
    assert found, header
    return int(found[1]), int(found[2]), int(found[3])


def test_the_export_says_how_much_of_its_own_budget_is_left(
    http: requests.Session, emulator: ZendeskEmulator
) -> None:
    """In the format of the per-endpoint headers in recorded traffic
    (``zendesk-ratelimit-tickets-index: total=100; remaining=99; resets=41``)."""
    emulator.use_clock(ManualClock(time.time()))  # no minute may end between the requests
    answers = [http.get(EXPORT, params={"start_time": 0}) for _ in range(11)]
    other = http.get(f"{API}/tickets.json")

    budgets = [budget(a.headers[HEADER]) for a in answers]
    assert [(total, left) for total, left, _ in budgets] == [(10, n) for n in range(9, -1, -1)] + [
        (10, 0)
    ]
    assert all(1 <= resets <= 60 for _, _, resets in budgets)
    assert int(answers[-1].headers["Retry-After"]) == budgets[-1][2]
    # the account-wide headers stay on every answer, the export's own only on the export
    assert answers[-1].headers["X-Rate-Limit"] == "700"
    assert HEADER not in other.headers


USERS = f"{API}/incremental/users/cursor.json"


def test_the_user_export_pages_every_user_by_cursor_and_resumes_with_changed_ones(
    http: requests.Session, emulator: ZendeskEmulator
) -> None:
    made = [
        http.post(f"{API}/users.json", json={"user": {"name": f"u{n}", "email": f"u{n}@x.test"}})
        for n in range(3)
    ]
    ids = [answer.json()["user"]["id"] for answer in made]
    emulator.advance_clock(10)

    seen: list[dict[str, Any]] = []
    url = f"{USERS}?start_time=0&per_page=2"
    while True:
        page = http.get(url).json()
        seen += page["users"]
        if page["end_of_stream"]:
            break
        url = page["after_url"]
    http.delete(f"{API}/users/{ids[0]}.json")
    resumed = http.get(page["after_url"]).json()

    assert [u["id"] for u in seen][-3:] == ids  # after the seeded users, in update order
    assert {"after_cursor", "before_cursor", "before_url"} <= set(page)
    assert [(u["id"], u["active"], u["email"]) for u in resumed["users"]] == [(ids[0], False, None)]
    assert resumed["end_of_stream"] is True
    too_many = [http.get(USERS, params={"start_time": 0}) for _ in range(10)]
    assert too_many[-1].status_code == 429  # the exports' own budget of 10 a minute
