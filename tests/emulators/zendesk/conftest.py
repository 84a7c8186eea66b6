"""Fixtures: a Zendesk emulator served over a real socket, the zenpy client and a raw session.

One server per test module (stopping a server takes half a second) and a fresh account per
test through ``ZendeskEmulator.reset``. Tests that need other settings start their own server
with the ``serve`` factory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from zenpy import Zenpy

from connectors.transport import make_session
from emulators.base import EmulatorServer
from emulators.seed import generate_seed
from emulators.seed_model import Seed
from emulators.zendesk import DEFAULT_AGENT_EMAIL, DEFAULT_TOKEN, ZendeskEmulator
from emulators.zendesk.jobs import REALISTIC_POLLS

PUBLIC = "https://acme.zendesk.com"


def raw_session(server_url: str) -> requests.Session:
    """A plain session authenticated as the default agent, for asserting on raw answers."""
    session = make_session({PUBLIC: server_url})
    session.auth = (f"{DEFAULT_AGENT_EMAIL}/token", DEFAULT_TOKEN)
    return session


def new_zenpy(server_url: str, **options: Any) -> Any:
    return Zenpy(
        subdomain="acme",
        email=DEFAULT_AGENT_EMAIL,
        token=DEFAULT_TOKEN,
        session=make_session({PUBLIC: server_url}),
        disable_cache=True,
        **options,
    )


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(ZendeskEmulator()) as running:
        yield running


def fresh_account(server: EmulatorServer) -> ZendeskEmulator:
    """The server's emulator, reset to a fresh account."""
    app = server.app
    assert isinstance(app, ZendeskEmulator)
    app.reset()
    return app


@pytest.fixture
def emulator(server: EmulatorServer) -> ZendeskEmulator:
    return fresh_account(server)


@pytest.fixture
def zenpy(server: EmulatorServer, emulator: ZendeskEmulator) -> Any:
    return new_zenpy(server.url)


@pytest.fixture
def http(server: EmulatorServer, emulator: ZendeskEmulator) -> requests.Session:
    return raw_session(server.url)


@pytest.fixture
def serve() -> Iterator[Callable[..., tuple[ZendeskEmulator, str]]]:
    """Start an emulator with other settings; answers the app and its loopback URL."""
    running: list[EmulatorServer] = []

    def start(**settings: Any) -> tuple[ZendeskEmulator, str]:
        app = ZendeskEmulator(**settings)
        running.append(EmulatorServer(app).start())
        return app, running[-1].url

    yield start
    for each in running:
        each.stop()


@pytest.fixture
def make_zenpy() -> Callable[..., Any]:
    """``make_zenpy(server_url, **zenpy_options)`` for servers started with ``serve``."""
    return new_zenpy


@pytest.fixture
def make_raw() -> Callable[[str], requests.Session]:
    """``make_raw(server_url)``: an authenticated raw session for another server."""
    return raw_session


@pytest.fixture(scope="module")
def book() -> Seed:
    """The default seed book of business."""
    return generate_seed(7)


@pytest.fixture
def seeded(emulator: ZendeskEmulator, book: Seed) -> ZendeskEmulator:
    """A fresh account holding ``book``."""
    emulator.load_seed(book)
    return emulator


def poll_until_done(poll: Callable[[], Any], status: Callable[[Any], str]) -> Any:
    """The job status once ``completed``, polling as a real client must (jobs take 1-3 polls)."""
    answer = None
    for _ in range(REALISTIC_POLLS[1]):
        answer = poll()
        if status(answer) == "completed":
            return answer
    raise AssertionError(f"job not completed after {REALISTIC_POLLS[1]} polls: {answer}")


@pytest.fixture
def finished(zenpy: Any) -> Callable[[Any], Any]:
    """``finished(job)``: zenpy's view of the job once it has completed."""
    return lambda job: poll_until_done(lambda: zenpy.job_status(id=job.id), lambda s: s.status)


@pytest.fixture
def finished_raw(http: requests.Session) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """``finished_raw(answer)``: the raw ``job_status`` of a bulk answer once it has completed."""

    def wait(answer: dict[str, Any]) -> dict[str, Any]:
        url = answer["job_status"]["url"]
        done: dict[str, Any] = poll_until_done(
            lambda: http.get(url).json()["job_status"], lambda s: s["status"]
        )
        return done

    return wait
