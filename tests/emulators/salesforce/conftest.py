"""Fixtures: a fresh Salesforce emulator per test, served on loopback, and the real client.

One loopback server lives for the whole session and forwards each request to the current test's
emulator: starting and stopping a server per test costs half a second (its shutdown poll).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, cast

import pytest
import requests
from simple_salesforce.api import Salesforce, SFType
from simple_salesforce.exceptions import SalesforceError

from connectors.transport import make_session
from emulators.base import EmulatorApp, EmulatorServer, Request, Response
from emulators.salesforce import SalesforceEmulator

INSTANCE_URL = "https://acme.my.salesforce.com"
PUBLIC_ORIGINS = (INSTANCE_URL, "https://login.salesforce.com", "https://test.salesforce.com")


@pytest.fixture
def emulator() -> SalesforceEmulator:
    return SalesforceEmulator(seed=1)


class Switchboard(EmulatorApp):
    """Forwards every request to the emulator of the running test."""

    system = "switchboard"

    def __init__(self) -> None:
        super().__init__()
        self.target: EmulatorApp | None = None

    def dispatch(self, request: Request) -> Response:
        assert self.target is not None, "no emulator attached to the shared server"
        return self.target.dispatch(request)


@pytest.fixture(scope="session")
def shared_server() -> Iterator[tuple[Switchboard, EmulatorServer]]:
    board = Switchboard()
    with EmulatorServer(board) as running:
        yield board, running


@pytest.fixture
def server(
    emulator: SalesforceEmulator, shared_server: tuple[Switchboard, EmulatorServer]
) -> Iterator[EmulatorServer]:
    board, running = shared_server
    board.target = emulator
    yield running
    board.target = None


@pytest.fixture
def http(server: EmulatorServer) -> requests.Session:
    """A requests session that sends the public Salesforce hosts to the emulator."""
    return make_session(dict.fromkeys(PUBLIC_ORIGINS, server.url), timeout=5)


@pytest.fixture
def sf(emulator: SalesforceEmulator, http: requests.Session) -> Salesforce:
    """simple-salesforce with session-id auth, as the connector's ``session`` method uses it."""
    return Salesforce(
        instance_url=INSTANCE_URL,
        session_id=emulator.issue_session(),
        session=http,
        version="59.0",
    )


@pytest.fixture
def sobject(sf: Salesforce) -> Callable[[str], SFType]:
    """``sobject("Contact")`` is ``sf.Contact``, typed (the client types it as a union)."""
    return lambda name: cast(SFType, getattr(sf, name))


ErrorArray = Callable[[BaseException], list[dict[str, Any]]]


@pytest.fixture
def error_array() -> ErrorArray:
    """The parsed Salesforce error array of a simple-salesforce exception.

    The client stores the decoded JSON in ``content`` but annotates it as bytes.
    """

    def parse(exc: BaseException) -> list[dict[str, Any]]:
        assert isinstance(exc, SalesforceError)
        return cast(list[dict[str, Any]], exc.content)

    return parse
