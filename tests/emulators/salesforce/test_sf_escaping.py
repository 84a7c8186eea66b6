"""Values escaped with simple-salesforce's ``format_soql`` match exactly their own record.

Survey data ends up in SOQL literals; an email holding quotes, backslashes, LIKE wildcards,
newlines or SOQL keywords must neither break the query nor match anything else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest
from simple_salesforce.format import format_soql

from emulators.salesforce import SalesforceEmulator

TRICKY_EMAILS = [
    "o'brien@example.com",
    "o\\'brien@example.com",
    'quote"d@example.com',
    "back\\slash@example.com",
    "back\\\\double@example.com",
    "per%cent@example.com",
    "under_score@example.com",
    "underXscore@example.com",
    "new\nline@example.com",
    "tab\there@example.com",
    "cr\rlf@example.com",
    "' OR Email != '@example.com",
    "x' OR Id != null OR Email = 'y@example.com",
    "SELECT Id FROM Contact@example.com",
    "%@example.com",
    "_@example.com",
    "\\%@example.com",
    "unicode-é€@example.com",
    "\\u0041@example.com",
    "A@example.com",
]


@pytest.fixture
def emails(emulator: SalesforceEmulator) -> dict[str, str]:
    """Contact id per tricky email (stored directly: these are not valid addresses)."""
    return {
        email: emulator.insert_record("Contact", {"LastName": f"c{i}", "Email": email})
        for i, email in enumerate(TRICKY_EMAILS)
    }


@pytest.mark.parametrize("email", TRICKY_EMAILS)
def test_equality_matches_exactly_one_record(
    sf: Salesforce, emails: dict[str, str], email: str
) -> None:
    soql = format_soql("SELECT Id, Email FROM Contact WHERE Email = {}", email)
    records = sf.query(soql)["records"]
    assert [(r["Id"], r["Email"]) for r in records] == [(emails[email], email)]


def test_in_list_matches_each_value_and_nothing_else(
    sf: Salesforce, emails: dict[str, str]
) -> None:
    wanted = TRICKY_EMAILS[::2]
    soql = format_soql("SELECT Id FROM Contact WHERE Email IN {}", wanted)
    found = {r["Id"] for r in sf.query_all(soql)["records"]}
    assert found == {emails[email] for email in wanted}


@pytest.mark.parametrize(
    "email", ["per%cent@example.com", "under_score@example.com", "_@example.com"]
)
def test_like_with_the_like_format_spec_treats_wildcards_literally(
    sf: Salesforce, emails: dict[str, str], email: str
) -> None:
    soql = format_soql("SELECT Id FROM Contact WHERE Email LIKE '{:like}'", email)
    assert [r["Id"] for r in sf.query(soql)["records"]] == [emails[email]]


@pytest.mark.parametrize(
    "soql",
    [
        "SELECT Id FROM Contact WHERE Email = 'o'brien@example.com'",
        "SELECT Id FROM Contact WHERE Email = 'back\\slash@example.com'",
        "SELECT Id FROM Contact WHERE Email = 'under\\_score@example.com'",
        "SELECT Id FROM Contact WHERE Email = 'unterminated",
    ],
)
def test_unescaped_values_are_rejected_as_salesforce_would(
    sf: Salesforce, soql: str, error_array: Callable[[BaseException], list[dict[str, Any]]]
) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query(soql)
    [error] = error_array(caught.value)
    assert error["errorCode"] == "MALFORMED_QUERY"
    assert "ERROR at Row:1:Column:" in error["message"]
