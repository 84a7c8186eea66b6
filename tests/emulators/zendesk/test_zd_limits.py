"""Authentication, rate limits, injected faults and error bodies."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
import requests
from zenpy.lib.exception import RatelimitBudgetExceeded

from connectors.transport import make_session
from emulators.base import EmulatorServer, Fault
from emulators.zendesk import ZendeskEmulator

API = "https://acme.zendesk.com/api/v2"
RATE_HEADERS = (
    "X-Rate-Limit",
    "X-Rate-Limit-Remaining",
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
)


def basic(user: str, secret: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        basic("agent@acme.example/token", "WRONG"),
        basic("agent@acme.example", "TOKEN"),  # a password, not an API token
        basic("someone@acme.example/token", "TOKEN"),
        {"Authorization": "Bearer not-issued"},
    ],
)
def test_requests_without_valid_credentials_are_refused(
    emulator: ZendeskEmulator, server_session: requests.Session, headers: dict[str, str]
) -> None:
    answer = server_session.get(f"{API}/users/me.json", headers=headers)

    assert answer.status_code == 401
    assert answer.json() == {"error": "Couldn't authenticate you"}
    assert emulator.calls["users_me"] == 1


def test_added_api_and_oauth_tokens_act_as_their_users(
    emulator: ZendeskEmulator, server_session: requests.Session
) -> None:
    emulator.add_api_token("ops@acme.example", "OPS-TOKEN")
    emulator.add_oauth_token("oauth-123")

    as_ops = server_session.get(
        f"{API}/users/me.json", headers=basic("ops@acme.example/token", "OPS-TOKEN")
    )
    as_oauth = server_session.get(
        f"{API}/users/me.json", headers={"Authorization": "Bearer oauth-123"}
    )

    assert as_ops.json()["user"]["email"] == "ops@acme.example"
    assert as_oauth.json()["user"]["id"] == emulator.agent_id


def test_the_minute_budget_runs_out_with_an_integer_retry_after(
    serve: Callable[..., tuple[ZendeskEmulator, str]],
    make_raw: Callable[[str], requests.Session],
) -> None:
    emulator, url = serve(rate_limit_per_minute=3)
    http = make_raw(url)

    answers = [http.get(f"{API}/groups.json") for _ in range(4)]

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["X-Rate-Limit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert answers[-1].json()["error"] == "APIRateLimitExceeded"
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 60
    assert all(header in answers[-1].headers for header in RATE_HEADERS)
    emulator.advance_clock(60)
    assert http.get(f"{API}/groups.json").status_code == 200


def test_every_answer_carries_the_rate_limit_headers(http: requests.Session) -> None:
    answers = [
        http.get(f"{API}/groups.json"),
        http.get(f"{API}/tickets/1.json"),
        http.get(f"{API}/no_such_endpoint.json"),
        http.get(f"{API}/users/me.json", auth=("x/token", "y")),
    ]

    assert [a.status_code for a in answers] == [200, 404, 404, 401]
    for answer in answers:
        assert all(header in answer.headers for header in RATE_HEADERS)
        assert answer.headers["X-Rate-Limit"] == "700"


def test_zenpy_waits_out_an_injected_429_and_retries(zenpy: Any, emulator: ZendeskEmulator) -> None:
    emulator.inject(Fault("429", count=1, endpoint="^groups_list$", retry_after=1))

    groups = [g.name for g in zenpy.groups()]

    assert groups == ["Support", "Customer Success"]
    assert emulator.fault_log == [("groups_list", "429")]
    assert emulator.calls["groups_list"] == 2


def test_zenpy_gives_up_when_retry_after_exceeds_its_budget(
    server_url: str, emulator: ZendeskEmulator, make_zenpy: Callable[..., Any]
) -> None:
    zenpy = make_zenpy(server_url, ratelimit_budget=1)
    emulator.inject(Fault("429", count=1, endpoint="^groups_list$", retry_after=120))

    with pytest.raises(RatelimitBudgetExceeded):
        list(zenpy.groups())


@pytest.mark.parametrize(
    ("kind", "status", "error"),
    [("500", 500, "InternalServerError"), ("503", 503, "ServiceUnavailable")],
)
def test_injected_server_errors_have_zendesk_bodies(
    http: requests.Session, emulator: ZendeskEmulator, kind: str, status: int, error: str
) -> None:
    emulator.inject(Fault(kind, count=1, endpoint="^tickets_show$"))

    answer = http.get(f"{API}/tickets/1.json")

    assert (answer.status_code, answer.json()["error"]) == (status, error)


def test_an_unknown_endpoint_is_invalid_endpoint(http: requests.Session) -> None:
    answer = http.get(f"{API}/tickets/1/unknown.json")

    assert answer.status_code == 404
    assert answer.json() == {"error": "InvalidEndpoint", "description": "Not found"}


@pytest.fixture
def server_url(server: EmulatorServer) -> str:
    return server.url


@pytest.fixture
def server_session(server: EmulatorServer, emulator: ZendeskEmulator) -> requests.Session:
    """A session with no credentials of its own."""
    return make_session({"https://acme.zendesk.com": server.url})
