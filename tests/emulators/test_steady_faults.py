"""Steady random faults (``nps-sync sandbox --faults``): the given fraction of the requests a real
client sends fail as the real APIs fail, the same ones for the same seed, and none at rate 0."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
import requests

from connectors.transport import make_session
from emulators.steady_faults import faults_served
from emulators.world import SF_HOST, ZD_HOST, EmulatedWorld
from emulators.zendesk import DEFAULT_AGENT_EMAIL, DEFAULT_TOKEN

USERS = f"{ZD_HOST}/api/v2/users.json"


@pytest.fixture
def world() -> Iterator[EmulatedWorld]:
    with EmulatedWorld(accounts=5, responses=0) as running:
        yield running


def zendesk(world: EmulatedWorld) -> requests.Session:
    session = make_session(world.routes)
    session.auth = (f"{DEFAULT_AGENT_EMAIL}/token", DEFAULT_TOKEN)
    return session


def create_users(world: EmulatedWorld, count: int) -> list[str]:
    """POST ``count`` new users one by one; what each answer was ("dropped": none came)."""
    session = zendesk(world)
    outcomes = []
    for n in range(count):
        user = {"user": {"name": f"User {n}", "email": f"user{n}@example.com"}}
        try:
            answer = session.post(USERS, json=user)
        except requests.ConnectionError:
            outcomes.append("dropped")
            continue
        retry_after = answer.headers.get("Retry-After")
        outcomes.append(f"{answer.status_code}" + (f" after {retry_after}" if retry_after else ""))
    return outcomes


def test_a_fraction_of_the_requests_fail_as_the_real_api_fails(world: EmulatedWorld) -> None:
    before = {u["id"] for u in world.zendesk.users()}
    world.inject_steady_faults(0.2, seed=11)

    outcomes = Counter(create_users(world, 200))

    failed = 200 - outcomes["201"]
    assert 20 <= failed <= 60  # 40 expected
    assert set(outcomes) == {"201", "429 after 2", "500", "503 after 1", "dropped"}
    served = faults_served(world.zendesk)
    assert sum(served.values()) == failed
    assert set(served) == {"429", "500", "503", "reset", "late"}
    assert served["reset"] + served["late"] == outcomes["dropped"]
    # A lost answer is a write that took effect: its user is there, a reset's is not.
    created = {u["id"] for u in world.zendesk.users()} - before
    assert len(created) == outcomes["201"] + served["late"]
    assert world.salesforce.total_calls() == 0  # each emulator draws for its own requests


def test_the_same_seed_fails_the_same_requests() -> None:
    runs = []
    for _ in range(2):
        with EmulatedWorld(accounts=5, responses=0) as world:
            world.inject_steady_faults(0.3, seed=5)
            runs.append(create_users(world, 40))
    assert runs[0] == runs[1]
    assert any(outcome != "201" for outcome in runs[0])


def test_a_rate_of_zero_fails_nothing(world: EmulatedWorld) -> None:
    world.inject_steady_faults(0.0, seed=11)
    assert all(not app.faults for app in world.apps())
    assert set(create_users(world, 50)) == {"201"}


def test_logins_are_spared_even_when_every_other_request_fails(world: EmulatedWorld) -> None:
    world.inject_steady_faults(1.0, seed=1)
    session = make_session(world.routes)
    login = session.post(
        f"{SF_HOST}/services/oauth2/token",
        data={
            "grant_type": "password",
            "client_id": "id",
            "client_secret": "secret",
            "username": "integration@acme.example",
            "password": "passwordTOKEN",
        },
    )
    assert login.status_code == 200, login.text
    token = login.json()["access_token"]
    statuses = []
    for _ in range(20):
        try:
            answer = session.get(
                f"{SF_HOST}/services/data/v60.0/limits",
                headers={"Authorization": f"Bearer {token}"},
            )
        except requests.ConnectionError:
            statuses.append("dropped")
            continue
        statuses.append(str(answer.status_code))
    assert set(statuses) <= {"500", "503", "dropped"}
    assert "200" not in statuses
    with pytest.raises(ValueError, match="from 0 to 1"):
        world.inject_steady_faults(1.5, seed=1)
