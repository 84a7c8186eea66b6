"""The demo world behaves like real accounts by default: the limits, job and search timings that
``nps-sync demo``, the end-to-end tests and the benchmark meet."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from connectors.transport import make_session
from emulators.world import REALISTIC_ZENDESK, ZD_HOST, EmulatedWorld
from emulators.zendesk import DEFAULT_AGENT_EMAIL, DEFAULT_TOKEN

API = f"{ZD_HOST}/api/v2"


@pytest.fixture(scope="module")
def world() -> Iterator[EmulatedWorld]:
    with EmulatedWorld(accounts=5, responses=0) as running:
        yield running


@pytest.fixture
def zendesk(world: EmulatedWorld) -> requests.Session:
    session = make_session(world.routes)
    session.auth = (f"{DEFAULT_AGENT_EMAIL}/token", DEFAULT_TOKEN)
    return session


def test_a_new_zendesk_user_is_searchable_only_after_the_index_lag(
    world: EmulatedWorld, zendesk: requests.Session
) -> None:
    lag = REALISTIC_ZENDESK["search_index_delay_seconds"]
    email = "new.customer@example.com"
    created = zendesk.post(f"{API}/users.json", json={"user": {"name": "New", "email": email}})
    query = {"query": f"email:{email}"}

    at_once = zendesk.get(f"{API}/users/search.json", params=query).json()["users"]
    world.zendesk.advance_clock(lag)
    later = zendesk.get(f"{API}/users/search.json", params=query).json()["users"]

    assert 0 < lag <= 10  # on, and small enough for a demo
    assert at_once == []
    assert [u["id"] for u in later] == [created.json()["user"]["id"]]


def test_zendesk_jobs_limits_and_exports_are_a_real_accounts(
    world: EmulatedWorld, zendesk: requests.Session
) -> None:
    job = zendesk.post(
        f"{API}/tickets/create_many.json",
        json={"tickets": [{"subject": "s", "comment": {"body": "b"}}]},
    )
    export = zendesk.get(f"{API}/incremental/tickets/cursor.json", params={"start_time": 0})

    assert job.json()["job_status"]["status"] == "queued"
    assert job.headers["X-Rate-Limit"] == "700"
    assert export.headers["zendesk-ratelimit-incremental-exports"].startswith("total=10;")


def test_salesforce_allows_100000_calls_a_day(world: EmulatedWorld) -> None:
    session = make_session(world.routes)
    token = world.salesforce.issue_session()
    answer = session.get(
        f"{world.salesforce.instance_url}/services/data/v59.0/limits/",
        headers={"Authorization": f"Bearer {token}"},
    )

    assert answer.headers["Sforce-Limit-Info"].endswith("/100000")
    assert answer.json()["DailyApiRequests"]["Max"] == 100_000
