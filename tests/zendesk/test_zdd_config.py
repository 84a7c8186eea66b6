"""The ``zendesk`` section of the config file: defaults and errors with their position."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.core.config import parse_config
from sync.core.errors import ConfigFileError
from sync.stages.executors.zendesk import TicketSettings

BASE = """\
salesforce:
  instance_url: https://acme.my.salesforce.com
rules: rules.yaml
zendesk:
  subdomain: acme
"""


def test_defaults_match_the_executor_defaults() -> None:
    config = parse_config(BASE, Path("nps-sync.yaml"))
    assert TicketSettings.from_config(config.zendesk) == TicketSettings()
    assert config.zendesk.rate_limit.wait_budget_seconds == 10
    assert config.zendesk.matching.organization_from == ("user", "external_id", "domain")


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("  tickets:\n    context_template: '{{ oops'\n", "7:23: zendesk.tickets.context_template"),
        ("  tickets:\n    attach_scope: team\n", "7:19: zendesk.tickets.attach_scope"),
        ("  matching:\n    organization_from: [user, crm]\n", "7:31: zendesk.matching"),
        ("  rate_limit:\n    wait_budget_seconds: -1\n", "7:26: zendesk.rate_limit"),
        ("  tracking:\n    max_pages_per_pass: 50\n", "7:25: zendesk.tracking"),
    ],
)
def test_bad_settings_are_reported_where_they_are(section: str, message: str) -> None:
    with pytest.raises(ConfigFileError, match=message):
        parse_config(BASE + section, Path("nps-sync.yaml"))
