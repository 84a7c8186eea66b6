"""``nps-sync check`` tests every survey source, and a failed connection names host and cause."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from ruamel.yaml import YAML

from emulators.world import EmulatedWorld
from sync.cli import main


@pytest.fixture
def world() -> Iterator[EmulatedWorld]:
    with EmulatedWorld(seed=4, accounts=5, responses=5) as w:
        yield w


def check(world: EmulatedWorld, tmp_path: Path, **overrides: Any) -> Result:
    data = world.config_data(state_url=f"sqlite:///{tmp_path / 'state.db'}", **overrides)
    path = tmp_path / "nps-sync.yaml"
    with path.open("w") as out:
        YAML().dump(data, out)
    return CliRunner().invoke(main, ["check", "-c", str(path)], env={"COLUMNS": "400"})


def row(result: Result, text: str) -> str:
    found = [line for line in result.output.splitlines() if text in line]
    assert len(found) == 1, result.output
    return " ".join(found[0].replace("│", " ").split())


def test_every_source_is_checked(
    world: EmulatedWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    export = tmp_path / "export.csv"
    export.write_text("response_id,email,score,created_at\n", encoding="utf-8")
    monkeypatch.setenv("WRONG_DELIGHTED_KEY", "not-the-key")
    good = world.config_data(state_url="sqlite://")["sources"][0]
    routes = {**world.routes, "https://unreachable.example": "http://127.0.0.1:9"}
    sources = [
        good,
        {**good, "name": "wrong-key", "api_key": {"env": "WRONG_DELIGHTED_KEY"}},
        {**good, "name": "unset-key", "api_key": {"env": "NPS_TEST_NOT_SET"}},
        {**good, "name": "offline", "base_url": "https://unreachable.example"},
        {"type": "file", "path": str(export), "name": "export"},
        {"type": "file", "path": str(tmp_path / "missing.jsonl"), "name": "missing"},
    ]
    result = check(world, tmp_path, sources=sources, loopback_routes=routes)

    assert result.exit_code == 1
    assert row(result, "│ delighted ").startswith(
        "delighted API at api.delighted.com ok reachable; the API key is accepted"
    )
    wrong = row(result, "wrong-key")
    assert "error api.delighted.com refused: wrong-key: HTTP 401 from Delighted: Invalid" in wrong
    assert "check the API key (Delighted: Settings > API) that $WRONG_DELIGHTED_KEY holds" in wrong
    assert "environment variable NPS_TEST_NOT_SET is not set" in row(result, "unset-key")
    offline = row(result, "offline")
    assert "error offline: cannot connect to unreachable.example: connection refused" in offline
    assert "check that this machine reaches unreachable.example" in offline
    assert "ok readable, 35 bytes" in row(result, "│ export ")
    assert "error the file does not exist" in row(result, "│ missing ")


def test_an_unreachable_helpdesk_names_its_host_and_a_fix(
    world: EmulatedWorld, tmp_path: Path
) -> None:
    routes = {**world.routes, "https://acme.zendesk.com": "http://127.0.0.1:9"}
    result = check(world, tmp_path, loopback_routes=routes)
    assert result.exit_code == 1
    line = row(result, "connection to acme.zendesk.com")
    assert "error zendesk: cannot connect to acme.zendesk.com: connection refused" in line
    assert "check that this machine reaches acme.zendesk.com (DNS, proxy, firewall)" in line


def test_a_typeform_source_is_checked_for_its_token_and_its_form(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WRONG_TYPEFORM_TOKEN", "not-the-token")
    with EmulatedWorld(seed=4, accounts=5, responses=5, typeform_responses=3) as world:
        good = world.typeform_source()
        sources = [
            good,
            {**good, "name": "tf-wrong-token", "token": {"env": "WRONG_TYPEFORM_TOKEN"}},
            {**good, "name": "tf-other-form", "form_id": "nOsuch"},
        ]
        result = check(world, tmp_path, sources=sources)
    assert result.exit_code == 1
    assert row(result, "│ typeform ").startswith(
        "typeform API at api.typeform.com ok reachable; the token reads form NpS7f0rm"
    )
    wrong = row(result, "tf-wrong-token")
    assert "refused: tf-wrong-token: HTTP 401 from Typeform: AUTHENTICATION_FAILED" in wrong
    assert "check the personal access token (responses:read) that $WRONG_TYPEFORM_TOKEN" in wrong
    other = row(result, "tf-other-form")
    assert "HTTP 404 from Typeform: FORM_NOT_FOUND" in other
    assert "that form nOsuch belongs to its account" in other
