"""The Task owner ladder: each rung, the reason a Task gives when it lands lower, and the skip
reason when the ladder ends with nobody."""

from __future__ import annotations

import pytest

from rules import OwnerRef
from sync.stages.owners import OwnerChoice, choose_owner

ACCOUNT = OwnerRef("account_owner")
CONTACT = OwnerRef("contact_owner")
USERS = {"cx@acme.example": "005CX", "005ID000000001A": "005ID000000001A"}


def choose(owner: OwnerRef, account: str | None, contact: str | None, **known: bool) -> OwnerChoice:
    return choose_owner(
        owner,
        account_owner=account,
        contact_owner=contact,
        has_account=known.get("has_account", True),
        has_contact=known.get("has_contact", True),
        users=USERS,
        fallback=None if known.get("no_fallback") else "005FALLBACK",
    )


@pytest.mark.parametrize(
    ("owner", "account", "contact", "known", "expected"),
    [
        (ACCOUNT, "005A", "005C", {}, OwnerChoice("005A")),
        (CONTACT, "005A", "005C", {}, OwnerChoice("005C")),
        (ACCOUNT, None, "005C", {}, OwnerChoice("005C", "the account has no owner")),
        (
            ACCOUNT,
            None,
            "005C",
            {"has_account": False},
            OwnerChoice("005C", "no Salesforce account was matched"),
        ),
        (CONTACT, "005A", None, {}, OwnerChoice("005A", "the contact has no owner")),
        (
            ACCOUNT,
            None,
            None,
            {"has_account": False, "has_contact": False},
            OwnerChoice("005FALLBACK", "the response matched no Salesforce account or contact"),
        ),
        (
            ACCOUNT,
            None,
            None,
            {},
            OwnerChoice("005FALLBACK", "neither the account nor the contact has an owner"),
        ),
        (
            CONTACT,
            None,
            None,
            {"has_account": False},
            OwnerChoice("005FALLBACK", "the contact has no owner and no account was matched"),
        ),
        (OwnerRef("user", "CX@acme.example"), "005A", "005C", {}, OwnerChoice("005CX")),
        (OwnerRef("user", "005ID000000001A"), "005A", None, {}, OwnerChoice("005ID000000001A")),
        (
            OwnerRef("user", "ghost@acme.example"),
            "005A",
            "005C",
            {},
            OwnerChoice("005FALLBACK", "ghost@acme.example is not an active Salesforce user"),
        ),
        (
            OwnerRef("user", "ghost@acme.example"),
            "005A",
            "005C",
            {"no_fallback": True},
            OwnerChoice(
                None,
                "ghost@acme.example is not an active Salesforce user, and no "
                "salesforce.fallback_owner_id is set",
                "owner_not_found",
            ),
        ),
        (
            ACCOUNT,
            None,
            None,
            {"has_account": False, "has_contact": False, "no_fallback": True},
            OwnerChoice(
                None,
                "the response matched no Salesforce account or contact, and no "
                "salesforce.fallback_owner_id is set",
                "no_owner",
            ),
        ),
    ],
)
def test_the_ladder(
    owner: OwnerRef,
    account: str | None,
    contact: str | None,
    known: dict[str, bool],
    expected: OwnerChoice,
) -> None:
    assert choose(owner, account, contact, **known) == expected


def test_a_task_below_the_first_rung_says_why_in_its_first_line() -> None:
    choice = choose(OwnerRef("user", "ghost@acme.example"), "005A", "005C")
    assert choice.note == (
        "Assigned to you because ghost@acme.example is not an active Salesforce user."
    )
    assert choose(ACCOUNT, "005A", "005C").note == ""


@pytest.mark.parametrize(
    ("owner", "inactive", "expected"),
    [
        (
            ACCOUNT,
            {"account"},
            OwnerChoice("005C", "the account's owner is a deactivated Salesforce user"),
        ),
        (CONTACT, {"account"}, OwnerChoice("005C")),
        (
            CONTACT,
            {"contact", "account"},
            OwnerChoice(
                "005FALLBACK",
                "the contact's owner is a deactivated Salesforce user and "
                "the account's owner is a deactivated Salesforce user",
            ),
        ),
    ],
)
def test_a_deactivated_owner_is_no_owner(
    owner: OwnerRef, inactive: set[str], expected: OwnerChoice
) -> None:
    choice = choose_owner(
        owner,
        account_owner="005A",
        contact_owner="005C",
        has_account=True,
        has_contact=True,
        users=USERS,
        fallback="005FALLBACK",
        inactive=frozenset(inactive),
    )
    assert choice == expected
