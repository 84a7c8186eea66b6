"""Fixtures: a fresh Salesforce emulator served on loopback, and the real client pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from simple_salesforce.api import Salesforce

from connectors.emulators.base import EmulatorServer
from connectors.emulators.salesforce import SalesforceEmulator
from connectors.transport import make_session

INSTANCE_URL = "https://acme.my.salesforce.com"
PUBLIC_ORIGINS = (INSTANCE_URL, "https://login.salesforce.com", "https://test.salesforce.com")


@pytest.fixture
def emulator() -> SalesforceEmulator:
    return SalesforceEmulator(seed=1)


@pytest.fixture
def server(emulator: SalesforceEmulator) -> Iterator[EmulatorServer]:
    with EmulatorServer(emulator) as running:
        yield running


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
