"""The Salesforce part of the config file: what is accepted, and what is refused with its place."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.core.config import Config, parse_config
from sync.core.errors import ConfigFileError

BASE = """\
salesforce:
  instance_url: https://acme.my.salesforce.com
{extra}
zendesk:
  subdomain: acme
rules: rules.yaml
"""


def parse(extra: str) -> Config:
    return parse_config(BASE.format(extra=extra), Path("nps-sync.yaml"))


def test_defaults_keep_leads_off_and_a_fifth_in_reserve() -> None:
    config = parse("")
    sf = config.salesforce
    assert sf.matching.order == ["crm_id", "email", "alias", "domain"]
    assert (sf.api.reserve, sf.api.bulk_threshold) == (0.2, 2000)
    assert sf.api.query_bulk_threshold == 5000


def test_a_full_salesforce_section_is_accepted() -> None:
    config = parse(
        "  auth:\n"
        "    method: jwt\n"
        "    username: integration@acme.example\n"
        "    consumer_key: {env: SF_CONSUMER_KEY}\n"
        "    private_key: {file: /etc/nps-sync/salesforce.key}\n"
        "    domain: acme.my\n"
        "  matching:\n"
        "    order: [crm_id, email, lead, alias, domain]\n"
        "    contact_id_property: SFDC Contact\n"
        "    ties: oldest\n"
        "    free_mail_domains: [corp-mail.example]\n"
        "    account_aliases: {acme-old.com: 001000000000001AAA}\n"
        "  api: {reserve: 0.3, bulk_threshold: 5000, bulk_poll_seconds: 5, "
        "query_bulk_threshold: 800}\n"
    )
    sf = config.salesforce
    assert sf.auth.private_key is not None
    assert sf.auth.private_key.file == Path("/etc/nps-sync/salesforce.key")
    assert sf.matching.order[2] == "lead"
    assert (sf.api.reserve, sf.api.query_bulk_threshold) == (0.3, 800)


@pytest.mark.parametrize(
    ("extra", "where", "message"),
    [
        (
            "  auth: {method: client_credentials, domain: login}",
            "nps-sync.yaml:3:",
            "My Domain",
        ),
        ("  auth:\n    domain: https://acme.my.salesforce.com", "nps-sync.yaml:4:", "without"),
        ("  matching:\n    order: [email, email]", "nps-sync.yaml:4:", "once"),
        ("  matching:\n    order: [email, phone]", "nps-sync.yaml:4:", "order"),
        ("  api:\n    reserve: 1.5", "nps-sync.yaml:4:", "reserve"),
        ("  matching:\n    tie: oldest", "nps-sync.yaml:4:", "unknown key 'tie'"),
    ],
)
def test_bad_settings_are_refused_with_their_place(extra: str, where: str, message: str) -> None:
    with pytest.raises(ConfigFileError) as caught:
        parse(extra)
    text = str(caught.value)
    assert where in text
    assert message in text
