"""Routes a daemon may call beyond the sync's own: brands, audits, time-based exports, deletes,
general search; and the two 404s a client must tell apart."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
from zenpy.lib.api_objects import Organization, Ticket, User
from zenpy.lib.exception import APIException, RecordNotFoundException

from connectors.errors import ConfigError, RecordError
from connectors.zendesk.errors import translate
from emulators.zendesk import ZendeskEmulator
from emulators.zendesk.clock import ManualClock

API = "https://acme.zendesk.com/api/v2"
NOT_FOUND = {"error": "RecordNotFound", "description": "Not found"}
NO_ROUTE = {"error": "InvalidEndpoint", "description": "Not found"}


# -- missing route vs missing record ----------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "tickets/999999.json"),
        ("PUT", "tickets/999999.json"),
        ("DELETE", "tickets/999999.json"),
        ("GET", "tickets/999999/audits.json"),
        ("DELETE", "users/999999.json"),
        ("DELETE", "organizations/999999.json"),
        ("GET", "brands/999999.json"),
    ],
)
def test_a_missing_record_on_a_real_route_is_record_not_found(
    http: requests.Session, method: str, path: str
) -> None:
    answer = http.request(method, f"{API}/{path}", json={"ticket": {}})

    assert (answer.status_code, answer.json()) == (404, NOT_FOUND)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "ticket_metrics.json"),
        ("GET", "tickets/1/unknown.json"),
        ("DELETE", "groups/1.json"),
        ("POST", "brands.json"),
        ("GET", "incremental/organizations.json?start_time=0"),
    ],
)
def test_a_route_the_emulator_does_not_serve_is_invalid_endpoint(
    http: requests.Session, method: str, path: str
) -> None:
    answer = http.request(method, f"{API}/{path}")

    assert (answer.status_code, answer.json()) == (404, NO_ROUTE)


def test_the_connector_skips_a_missing_record_but_stops_on_a_missing_route(zenpy: Any) -> None:
    with pytest.raises(RecordNotFoundException) as missing_record:
        zenpy.tickets(id=999999)
    with pytest.raises(APIException) as missing_route:
        zenpy.ticket_metrics()

    assert not isinstance(missing_route.value, RecordNotFoundException)
    assert isinstance(translate(missing_record.value), RecordError)
    assert isinstance(translate(missing_route.value), ConfigError)


# -- brands -----------------------------------------------------------------------------------
def test_every_ticket_belongs_to_a_brand_the_account_has(
    zenpy: Any, seeded: ZendeskEmulator
) -> None:
    created = zenpy.tickets.create(Ticket(subject="s", description="d")).ticket
    brands = list(zenpy.brands())

    assert [b.default for b in brands] == [True]
    assert zenpy.brands(id=brands[0].id).name == brands[0].name
    assert {t["brand_id"] for t in seeded.tickets()} == {brands[0].id}
    assert created.brand_id == brands[0].id


def test_a_ticket_for_an_unknown_brand_is_refused(http: requests.Session) -> None:
    answer = http.post(
        f"{API}/tickets.json", json={"ticket": {"comment": {"body": "x"}, "brand_id": 7}}
    )

    assert answer.status_code == 422
    assert answer.json()["details"]["brand"][0]["error"] == "InvalidValue"


# -- audits -----------------------------------------------------------------------------------
def test_audits_list_each_change_of_a_ticket_oldest_first(zenpy: Any) -> None:
    ticket = zenpy.tickets.create(Ticket(subject="s", description="first")).ticket
    ticket.status = "open"
    zenpy.tickets.update(ticket)
    zenpy.tickets.update(Ticket(id=ticket.id))  # changes nothing: no audit

    audits = list(zenpy.tickets.audits(ticket=ticket.id))

    assert [a.ticket_id for a in audits] == [ticket.id, ticket.id]
    assert audits[0].events[0]["type"] == "Comment"
    assert audits[0].events[0]["body"] == "first"
    changes = [e for e in audits[1].events if e["type"] == "Change"]
    assert [(e["field_name"], e["previous_value"], e["value"]) for e in changes] == [
        ("status", "new", "open")
    ]


def test_a_seeded_ticket_has_the_audit_that_created_it(
    http: requests.Session, seeded: ZendeskEmulator
) -> None:
    ticket = seeded.tickets()[0]

    body = http.get(f"{API}/tickets/{ticket['id']}/audits.json").json()

    assert body["count"] == 1
    assert body["audits"][0]["events"][0]["body"] == ticket["description"]


# -- time-based incremental exports -----------------------------------------------------------
def _follow(http: requests.Session, emulator: ZendeskEmulator, url: str) -> list[dict[str, Any]]:
    """Every page, waiting out the exports' 10-a-minute budget on the emulator clock."""
    pages = []
    while True:
        answer = http.get(url)
        if answer.status_code == 429:
            emulator.advance_clock(int(answer.headers["Retry-After"]))
            continue
        page = answer.json()
        pages.append(page)
        if page["end_of_stream"]:
            return pages
        url = page["next_page"]


def test_time_based_ticket_export_pages_by_end_time_and_repeats_the_boundary_second(
    http: requests.Session, seeded: ZendeskEmulator
) -> None:
    start = int(seeded.now()) - 400 * 24 * 3600
    every = {t["id"] for t in seeded.tickets()}

    pages = _follow(http, seeded, f"{API}/incremental/tickets.json?start_time={start}&per_page=50")

    exported = [t["id"] for page in pages for t in page["tickets"]]
    assert set(exported) == every
    for page in pages:
        assert set(page) == {"tickets", "count", "end_of_stream", "next_page", "end_time"}
        assert page["count"] == len(page["tickets"])
        assert page["next_page"].endswith(f"start_time={page['end_time']}")
        seconds = [t["generated_timestamp"] for t in page["tickets"]]
        if seconds and len(set(seconds)) > 1:
            assert page["end_time"] == max(seconds)  # the next page starts on that second again
        elif seconds:
            assert page["end_time"] == seconds[0] + 1


def test_a_page_within_one_second_holds_the_whole_second(
    http: requests.Session, zenpy: Any, emulator: ZendeskEmulator
) -> None:
    emulator.advance_clock(1.01 - emulator.now() % 1)  # a fresh second, after the agent's
    start = int(emulator.now())
    zenpy.users.create(User(name="Pat", email="pat@example.com"))
    zenpy.users.create(User(name="Sam", email="sam@example.com"))
    emulator.advance_clock(120)

    page = http.get(f"{API}/incremental/users.json?start_time={start}&per_page=1").json()

    assert [u["name"] for u in page["users"]] == ["Pat", "Sam"]
    assert page["count"] == 2
    assert page["end_time"] == start + 1
    assert page["next_page"].endswith(f"start_time={start + 1}")


def test_zenpy_reads_the_time_based_user_export_with_deleted_users(
    zenpy: Any, emulator: ZendeskEmulator
) -> None:
    start = int(emulator.now()) - 3600
    user = zenpy.users.create(User(name="Pat", email="pat@example.com"))
    zenpy.users.delete(user)
    emulator.advance_clock(120)

    exported = {u.id: u for u in zenpy.users.incremental(start_time=start, paginate_by_time=True)}

    assert exported[user.id].active is False
    assert exported[user.id].to_dict()["permanently_deleted"] is False
    assert exported[emulator.agent_id].to_dict().get("permanently_deleted") is None


def test_the_ticket_event_export_lists_each_update_and_its_comments_when_asked(
    zenpy: Any, http: requests.Session, emulator: ZendeskEmulator
) -> None:
    start = int(emulator.now()) - 3600
    ticket = zenpy.tickets.create(
        Ticket(subject="Slow", comment={"body": "First note", "public": False})
    ).ticket
    ticket.comment = {"body": "Second note [nps-sync k1]", "public": False}
    ticket.status = "open"
    zenpy.tickets.update(ticket)
    emulator.advance_clock(120)
    url = f"{API}/incremental/ticket_events.json?start_time={start}"

    bare = http.get(url).json()
    full = http.get(f"{url}&include=comment_events").json()

    assert set(full) == {"ticket_events", "count", "end_of_stream", "next_page", "end_time"}
    events = [e for e in full["ticket_events"] if e["ticket_id"] == ticket.id]
    assert [e["event_type"] for e in events] == ["Audit", "Audit"]  # created, then updated
    comments = [c for e in events for c in e["child_events"] if c["event_type"] == "Comment"]
    assert [c["body"] for c in comments] == ["First note", "Second note [nps-sync k1]"]
    assert all(
        c["public"] is False and c["audit_id"] == e["id"]
        for c, e in zip(comments, events, strict=True)
    )
    changes = [c for c in events[1]["child_events"] if c["event_type"] == "Change"]
    assert {"status": "open", "previous_value": "new"}.items() <= changes[0].items()
    plain = [c for e in bare["ticket_events"] for c in e["child_events"]]
    assert all("body" not in c for c in plain)  # without the sideload: only that one is there
    assert {"comment_present": True, "comment_public": False}.items() <= plain[0].items()
    read = list(zenpy.tickets.events(start_time=start, include="comment_events"))
    assert [e.id for e in read] == [e["id"] for e in full["ticket_events"]]


def test_the_ticket_event_export_pages_by_time_from_a_start_older_than_a_minute(
    zenpy: Any, http: requests.Session, emulator: ZendeskEmulator
) -> None:
    start = int(emulator.now()) - 3600
    made = []
    for n in range(3):
        made.append(zenpy.tickets.create(Ticket(subject=f"t{n}", comment={"body": "b"})).ticket)
        emulator.advance_clock(2)
    emulator.advance_clock(120)

    pages = _follow(
        http, emulator, f"{API}/incremental/ticket_events.json?start_time={start}&per_page=1"
    )
    recent = http.get(f"{API}/incremental/ticket_events.json?start_time={int(emulator.now()) - 30}")

    exported = [e["ticket_id"] for page in pages for e in page["ticket_events"]]
    assert [t.id for t in made] == [i for i in exported if i in {t.id for t in made}]
    assert all(p["next_page"].endswith(f"start_time={p['end_time']}") for p in pages)
    assert recent.status_code == 400


def test_time_based_exports_share_the_incremental_budget(
    serve: Callable[..., tuple[ZendeskEmulator, str]],
    make_raw: Callable[[str], requests.Session],
) -> None:
    emulator, url = serve(incremental_rate_limit_per_minute=3)
    emulator.use_clock(ManualClock(time.time()))  # no minute may end between the requests
    http = make_raw(url)
    start = int(emulator.now()) - 3600
    paths = (
        "incremental/tickets.json",
        "incremental/users.json",
        "incremental/tickets/cursor.json",
        "incremental/ticket_events.json",
    )

    answers = [http.get(f"{API}/{path}?start_time={start}") for path in (*paths, paths[1])]

    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    assert answers[0].headers["zendesk-ratelimit-incremental-exports"].startswith("total=3;")
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 60


# -- deletes ----------------------------------------------------------------------------------
def test_a_deleted_ticket_is_gone_from_reads_and_exported_as_deleted(
    zenpy: Any, http: requests.Session, emulator: ZendeskEmulator
) -> None:
    start = int(emulator.now()) - 3600
    ticket = zenpy.tickets.create(Ticket(subject="s", description="d", external_id="k1")).ticket

    zenpy.tickets.delete(ticket)

    with pytest.raises(RecordNotFoundException):
        zenpy.tickets(id=ticket.id)
    assert http.get(f"{API}/tickets.json?external_id=k1").json()["tickets"] == []
    emulator.advance_clock(120)
    exported = http.get(f"{API}/incremental/tickets/cursor.json?start_time={start}").json()
    assert [(t["id"], t["status"]) for t in exported["tickets"]] == [(ticket.id, "deleted")]


def test_a_deleted_user_is_inactive_and_frees_its_email(zenpy: Any) -> None:
    user = zenpy.users.create(User(name="Pat", email="pat@example.com"))

    deleted = zenpy.users.delete(user)
    again = zenpy.users.create(User(name="Pat again", email="pat@example.com"))

    assert (deleted.active, deleted.email) == (False, None)
    assert zenpy.users(id=user.id).active is False
    assert again.id != user.id


def test_a_deleted_organization_leaves_its_members_without_one(zenpy: Any) -> None:
    organization = zenpy.organizations.create(Organization(name="Acme Corp"))
    member = zenpy.users.create(
        User(name="Pat", email="pat@example.com", organization_id=organization.id)
    )

    zenpy.organizations.delete(organization)

    with pytest.raises(RecordNotFoundException):
        zenpy.organizations(id=organization.id)
    assert zenpy.users(id=member.id).organization_id is None


# -- general search ---------------------------------------------------------------------------
def test_search_finds_a_user_by_email_with_its_result_type(
    zenpy: Any, http: requests.Session, emulator: ZendeskEmulator
) -> None:
    user = zenpy.users.create(User(name="Pat", email="pat@example.com"))

    found = list(zenpy.search(type="user", email="PAT@example.com"))
    raw = http.get(f"{API}/search.json", params={"query": "type:user email:pat@example.com"})

    assert [(type(u).__name__, u.id) for u in found] == [("User", user.id)]
    body = raw.json()
    assert set(body) == {"results", "facets", "next_page", "previous_page", "count"}
    assert [(r["result_type"], r["id"]) for r in body["results"]] == [("user", user.id)]


def test_search_finds_tickets_by_exact_terms(zenpy: Any) -> None:
    pat = zenpy.users.create(User(name="Pat", email="pat@example.com"))
    wanted = zenpy.tickets.create(
        Ticket(subject="s", description="d", requester_id=pat.id, external_id="nps:1")
    ).ticket
    zenpy.tickets.create(Ticket(subject="s", description="d", external_id="nps:2"))

    by_requester = list(zenpy.search(type="ticket", requester="pat@example.com"))
    by_key = list(zenpy.search(type="ticket", external_id="nps:1", status="new"))

    assert [t.id for t in by_requester] == [wanted.id]
    assert [t.id for t in by_key] == [wanted.id]


def test_search_lags_behind_new_records(
    serve: Callable[..., tuple[ZendeskEmulator, str]], make_zenpy: Callable[..., Any]
) -> None:
    emulator, url = serve(search_index_delay_seconds=120)
    zenpy = make_zenpy(url)
    zenpy.users.create(User(name="Pat", email="pat@example.com"))

    before = list(zenpy.search(type="user", email="pat@example.com"))
    emulator.advance_clock(121)
    after = list(zenpy.search(type="user", email="pat@example.com"))

    assert (len(before), len(after)) == (0, 1)


@pytest.mark.parametrize(
    ("query", "status", "error"),
    [
        ("type:user pat", 400, "UnsupportedQuery"),
        ("type:user email:pat*", 400, "UnsupportedQuery"),
        ("type:ticket status<solved", 400, "UnsupportedQuery"),
        ("email:pat@example.com", 400, "UnsupportedQuery"),
    ],
)
def test_search_refuses_what_it_cannot_answer_exactly(
    http: requests.Session, query: str, status: int, error: str
) -> None:
    answer = http.get(f"{API}/search.json", params={"query": query})

    assert (answer.status_code, answer.json()["error"]) == (status, error)


def test_search_pages_stop_at_one_thousand_results(
    http: requests.Session, seeded: ZendeskEmulator
) -> None:
    query = {"query": "type:ticket status:new", "per_page": "100"}

    beyond = http.get(f"{API}/search.json", params={**query, "page": "11"})

    assert (beyond.status_code, beyond.json()["error"]) == (422, "invalid")


# -- rate limit -------------------------------------------------------------------------------
def test_unauthenticated_calls_spend_the_account_budget(
    serve: Callable[..., tuple[ZendeskEmulator, str]],
    make_raw: Callable[[str], requests.Session],
) -> None:
    _emulator, url = serve(rate_limit_per_minute=3)
    http = make_raw(url)

    refused = [http.get(f"{API}/users/me.json", auth=("x/token", "y")) for _ in range(3)]
    signed_in = http.get(f"{API}/users/me.json")

    assert [a.status_code for a in refused] == [401, 401, 401]
    assert signed_in.status_code == 429
    assert signed_in.json()["error"] == "APIRateLimitExceeded"
