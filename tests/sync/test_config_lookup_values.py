"""Values from the config that reach a Salesforce or Zendesk lookup are plain: no wildcard or
search syntax, and names that fit the state store's columns."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from connectors.addresses import is_plain_email
from rules.scalars import EMAIL_PATTERN
from sync.core.config import load_config
from sync.core.errors import ConfigFileError

MINIMAL = """\
salesforce:
  instance_url: https://acme.my.salesforce.com
zendesk:
  subdomain: acme
rules: rules.yaml
"""


def load(tmp_path: Path, extra: str) -> None:
    path = tmp_path / "nps-sync.yaml"
    path.write_text(MINIMAL + extra, encoding="utf-8")
    load_config(path)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            "salesforce:\n  instance_url: https://acme.my.salesforce.com\n  matching:\n"
            "    account_aliases: {'*.acme.com': Acme}\n",
            "alias keys must be plain domains like acme.com, not '*.acme.com'",
        ),
        (
            "salesforce:\n  instance_url: https://acme.my.salesforce.com\n  matching:\n"
            "    free_mail_domains: ['mail OR 1', gmail.com]\n",
            "free-mail domains must be plain domains like acme.com, not 'mail OR 1'",
        ),
        (
            "zendesk:\n  subdomain: acme\n  matching:\n"
            '    organization_domains: {"acme:*": Acme}\n',
            "organization domains must be plain domains like acme.com, not 'acme:*'",
        ),
        (
            "sources:\n  - {type: file, path: x.csv, name: " + "n" * 101 + "}\n",
            "at most 100 characters",
        ),
    ],
)
def test_lookup_values_and_names_are_checked_at_load(
    tmp_path: Path, extra: str, message: str
) -> None:
    text = extra
    if extra.startswith(("salesforce:", "zendesk:")):  # replace the minimal section
        section = extra.split(":", 1)[0]
        base = re.sub(rf"^{section}:\n(  .*\n)+", "", MINIMAL, flags=re.M)
        (tmp_path / "nps-sync.yaml").write_text(base + extra, encoding="utf-8")
        with pytest.raises(ConfigFileError) as info:
            load_config(tmp_path / "nps-sync.yaml")
    else:
        with pytest.raises(ConfigFileError) as info:
            load(tmp_path, text)
    assert message in str(info.value)


@pytest.mark.parametrize(
    "address",
    [
        "ann@acme.com",
        "o'brien+nps@acme.co.uk",
        "100%_sure@example.com",
        "*@acme.com",
        "a*b@acme.com",
        "ann@acme",
        'a"b@acme.com',
        "ann:x@acme.com",
        "{ann}@acme.com",
        "ann@acme.*",
        "ann@-acme.com",
        "a..b@acme.com",
    ],
)
def test_rules_files_and_connectors_agree_on_what_an_address_is(address: str) -> None:
    assert bool(re.fullmatch(EMAIL_PATTERN, address)) == is_plain_email(address.lower())
