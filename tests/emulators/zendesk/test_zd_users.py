"""Users through zenpy and raw HTTP: lookups, exact-email search, field writes, bulk jobs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests
from zenpy.lib.api_objects import User

from emulators.zendesk import ZendeskEmulator

API = "https://acme.zendesk.com/api/v2"


def plain(zenpy_object: Any) -> dict[str, Any]:
    """A zenpy object's attributes without the ``None`` padding zenpy adds."""
    return {k: v for k, v in zenpy_object.to_dict().items() if v is not None}


def make_user(zenpy: Any, **fields: Any) -> Any:
    values = {"name": "Jo Doe", "email": "Jo.Doe@Example.com", "external_id": "003AB0000001"}
    values.update(fields)
    return zenpy.users.create(User(**values))


@pytest.mark.parametrize(
    "query",
    ["email:jo.doe@example.com", 'email:"JO.DOE@example.com"', "  email: jo.doe@EXAMPLE.COM "],
)
def test_search_finds_a_user_by_exact_email_whatever_the_case_or_quoting(
    zenpy: Any, query: str
) -> None:
    user = make_user(zenpy)
    make_user(zenpy, email="jo.doe@example.org", external_id=None, name="Another Jo")

    assert [u.id for u in zenpy.users.search(query=query)] == [user.id]


@pytest.mark.parametrize(
    "query",
    ["jo.doe@example.com", "name:Jo", "email:jo.doe@example.com type:user", "email:jo*"],
)
def test_search_refuses_anything_but_one_exact_email_term(
    http: requests.Session, zenpy: Any, query: str
) -> None:
    make_user(zenpy)

    answer = http.get(f"{API}/users/search.json", params={"query": query})

    assert answer.status_code == 400
    assert answer.json()["error"] == "UnsupportedQuery"


def test_search_needs_a_query_or_an_external_id(http: requests.Session) -> None:
    answer = http.get(f"{API}/users/search.json")

    assert (answer.status_code, answer.json()["error"]) == (400, "InvalidSearch")


def test_search_for_an_unknown_email_finds_nobody(zenpy: Any) -> None:
    make_user(zenpy)

    assert list(zenpy.users.search(query="email:someone.else@example.com")) == []


def test_external_ids_are_matched_without_regard_to_case(
    zenpy: Any, http: requests.Session
) -> None:
    user = make_user(zenpy, external_id="003AB0000001XyZ")

    by_show_many = [u.id for u in zenpy.users(external_id="003ab0000001xyz")]
    by_search = http.get(f"{API}/users/search", params={"external_id": "003AB0000001XYZ"})
    by_list = http.get(f"{API}/users.json", params={"external_id": "003ab0000001XYZ"})

    assert by_show_many == [user.id]
    assert [u["id"] for u in by_search.json()["users"]] == [user.id]
    assert [u["id"] for u in by_list.json()["users"]] == [user.id]


@pytest.mark.parametrize(
    ("change", "field", "description", "error"),
    [
        (
            {"email": "JO.DOE@example.com"},
            "email",
            "Email: jo.doe@example.com is already being used by another user",
            "DuplicateValue",
        ),
        (
            {"external_id": "003ab0000001"},
            "external_id",
            "External: 003ab0000001 has already been taken",
            "DuplicateValue",
        ),
        (
            {"email": "not-an-address"},
            "email",
            "Email: not-an-address is not properly formatted",
            "InvalidFormat",
        ),
        ({"name": ""}, "name", "Name: is too short (minimum is 1 character)", "TooShort"),
    ],
)
def test_a_second_user_breaking_a_uniqueness_or_format_rule_gets_record_invalid(
    zenpy: Any,
    http: requests.Session,
    change: dict[str, str],
    field: str,
    description: str,
    error: str,
) -> None:
    make_user(zenpy)
    body = {"name": "Second", "email": "second@example.com", "external_id": "003AB0000002"}

    answer = http.post(f"{API}/users.json", json={"user": {**body, **change}})

    assert answer.status_code == 422
    assert answer.json() == {
        "error": "RecordInvalid",
        "description": "Record validation errors",
        "details": {field: [{"description": description, "error": error}]},
    }


def test_user_fields_are_coerced_and_unknown_keys_ignored(zenpy: Any) -> None:
    user = make_user(zenpy)
    user.user_fields = {"nps_score": "8", "nps_date": "2026-11-20T10:00:00Z", "not_a_field": 1}

    updated = zenpy.users.update(user)

    assert dict(updated.user_fields) == {
        "nps_score": 8,
        "nps_category": None,
        "nps_date": "2026-11-20",
    }


def test_a_value_the_field_type_cannot_hold_is_rejected(zenpy: Any, http: requests.Session) -> None:
    user = make_user(zenpy)

    answer = http.put(
        f"{API}/users/{user.id}.json", json={"user": {"user_fields": {"nps_score": "nine"}}}
    )

    assert answer.status_code == 422
    assert answer.json()["details"] == {
        "nps_score": [{"description": "NPS score: is not a number", "error": "InvalidValue"}]
    }


def test_a_removed_user_field_swallows_writes_silently(
    zenpy: Any, emulator: ZendeskEmulator
) -> None:
    user = make_user(zenpy)
    emulator.remove_user_field("nps_score")
    user.user_fields = {"nps_score": 10, "nps_category": "promoter"}

    updated = zenpy.users.update(user)

    assert dict(updated.user_fields) == {"nps_category": "promoter", "nps_date": None}


def test_update_many_applies_each_change_and_reports_per_user_results(
    zenpy: Any, emulator: ZendeskEmulator, finished: Callable[[Any], Any]
) -> None:
    first = make_user(zenpy)
    second = make_user(zenpy, email="two@example.com", external_id="003AB0000002")
    changes = [
        User(id=first.id, user_fields={"nps_score": 10, "nps_category": "promoter"}),
        User(id=second.id, user_fields={"nps_score": 2, "nps_category": "detractor"}),
        User(id=999_999, user_fields={"nps_score": 5}),
    ]

    job = zenpy.users.update(changes)
    done = finished(job)

    assert (job.status, done.status) == ("queued", "completed")
    assert [plain(r) for r in done.results] == [
        {"id": first.id, "action": "update", "status": "Updated", "success": True},
        {"id": second.id, "action": "update", "status": "Updated", "success": True},
        {"index": 2, "error": "RecordNotFound", "id": 999_999, "details": "Not found"},
    ]
    scores = {u["id"]: u["user_fields"]["nps_score"] for u in emulator.users()}
    assert (scores[first.id], scores[second.id]) == (10, 2)


def test_create_or_update_matches_an_existing_user_by_email_or_external_id(
    zenpy: Any, http: requests.Session
) -> None:
    user = make_user(zenpy)

    created = http.post(
        f"{API}/users/create_or_update.json",
        json={"user": {"name": "New", "email": "new@example.com"}},
    )
    by_email = http.post(
        f"{API}/users/create_or_update.json",
        json={"user": {"email": "JO.DOE@example.com", "phone": "+1 555 0100"}},
    )
    by_external_id = http.post(
        f"{API}/users/create_or_update",
        json={"user": {"external_id": "003ab0000001", "name": "Joanna Doe"}},
    )

    assert created.status_code == 201
    assert created.headers["Location"].startswith(f"{API}/users/")
    assert (by_email.status_code, by_email.json()["user"]["id"]) == (200, user.id)
    assert by_external_id.json()["user"] == {
        **by_external_id.json()["user"],
        "id": user.id,
        "name": "Joanna Doe",
        "phone": "+1 555 0100",
        "external_id": "003ab0000001",  # Zendesk adopts the case used to find the user
    }


def test_create_or_update_many_creates_and_updates_in_one_job(
    zenpy: Any, emulator: ZendeskEmulator, finished: Callable[[Any], Any]
) -> None:
    user = make_user(zenpy)

    job = zenpy.users.create_or_update(
        [User(email="jo.doe@example.com", notes="vip"), User(name="Fresh", email="f@example.com")]
    )
    results = [plain(r) for r in finished(job).results]

    assert [(r["index"], r["status"], r["success"]) for r in results] == [
        (0, "Updated", True),
        (1, "Created", True),
    ]
    assert results[0]["id"] == user.id
    assert {u["email"] for u in emulator.users()} >= {"jo.doe@example.com", "f@example.com"}


@pytest.mark.parametrize(
    ("method", "path", "description"),
    [
        ("POST", "users/create_many", "Maximum 100 users may be created per call"),
        ("PUT", "users/update_many", "Maximum 100 users may be updated per call"),
        (
            "POST",
            "users/create_or_update_many",
            "Maximum 100 users may be created or updated per call",
        ),
    ],
)
def test_more_than_100_users_in_one_call_is_too_many_values(
    http: requests.Session, emulator: ZendeskEmulator, method: str, path: str, description: str
) -> None:
    users = [{"name": f"u{i}", "email": f"u{i}@example.com"} for i in range(101)]

    answer = http.request(method, f"{API}/{path}.json", json={"users": users})

    assert answer.status_code == 400
    assert answer.json() == {"error": "TooManyValues", "description": description}
    assert len(emulator.users()) == 1  # only the default agent: nothing was applied


def test_new_users_reach_search_only_after_the_indexing_delay(
    serve: Callable[..., tuple[ZendeskEmulator, str]], make_zenpy: Callable[..., Any]
) -> None:
    emulator, url = serve(search_index_delay_seconds=120)
    zenpy = make_zenpy(url)
    user = make_user(zenpy)

    before = list(zenpy.users.search(query="email:jo.doe@example.com"))
    emulator.advance_clock(121)
    after = [u.id for u in zenpy.users.search(query="email:jo.doe@example.com")]

    assert before == []
    assert zenpy.users(id=user.id).id == user.id  # reads by id are immediate
    assert after == [user.id]


def test_requested_tickets_lists_only_that_users_tickets(
    zenpy: Any, http: requests.Session
) -> None:
    user = make_user(zenpy)
    for requester in (user.id, user.id, None):
        body: dict[str, Any] = {"subject": "s", "comment": {"body": "b"}}
        if requester is not None:
            body["requester_id"] = requester
        http.post(f"{API}/tickets.json", json={"ticket": body}).raise_for_status()

    requested = [t.requester_id for t in zenpy.users.requested(user.id)]

    assert requested == [user.id, user.id]
