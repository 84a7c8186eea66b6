"""Authentication as the config describes it: API token or OAuth token, from env or a file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from connectors.errors import ConfigError, DeferError
from connectors.transport import CallCounter
from emulators.base import EmulatorServer, Fault
from emulators.zendesk import DEFAULT_AGENT_EMAIL, DEFAULT_TOKEN, ZendeskEmulator
from sync.app.runtime import build_zendesk
from sync.core.config import Config
from sync.core.errors import ConfigFileError
from tests.zendesk.conftest import PUBLIC


def config(server: EmulatorServer, auth: dict[str, Any], **zendesk: Any) -> Config:
    return Config.model_validate(
        {
            "salesforce": {"instance_url": "https://acme.my.salesforce.com"},
            "zendesk": {"subdomain": "acme", "auth": auth, **zendesk},
            "rules": "rules.yaml",
            "loopback_routes": {PUBLIC: server.url},
        }
    )


def test_an_api_token_from_the_environment(
    server: EmulatorServer, emulator: ZendeskEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZD_TOKEN_FOR_TEST", DEFAULT_TOKEN)
    auth = {"email": DEFAULT_AGENT_EMAIL, "token": {"env": "ZD_TOKEN_FOR_TEST"}}
    counter = CallCounter()

    me = build_zendesk(config(server, auth), counter).me()

    assert (me.email, me.role) == (DEFAULT_AGENT_EMAIL, "admin")
    assert counter.snapshot() == {"zendesk": 1}


def test_an_oauth_token_from_a_file(
    server: EmulatorServer, emulator: ZendeskEmulator, tmp_path: Path
) -> None:
    emulator.add_oauth_token("oauth-secret", "lead@acme.example")
    token_file = tmp_path / "zendesk-oauth"
    token_file.write_text("oauth-secret\n", encoding="utf-8")

    me = build_zendesk(
        config(server, {"oauth_token": {"file": str(token_file)}}), CallCounter()
    ).me()

    assert me.email == "lead@acme.example"


def test_a_wrong_token_is_a_configuration_error(
    server: EmulatorServer, emulator: ZendeskEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZD_TOKEN_FOR_TEST", "not-the-token")
    auth = {"email": DEFAULT_AGENT_EMAIL, "token": {"env": "ZD_TOKEN_FOR_TEST"}}
    helpdesk = build_zendesk(config(server, auth), CallCounter())
    with pytest.raises(ConfigError, match="401"):
        helpdesk.me()


@pytest.mark.parametrize(
    ("auth", "match"),
    [
        ({"email": DEFAULT_AGENT_EMAIL}, "give email with an API token .token., or an OAuth"),
        ({"token": {"env": "ZD_TOKEN_FOR_TEST"}}, "an API token needs the agent's email"),
    ],
)
def test_incomplete_credentials_are_refused_at_load(
    server: EmulatorServer, auth: dict[str, Any], match: str
) -> None:
    with pytest.raises(ValidationError, match=match):
        config(server, auth)


@pytest.mark.parametrize(
    ("auth", "match"),
    [
        ({"oauth_token": {"env": "ZD_UNSET_FOR_TEST"}}, "ZD_UNSET_FOR_TEST"),
        ({"oauth_token": {"file": "/nonexistent/zd"}}, "cannot read"),
    ],
)
def test_unreadable_secrets_are_refused_before_any_request(
    server: EmulatorServer,
    emulator: ZendeskEmulator,
    monkeypatch: pytest.MonkeyPatch,
    auth: dict[str, Any],
    match: str,
) -> None:
    monkeypatch.delenv("ZD_UNSET_FOR_TEST", raising=False)
    emulator.reset_counters()
    with pytest.raises(ConfigFileError, match=match):
        build_zendesk(config(server, auth), CallCounter())
    assert emulator.total_calls() == 0


def test_the_wait_budget_comes_from_the_config(
    server: EmulatorServer, emulator: ZendeskEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZD_TOKEN_FOR_TEST", DEFAULT_TOKEN)
    auth = {"email": DEFAULT_AGENT_EMAIL, "token": {"env": "ZD_TOKEN_FOR_TEST"}}
    strict = config(server, auth, rate_limit={"wait_budget_seconds": 0})
    helpdesk = build_zendesk(strict, CallCounter())
    emulator.inject(Fault("429", count=1, endpoint="users_me", retry_after=1))
    with pytest.raises(DeferError):
        helpdesk.me()
