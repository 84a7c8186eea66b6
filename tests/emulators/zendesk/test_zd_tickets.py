"""Tickets through zenpy and raw HTTP: creation rules, comments, idempotency, bulk jobs."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from zenpy.lib.api_objects import Comment, CustomField, Ticket, User
from zenpy.lib.exception import APIException, RecordNotFoundException

from emulators.zendesk import ZendeskEmulator

API = "https://acme.zendesk.com/api/v2"


def post_ticket(http: requests.Session, **fields: Any) -> requests.Response:
    body = {"subject": "NPS 3 from Jo", "comment": {"body": "Too slow.", "public": False}}
    body.update(fields)
    return http.post(f"{API}/tickets.json", json={"ticket": body})


def test_a_ticket_for_an_unknown_requester_email_creates_the_end_user(
    zenpy: Any, emulator: ZendeskEmulator
) -> None:
    audit = zenpy.tickets.create(
        Ticket(
            subject="Detractor: 3",
            comment=Comment(body="Survey says: too slow", public=False),
            requester=User(email="Pat.Lee@Example.com", name="Pat Lee"),
            external_id="nps:resp-1",
        )
    )
    again = zenpy.tickets.create(
        Ticket(subject="again", description="x", requester=User(email="pat.lee@example.com"))
    )

    requester = next(u for u in emulator.users() if u["id"] == audit.ticket.requester_id)
    assert (requester["name"], requester["email"], requester["role"]) == (
        "Pat Lee",
        "pat.lee@example.com",
        "end-user",
    )
    assert again.ticket.requester_id == requester["id"]
    assert audit.ticket.submitter_id == emulator.agent_id
    assert (audit.ticket.status, audit.ticket.is_public) == ("new", False)
    assert [c["body"] for c in emulator.comments(audit.ticket.id)] == ["Survey says: too slow"]


@pytest.mark.parametrize(
    ("fields", "details"),
    [
        (
            {"group_id": 424242},
            {"group": [{"description": "Group: is invalid", "error": "InvalidValue"}]},
        ),
        (
            {"assignee_id": "end-user"},
            {"assignee": [{"description": "Assignee: is invalid", "error": "InvalidValue"}]},
        ),
        (
            {"priority": "critical"},
            {
                "priority": [
                    {"description": "Priority: critical is not valid", "error": "InvalidValue"}
                ]
            },
        ),
        (
            {"comment": {"body": "  "}},
            {"base": [{"description": "Description: cannot be blank", "error": "BlankValue"}]},
        ),
        (
            {"group_id": ["not", "an", "id"]},
            {"group": [{"description": "Group: is invalid", "error": "InvalidValue"}]},
        ),
        (
            {"requester_id": 424242},
            {"requester": [{"description": "Requester: is invalid", "error": "InvalidValue"}]},
        ),
    ],
)
def test_an_invalid_ticket_is_refused_with_record_invalid_and_nothing_is_stored(
    http: requests.Session,
    emulator: ZendeskEmulator,
    fields: dict[str, Any],
    details: dict[str, Any],
) -> None:
    if fields.get("assignee_id") == "end-user":
        end_user = http.post(f"{API}/users", json={"user": {"name": "E", "email": "e@x.com"}})
        fields = {"assignee_id": end_user.json()["user"]["id"]}

    answer = post_ticket(http, **fields)

    assert answer.status_code == 422
    assert answer.json() == {
        "error": "RecordInvalid",
        "description": "Record validation errors",
        "details": details,
    }
    assert emulator.tickets() == []


def test_external_id_is_not_unique_and_lookup_returns_every_match(
    zenpy: Any, http: requests.Session
) -> None:
    ids = [post_ticket(http, external_id="nps:resp-7").json()["ticket"]["id"] for _ in range(2)]
    post_ticket(http, external_id="nps:resp-8").raise_for_status()

    assert [t.id for t in zenpy.tickets(external_id="nps:resp-7")] == ids
    assert list(zenpy.tickets(external_id="nps:unknown")) == []


def test_a_private_comment_can_be_added_to_an_existing_ticket(
    zenpy: Any, emulator: ZendeskEmulator
) -> None:
    ticket = zenpy.tickets.create(Ticket(subject="s", description="first")).ticket
    emulator.advance_clock(5)
    ticket.comment = Comment(body="NPS follow-up: score 2", public=False)
    ticket.status = "open"

    audit = zenpy.tickets.update(ticket)

    comments = [(c.body, c.public) for c in zenpy.tickets.comments(ticket=ticket.id)]
    assert comments == [("first", True), ("NPS follow-up: score 2", False)]
    assert audit.ticket.status == "open"
    assert audit.ticket.updated_at > audit.ticket.created_at
    assert [e["type"] for e in audit.audit.events] == ["Comment", "Change"]


def test_a_closed_ticket_refuses_updates(http: requests.Session, emulator: ZendeskEmulator) -> None:
    ticket_id = post_ticket(http).json()["ticket"]["id"]
    emulator.close_ticket(ticket_id)

    answer = http.put(
        f"{API}/tickets/{ticket_id}.json", json={"ticket": {"comment": {"body": "late"}}}
    )

    assert answer.status_code == 422
    assert answer.json()["details"] == {
        "status": [
            {
                "description": "Status: closed prevents ticket update",
                "error": "ClosedPreventsUpdate",
            }
        ]
    }
    assert len(emulator.comments(ticket_id)) == 1


def test_agents_solving_and_reopening_move_the_ticket_and_its_timestamp(
    http: requests.Session, emulator: ZendeskEmulator
) -> None:
    ticket_id = post_ticket(http).json()["ticket"]["id"]
    emulator.advance_clock(60)
    emulator.solve_ticket(ticket_id)
    solved = emulator.ticket(ticket_id)
    emulator.reopen_ticket(ticket_id)

    assert solved["status"] == "solved"
    assert solved["updated_at"] > solved["created_at"]
    assert emulator.ticket(ticket_id)["status"] == "open"


def test_custom_fields_are_coerced_and_a_dropdown_value_becomes_a_tag(
    zenpy: Any, emulator: ZendeskEmulator
) -> None:
    score, category = (
        emulator.ticket_field_id("NPS Score"),
        emulator.ticket_field_id("NPS Category"),
    )

    ticket = zenpy.tickets.create(
        Ticket(
            subject="s",
            description="d",
            tags=["NPS", "survey response"],
            custom_fields=[
                CustomField(id=score, value="3"),
                CustomField(id=category, value="detractor"),
                CustomField(id=999, value="ignored"),
            ],
        )
    ).ticket

    values = {f["id"]: f["value"] for f in ticket.custom_fields}
    assert (values[score], values[category]) == (3, "detractor")
    assert 999 not in values
    assert ticket.tags == ["nps", "survey", "response", "detractor"]


def test_a_custom_value_the_field_cannot_hold_is_refused(
    http: requests.Session, emulator: ZendeskEmulator
) -> None:
    score = emulator.ticket_field_id("NPS Score")

    answer = post_ticket(http, custom_fields=[{"id": score, "value": "three"}])

    assert answer.status_code == 422
    assert answer.json()["details"]["base"] == [
        {
            "description": "NPS Score: is not a number",
            "error": "InvalidValue",
            "ticket_field_id": score,
            "ticket_field_type": "FieldInteger",
        }
    ]


def test_an_idempotency_key_replays_the_first_answer_instead_of_creating_twice(
    http: requests.Session, emulator: ZendeskEmulator
) -> None:
    key = {"Idempotency-Key": "nps-resp-42"}
    body = {"ticket": {"subject": "s", "comment": {"body": "b"}}}

    first = http.post(f"{API}/tickets.json", json=body, headers=key)
    repeat = http.post(f"{API}/tickets.json", json=body, headers=key)
    changed = http.post(
        f"{API}/tickets.json",
        json={"ticket": {"subject": "t", "comment": {"body": "b"}}},
        headers=key,
    )

    assert (first.status_code, first.headers["x-idempotency-lookup"]) == (201, "miss")
    assert (repeat.status_code, repeat.headers["x-idempotency-lookup"]) == (201, "hit")
    assert repeat.json()["ticket"]["id"] == first.json()["ticket"]["id"]
    assert changed.status_code == 400
    assert changed.json()["error"] == "IdempotentRequestError"
    assert len(emulator.tickets()) == 1


def test_an_idempotency_key_is_forgotten_after_its_window(
    http: requests.Session, emulator: ZendeskEmulator
) -> None:
    key = {"Idempotency-Key": "nps-resp-43"}
    body = {"ticket": {"subject": "s", "comment": {"body": "b"}}}

    http.post(f"{API}/tickets.json", json=body, headers=key).raise_for_status()
    emulator.advance_clock(2 * 3600 + 1)
    later = http.post(f"{API}/tickets.json", json=body, headers=key)

    assert later.headers["x-idempotency-lookup"] == "miss"
    assert len(emulator.tickets()) == 2


def test_create_many_is_a_job_that_advances_on_each_poll(
    serve: Callable[..., tuple[ZendeskEmulator, str]], make_zenpy: Callable[..., Any]
) -> None:
    emulator, url = serve(job_polls_to_complete=3)
    zenpy = make_zenpy(url)

    job = zenpy.tickets.create(
        [Ticket(subject=f"s{i}", description="d", external_id=f"nps:{i}") for i in range(4)]
    )
    polls = [zenpy.job_status(id=job.id) for _ in range(3)]

    assert [job.status] + [p.status for p in polls] == ["queued", "working", "working", "completed"]
    assert [p.progress for p in polls] == [1, 2, 4]
    assert polls[0].results is None
    assert job.url == f"https://acme.zendesk.com/api/v2/job_statuses/{job.id}.json"
    created = [r.id for r in polls[-1].results]
    assert created == [t["id"] for t in emulator.tickets()]
    assert [r.index for r in polls[-1].results] == [0, 1, 2, 3]


def test_create_many_applies_the_batch_before_anyone_polls(
    zenpy: Any, emulator: ZendeskEmulator
) -> None:
    """A client that loses the job id must still find what it created."""
    zenpy.tickets.create([Ticket(subject="s", description="d", external_id="nps:lost")])

    assert [t["external_id"] for t in emulator.tickets()] == ["nps:lost"]


def test_create_many_reports_a_failed_item_without_failing_the_others(
    http: requests.Session, finished_raw: Callable[[dict[str, Any]], dict[str, Any]]
) -> None:
    tickets = [
        {"subject": "ok", "comment": {"body": "b"}},
        {"subject": "no body"},
        {"subject": "ok too", "description": "b"},
    ]
    job = http.post(f"{API}/tickets/create_many.json", json={"tickets": tickets}).json()

    results = finished_raw(job)["results"]

    assert results[1] == {
        "index": 1,
        "error": "TicketCreateFailed",
        "details": "Description: cannot be blank",
    }
    assert [set(r) for r in (results[0], results[2])] == [{"index", "id", "account_id"}] * 2


@pytest.mark.parametrize(
    ("method", "path", "member"),
    [
        ("POST", "tickets/create_many", "tickets"),
        ("PUT", "tickets/update_many", "tickets"),
        ("PUT", "organizations/update_many", "organizations"),
    ],
)
def test_more_than_100_items_is_too_many_values(
    http: requests.Session, emulator: ZendeskEmulator, method: str, path: str, member: str
) -> None:
    items = [{"id": i, "subject": "s", "description": "d"} for i in range(101)]

    answer = http.request(method, f"{API}/{path}.json", json={member: items})

    assert answer.status_code == 400
    assert answer.json() == {
        "error": "TooManyValues",
        "description": "Parameter  cannot specify more than 100 values",
        "max_count": 100,
    }
    assert emulator.tickets() == []


def test_update_many_applies_one_change_to_the_listed_ids(
    http: requests.Session, emulator: ZendeskEmulator
) -> None:
    ids = [post_ticket(http).json()["ticket"]["id"] for _ in range(3)]

    job = http.put(
        f"{API}/tickets/update_many.json",
        params={"ids": f"{ids[0]},{ids[2]}"},
        json={"ticket": {"status": "solved", "additional_tags": ["nps_closed"]}},
    ).json()
    http.get(job["job_status"]["url"]).raise_for_status()

    statuses = {t["id"]: (t["status"], "nps_closed" in t["tags"]) for t in emulator.tickets()}
    assert statuses == {ids[0]: ("solved", True), ids[1]: ("new", False), ids[2]: ("solved", True)}


def test_show_many_returns_the_known_tickets_in_an_offset_page(
    zenpy: Any, http: requests.Session
) -> None:
    ids = [post_ticket(http).json()["ticket"]["id"] for _ in range(2)]

    page = http.get(f"{API}/tickets/show_many.json", params={"ids": f"{ids[1]},{ids[0]},999"})

    assert [t["id"] for t in page.json()["tickets"]] == ids
    assert (page.json()["count"], page.json()["next_page"]) == (2, None)
    assert [t.id for t in zenpy.tickets(ids=ids)] == ids


def test_an_unknown_ticket_is_record_not_found(zenpy: Any, http: requests.Session) -> None:
    with pytest.raises(RecordNotFoundException):
        zenpy.tickets(id=4040)
    answer = http.put(f"{API}/tickets/4040.json", json={"ticket": {"subject": "x"}})

    assert answer.status_code == 404
    assert answer.json() == {"error": "RecordNotFound", "description": "Not found"}


def test_zenpy_surfaces_record_invalid_as_an_api_exception(zenpy: Any) -> None:
    with pytest.raises(APIException, match="RecordInvalid"):
        zenpy.tickets.create(Ticket(subject="no comment"))


def test_job_statuses_show_many_polls_every_listed_job(
    serve: Callable[..., tuple[ZendeskEmulator, str]],
    make_raw: Callable[[str], requests.Session],
) -> None:
    emulator, url = serve(job_polls_to_complete=2)
    http = make_raw(url)
    jobs = [
        http.post(
            f"{API}/tickets/create_many.json",
            json={"tickets": [{"subject": "s", "comment": {"body": "b"}}]},
        ).json()["job_status"]["id"]
        for _ in range(2)
    ]
    listed = {"ids": ",".join([*jobs, "V3-00000000000000000000000000000000"])}

    rounds = [
        [
            (j["id"], j["status"])
            for j in http.get(f"{API}/job_statuses/show_many", params=listed).json()["job_statuses"]
        ]
        for _ in range(2)
    ]

    assert rounds == [
        [(jobs[0], "working"), (jobs[1], "working")],
        [(jobs[0], "completed"), (jobs[1], "completed")],
    ]
    assert emulator.calls["job_statuses_show_many"] == 2


def test_concurrent_creates_from_many_threads_get_distinct_tickets(
    http: requests.Session, emulator: ZendeskEmulator
) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda n: post_ticket(http, external_id=f"nps:{n}"), range(40)))

    ids = [a.json()["ticket"]["id"] for a in answers]
    assert sorted(ids) == list(range(1, 41))
    assert sorted(t["external_id"] for t in emulator.tickets()) == sorted(
        f"nps:{n}" for n in range(40)
    )
