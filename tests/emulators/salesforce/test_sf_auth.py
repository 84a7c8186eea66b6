"""Logins the way simple-salesforce performs them, and what happens when sessions die."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceExpiredSession

from emulators.base import Fault
from emulators.salesforce import SalesforceEmulator


def password_client(http: requests.Session, *, wrong_password: bool = False) -> Salesforce:
    """simple-salesforce logging in with username, password and security token (SOAP)."""
    return Salesforce(
        username="integration@acme.example",
        password="wrong" if wrong_password else "password",
        security_token="TOKEN",
        session=http,
        version="59.0",
    )


def test_soap_login_gives_a_working_session_on_the_instance_host(
    emulator: SalesforceEmulator, http: requests.Session
) -> None:
    sf = password_client(http)
    assert sf.sf_instance == "acme.my.salesforce.com"
    assert sf.session_id in emulator.org.auth.sessions
    assert sf.query("SELECT COUNT() FROM User")["totalSize"] == 1
    assert emulator.calls["login_soap"] == 1


def test_soap_login_with_bad_credentials_is_invalid_login(http: requests.Session) -> None:
    with pytest.raises(SalesforceAuthenticationFailed) as caught:
        password_client(http, wrong_password=True)
    assert caught.value.code == "INVALID_LOGIN"
    assert "Invalid username, password, security token" in caught.value.auth_message


def test_logins_do_not_count_as_api_calls(
    emulator: SalesforceEmulator, http: requests.Session
) -> None:
    password_client(http)
    assert emulator.api_used == 0


def test_credentials_can_be_added(emulator: SalesforceEmulator, http: requests.Session) -> None:
    emulator.add_credentials("ops@acme.example", "s3cret&<x>", "")
    sf = Salesforce(
        username="ops@acme.example", password="s3cret&<x>", security_token="", session=http
    )
    [user] = sf.query("SELECT Username FROM User WHERE Username = 'ops@acme.example'")["records"]
    assert user["Username"] == "ops@acme.example"


def test_expired_session_raises_for_session_id_clients(
    emulator: SalesforceEmulator,
    sf: Salesforce,
    error_array: Callable[[BaseException], list[dict[str, Any]]],
) -> None:
    sf.query("SELECT Id FROM Account")
    emulator.expire_sessions()
    with pytest.raises(SalesforceExpiredSession) as caught:
        sf.query("SELECT Id FROM Account")
    assert error_array(caught.value) == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]


def test_password_clients_log_in_again_after_expiry(
    emulator: SalesforceEmulator, http: requests.Session
) -> None:
    sf = password_client(http)
    emulator.expire_sessions()
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 0
    assert emulator.calls["login_soap"] == 2


def test_a_forced_401_once_is_survived_by_a_password_client(
    emulator: SalesforceEmulator, http: requests.Session
) -> None:
    sf = password_client(http)
    emulator.inject(Fault("invalid_session", count=1, endpoint="query"))
    assert sf.query("SELECT COUNT() FROM Account")["done"] is True
    assert emulator.fault_log == [("query", "invalid_session")]


def test_sessions_expire_after_their_ttl(emulator: SalesforceEmulator, sf: Salesforce) -> None:
    emulator.session_ttl_seconds = 60
    sf.query("SELECT Id FROM Account")
    emulator.clock = lambda: datetime.now(UTC) + timedelta(minutes=2)
    with pytest.raises(SalesforceExpiredSession):
        sf.query("SELECT Id FROM Account")
    sf.session_id = emulator.issue_session()
    sf.headers["Authorization"] = f"Bearer {sf.session_id}"
    assert sf.query("SELECT Id FROM Account")["done"] is True


def test_missing_or_foreign_tokens_are_rejected(
    emulator: SalesforceEmulator, http: requests.Session
) -> None:
    url = f"{emulator.instance_url}/services/data/v59.0/limits/"
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}):
        answer = http.get(url, headers=headers)
        assert answer.status_code == 401
        assert answer.json() == [
            {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
        ]


def oauth(http: requests.Session, **form: str) -> requests.Response:
    return http.post("https://login.salesforce.com/services/oauth2/token", data=form)


def test_oauth_password_grant(emulator: SalesforceEmulator, http: requests.Session) -> None:
    answer = oauth(
        http,
        grant_type="password",
        client_id="key",
        client_secret="secret",
        username="integration@acme.example",
        password="passwordTOKEN",
    )
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {
        "access_token",
        "instance_url",
        "id",
        "token_type",
        "issued_at",
        "signature",
    }
    assert body["instance_url"] == "https://acme.my.salesforce.com"
    assert body["id"].endswith(emulator.default_user_id)
    bad = oauth(http, grant_type="password", username="integration@acme.example", password="x")
    assert (bad.status_code, bad.json()["error"]) == (400, "invalid_grant")


def test_simple_salesforce_oauth_password_flow(http: requests.Session) -> None:
    sf = Salesforce(
        username="integration@acme.example",
        password="passwordTOKEN",
        consumer_key="key",
        consumer_secret="secret",
        session=http,
    )
    assert sf.sf_instance == "acme.my.salesforce.com"
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 0


def key_pair() -> tuple[str, str]:
    """A PEM private key and its public key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def test_jwt_bearer_flow_with_and_without_a_registered_key(
    emulator: SalesforceEmulator, http: requests.Session
) -> None:
    private, public = key_pair()
    other_pem, _ = key_pair()
    sf = Salesforce(
        username="integration@acme.example", consumer_key="cid", privatekey=private, session=http
    )
    assert sf.query("SELECT COUNT() FROM Account")["done"] is True
    emulator.add_connected_app("cid", "unused", public_key=public)
    Salesforce(
        username="integration@acme.example", consumer_key="cid", privatekey=private, session=http
    )
    with pytest.raises(SalesforceAuthenticationFailed) as caught:
        Salesforce(
            username="integration@acme.example",
            consumer_key="cid",
            privatekey=other_pem,
            session=http,
        )
    assert caught.value.code == "invalid_grant"


@pytest.mark.parametrize(
    ("assertion", "error"),
    [
        ("not-a-jwt", "invalid_grant"),
        (jwt.encode({"sub": "nobody@acme.example"}, "k" * 32, algorithm="HS256"), "invalid_grant"),
        (
            jwt.encode({"sub": "integration@acme.example", "exp": 1}, "k" * 32, algorithm="HS256"),
            "invalid_grant",
        ),
    ],
)
def test_bad_jwt_assertions(http: requests.Session, assertion: str, error: str) -> None:
    answer = oauth(
        http, grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer", assertion=assertion
    )
    assert (answer.status_code, answer.json()["error"]) == (400, error)


def test_client_credentials_flow(emulator: SalesforceEmulator, http: requests.Session) -> None:
    emulator.add_connected_app("app", "secret")
    sf = Salesforce(consumer_key="app", consumer_secret="secret", domain="acme.my", session=http)
    assert sf.query("SELECT COUNT() FROM User")["totalSize"] == 1
    with pytest.raises(SalesforceAuthenticationFailed) as caught:
        Salesforce(consumer_key="app", consumer_secret="wrong", domain="acme.my", session=http)
    assert caught.value.code == "invalid_client"
    unknown = oauth(http, grant_type="client_credentials", client_id="who", client_secret="x")
    assert unknown.json()["error"] == "invalid_client_id"
