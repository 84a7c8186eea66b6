"""``nps-sync check`` for Zendesk: what exists, what does not, and what to create."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from connectors.transport import make_session
from connectors.zendesk.client import ZendeskConnector, ZendeskCredentials, connect
from emulators.base import EmulatorServer
from emulators.world import DEFAULT_RULES
from emulators.zendesk import ZendeskEmulator
from sync.checks import Finding
from sync.checks.zendesk import check_zendesk
from sync.core.config import Config
from tests.zendesk.conftest import ANA, PUBLIC, new_connector

RULES = """\
version: 1
actions:
  escalate:
    type: zendesk_ticket
    subject: "NPS {{ response.score }}"
    body: "{{ response.comment }}"
    group: Escalations
    assignee: ana@acme.example
rules:
  - name: detractors
    when: {category: detractor}
    actions: [escalate]
"""


def config(server: EmulatorServer, rules: Path = DEFAULT_RULES, **zendesk: Any) -> Config:
    return Config.model_validate(
        {
            "salesforce": {"instance_url": "https://acme.my.salesforce.com"},
            "zendesk": {"subdomain": "acme", **zendesk},
            "rules": str(rules),
            "loopback_routes": {PUBLIC: server.url},
        }
    )


def by_item(findings: list[Finding]) -> dict[str, Finding]:
    return {f.item: f for f in findings}


def test_the_default_setup_passes(server: EmulatorServer, emulator: ZendeskEmulator) -> None:
    findings = check_zendesk(config(server), new_connector(server.url))
    assert [f for f in findings if f.level != "ok"] == []
    items = by_item(findings)
    expected = {
        "connection",
        "ticket field score",
        "user field nps_score",
        "organization field nps_account_score",
        "group Customer Success",
    }
    assert expected <= set(items)


@pytest.mark.parametrize(
    ("damage", "item", "fix"),
    [
        (
            lambda e: e.remove_ticket_field("NPS Score"),
            "ticket field score",
            "create a Number ticket field titled 'NPS Score'",
        ),
        (
            lambda e: e.remove_user_field("nps_date"),
            "user field nps_date",
            "create a Date user field with key 'nps_date'",
        ),
        (
            lambda e: e.remove_organization_field("nps_account_score"),
            "organization field nps_account_score",
            "create a Decimal organization field with key 'nps_account_score'",
        ),
    ],
)
def test_a_missing_field_says_what_to_create(
    server: EmulatorServer,
    emulator: ZendeskEmulator,
    damage: Callable[[ZendeskEmulator], None],
    item: str,
    fix: str,
) -> None:
    damage(emulator)
    finding = by_item(check_zendesk(config(server), new_connector(server.url)))[item]
    assert finding.level == "error"
    assert fix in finding.fix


def test_a_field_of_the_wrong_type_is_an_error(
    server: EmulatorServer, emulator: ZendeskEmulator
) -> None:
    emulator.add_ticket_field("Account ARR", "text")
    checked = config(server, fields={"ticket_account_arr": "Account ARR"})
    finding = by_item(check_zendesk(checked, new_connector(server.url)))["ticket field account_arr"]
    assert finding.level == "error"
    assert "type text" in finding.message
    assert "Decimal" in finding.fix


def test_unknown_groups_and_assignees_of_the_rules_are_errors(
    server: EmulatorServer, emulator: ZendeskEmulator, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    findings = by_item(check_zendesk(config(server, rules), new_connector(server.url)))
    assert findings["group Escalations"].level == "error"
    assert "create the group 'Escalations'" in findings["group Escalations"].fix
    assert findings[f"assignee {ANA.email}"].level == "error"


def test_an_end_user_cannot_run_the_sync(server: EmulatorServer, emulator: ZendeskEmulator) -> None:
    emulator.add_api_token(ANA.email, "ana-token")
    session = make_session({PUBLIC: server.url})
    client = connect(
        ZendeskCredentials("acme", email=ANA.email, token="ana-token"), session=session
    )
    finding = by_item(check_zendesk(config(server), ZendeskConnector(client)))["connection"]
    assert finding.level == "error"
    assert "not an agent" in finding.message
