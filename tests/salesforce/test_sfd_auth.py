"""Every login method against the emulator, and what happens when a session dies mid-run."""

from __future__ import annotations

import dataclasses

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from connectors.errors import ConfigError
from connectors.models import FieldUpdate
from connectors.salesforce.auth import SalesforceCredentials
from emulators.salesforce import DEFAULT_USERNAME, SalesforceEmulator
from tests.salesforce.conftest import (
    INSTANCE_URL,
    PASSWORD_LOGIN,
    ConnectorFactory,
    add_account,
    add_contact,
)

CONSUMER_KEY = "3MVG9-nps-sync"
CONSUMER_SECRET = "consumer-secret"


@dataclasses.dataclass(frozen=True)
class KeyPair:
    private_pem: str
    public_pem: str


def make_key() -> KeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return KeyPair(private, public)


@pytest.fixture(scope="module")
def keys() -> tuple[KeyPair, KeyPair]:
    """The connected app's key pair, and a stranger's."""
    return make_key(), make_key()


def jwt_login(key: KeyPair) -> SalesforceCredentials:
    return SalesforceCredentials(
        instance_url=INSTANCE_URL,
        method="jwt",
        username=DEFAULT_USERNAME,
        consumer_key=CONSUMER_KEY,
        private_key=key.private_pem,
    )


CLIENT_CREDENTIALS = SalesforceCredentials(
    instance_url=INSTANCE_URL,
    method="client_credentials",
    consumer_key=CONSUMER_KEY,
    consumer_secret=CONSUMER_SECRET,
    domain="acme.my",
)


def register_app(org: SalesforceEmulator, key: KeyPair) -> None:
    org.add_connected_app(CONSUMER_KEY, CONSUMER_SECRET, public_key=key.public_pem)


def login_by(
    method: str, org: SalesforceEmulator, keys: tuple[KeyPair, KeyPair]
) -> SalesforceCredentials:
    """Working credentials for a login method, with the connected app registered."""
    register_app(org, keys[0])
    if method == "session":
        return SalesforceCredentials(instance_url=INSTANCE_URL, session_id=org.issue_session())
    return {
        "password": PASSWORD_LOGIN,
        "jwt": jwt_login(keys[0]),
        "client_credentials": CLIENT_CREDENTIALS,
    }[method]


def count_accounts(crm_factory: ConnectorFactory, creds: SalesforceCredentials) -> int:
    crm = crm_factory(creds)
    return len(crm.query_all("SELECT Id FROM Account"))


@pytest.mark.parametrize("method", ["password", "jwt", "client_credentials", "session"])
def test_each_login_method_reaches_the_org(
    method: str,
    org: SalesforceEmulator,
    connect: ConnectorFactory,
    keys: tuple[KeyPair, KeyPair],
) -> None:
    creds = login_by(method, org, keys)
    org.insert_record("Account", {"Name": "Acme"})
    assert count_accounts(connect, creds) == 1


@pytest.mark.parametrize(
    ("creds", "message"),
    [
        (dataclasses.replace(PASSWORD_LOGIN, password="wrong"), "INVALID_LOGIN"),
        (dataclasses.replace(CLIENT_CREDENTIALS, consumer_secret="wrong"), "invalid_client"),
        (dataclasses.replace(CLIENT_CREDENTIALS, domain="login"), "My Domain"),
    ],
    ids=["bad-password", "bad-client-secret", "client-credentials-without-my-domain"],
)
def test_bad_credentials_are_configuration_errors(
    creds: SalesforceCredentials,
    message: str,
    org: SalesforceEmulator,
    connect: ConnectorFactory,
    keys: tuple[KeyPair, KeyPair],
) -> None:
    register_app(org, keys[0])
    with pytest.raises(ConfigError, match=message):
        connect(creds)


def test_a_jwt_signed_with_another_key_is_refused(
    org: SalesforceEmulator, connect: ConnectorFactory, keys: tuple[KeyPair, KeyPair]
) -> None:
    register_app(org, keys[0])
    with pytest.raises(ConfigError, match="invalid_grant"):
        connect(jwt_login(keys[1]))


def test_secrets_stay_out_of_repr(keys: tuple[KeyPair, KeyPair]) -> None:
    text = repr(dataclasses.replace(jwt_login(keys[0]), password="hunter2", session_id="00D!x"))
    assert "PRIVATE KEY" not in text
    assert "hunter2" not in text
    assert "00D!x" not in text


@pytest.mark.parametrize("method", ["password", "jwt", "client_credentials"])
def test_an_expired_session_is_renewed_once_and_the_call_repeated(
    method: str,
    org: SalesforceEmulator,
    connect: ConnectorFactory,
    keys: tuple[KeyPair, KeyPair],
) -> None:
    crm = connect(login_by(method, org, keys))
    contact = add_contact(org, "ann@acme.example", None)
    org.expire_sessions()
    assert crm.find_contacts(emails=["ann@acme.example"]).by_email["ann@acme.example"][0].id == (
        contact
    )
    logins = org.calls["login_soap"] + org.calls["login_oauth"]
    assert logins == 2


@pytest.mark.parametrize("method", ["password", "jwt"])
def test_a_bulk_job_survives_an_expired_session(
    method: str,
    org: SalesforceEmulator,
    connect: ConnectorFactory,
    keys: tuple[KeyPair, KeyPair],
) -> None:
    """simple-salesforce renews sessions for REST calls only; Bulk 2.0 relies on the connector."""
    crm = connect(login_by(method, org, keys), bulk_threshold=1, bulk_poll_seconds=0.01)
    ids = [add_contact(org, f"p{i}@acme.example", None) for i in range(3)]
    org.expire_sessions()
    results = crm.update_records([FieldUpdate("Contact", i, {"Title": "VP"}) for i in ids])
    assert all(r.ok for r in results)
    assert org.calls["bulk2_create_job"] == 2  # refused with 401, then created after login
    assert [org.get_record("Contact", i)["Title"] for i in ids] == ["VP"] * 3  # type: ignore[index]


def test_an_expired_bare_session_id_is_a_configuration_error(
    org: SalesforceEmulator, connect: ConnectorFactory
) -> None:
    crm = connect(SalesforceCredentials(instance_url=INSTANCE_URL, session_id=org.issue_session()))
    org.expire_sessions()
    with pytest.raises(ConfigError, match="cannot be renewed"):
        crm.query_all("SELECT Id FROM Account")


def test_sessions_that_die_at_once_end_in_a_bounded_number_of_logins(
    org: SalesforceEmulator, connect: ConnectorFactory
) -> None:
    crm = connect()
    org.session_ttl_seconds = -1  # every session is already expired when first used
    with pytest.raises(ConfigError, match="right after a fresh login"):
        crm.query_all("SELECT Id FROM Account")
    # The first login; simple-salesforce logs in again 4 times per REST call before it gives
    # up; the connector logs in once more and repeats the call once: never an endless loop.
    assert org.calls["login_soap"] == 1 + 4 + 1 + 4


def test_a_long_answer_read_on_after_the_session_expires_between_its_pages(
    org: SalesforceEmulator, connect: ConnectorFactory, keys: tuple[KeyPair, KeyPair]
) -> None:
    crm = connect(login_by("password", org, keys))
    account = add_account(org, "Acme")
    for n in range(25):
        add_contact(org, f"c{n}@acme.example", account)
    org.page_size = 10
    expired = False

    def expire_after_the_first_page(endpoint: str, phase: str) -> None:
        nonlocal expired
        if endpoint == "query" and phase == "handled" and not expired:
            expired = True
            org.expire_sessions()

    org.observers.append(expire_after_the_first_page)

    assert crm.count_contacts([account]) == {account: 25}
    assert org.calls["login_soap"] == 2
