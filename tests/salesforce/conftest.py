"""Fixtures: an empty Salesforce emulator per test behind one shared loopback server, and the
real connector (simple-salesforce underneath) logged in to it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from connectors.salesforce.auth import SalesforceCredentials
from connectors.salesforce.client import SalesforceConnector
from connectors.transport import make_session
from emulators.base import EmulatorApp, EmulatorServer, Request, Reset, Response
from emulators.salesforce import (
    DEFAULT_PASSWORD,
    DEFAULT_TOKEN,
    DEFAULT_USERNAME,
    SalesforceEmulator,
)

INSTANCE_URL = "https://acme.my.salesforce.com"
ORIGINS = (INSTANCE_URL, "https://login.salesforce.com", "https://test.salesforce.com")
PASSWORD_LOGIN = SalesforceCredentials(
    instance_url=INSTANCE_URL,
    method="password",
    username=DEFAULT_USERNAME,
    password=DEFAULT_PASSWORD,
    security_token=DEFAULT_TOKEN,
)

ConnectorFactory = Callable[..., SalesforceConnector]


class Relay(EmulatorApp):
    """Passes every request to the running test's emulator (one server for the session).

    ``lose_answers[endpoint] = n`` lets the emulator carry out the next ``n`` requests to that
    endpoint and then drops the connection: the client cannot know whether they happened.
    """

    system = "relay"

    def __init__(self) -> None:
        super().__init__()
        self.target: EmulatorApp | None = None
        self.lose_answers: dict[str, int] = {}

    def dispatch(self, request: Request) -> Response:
        assert self.target is not None, "no emulator attached"
        before = dict(self.target.calls)
        response = self.target.dispatch(request)
        for endpoint, left in self.lose_answers.items():
            if left > 0 and self.target.calls[endpoint] > before.get(endpoint, 0):
                self.lose_answers[endpoint] = left - 1
                raise Reset
        return response


@pytest.fixture(scope="session")
def relay() -> Iterator[tuple[Relay, EmulatorServer]]:
    app = Relay()
    with EmulatorServer(app) as server:
        yield app, server


@pytest.fixture
def org(relay: tuple[Relay, EmulatorServer]) -> Iterator[SalesforceEmulator]:
    """An empty org (one integration user), served for this test."""
    app, _ = relay
    emulator = SalesforceEmulator(seed=5)
    app.target = emulator
    yield emulator
    app.target = None
    app.lose_answers.clear()


@pytest.fixture
def http(org: SalesforceEmulator, relay: tuple[Relay, EmulatorServer]) -> requests.Session:
    _, server = relay
    return make_session(dict.fromkeys(ORIGINS, server.url), timeout=5)


@pytest.fixture
def connect(http: requests.Session) -> ConnectorFactory:
    """``connect(**options)``: a connector logged in with username, password and token."""

    def build(
        credentials: SalesforceCredentials = PASSWORD_LOGIN, **options: Any
    ) -> SalesforceConnector:
        return SalesforceConnector.connect(credentials, session=http, **options)

    return build


@pytest.fixture
def crm(connect: ConnectorFactory) -> SalesforceConnector:
    return connect()


def add_account(org: SalesforceEmulator, name: str, **fields: Any) -> str:
    return org.insert_record("Account", {"Name": name, "OwnerId": org.default_user_id, **fields})


def add_contact(org: SalesforceEmulator, email: str, account_id: str | None, **fields: Any) -> str:
    record = {"LastName": email.split("@")[0][:40] or "x", "Email": email, **fields}
    record.setdefault("OwnerId", org.default_user_id)
    if account_id:
        record["AccountId"] = account_id
    return org.insert_record("Contact", record)


@pytest.fixture
def relay_app(relay: tuple[Relay, EmulatorServer]) -> Relay:
    return relay[0]
