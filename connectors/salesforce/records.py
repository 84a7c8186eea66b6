"""Raw Salesforce records to our plain models, and the select lists that fetch them.

Field names come from the configuration (:class:`AccountFieldNames`); values never appear here.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlsplit

from connectors.models import Account, Contact, Opportunity

#: Key prefixes of the record ids we meet: a respondent may be a Lead instead of a Contact.
CONTACT_PREFIX = "003"
ACCOUNT_PREFIX = "001"
LEAD_PREFIX = "00Q"
USER_PREFIX = "005"
QUEUE_PREFIX = "00G"

_RECORD_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")


@dataclass(frozen=True, slots=True)
class AccountFieldNames:
    """API names of the custom Account fields we read (empty: not used).

    ``domain`` holds the customer's email domain; when empty, the domain is read from Website.
    """

    tier: str = "Tier__c"
    arr: str = "ARR__c"
    region: str = "Region__c"
    renewal_date: str = "Renewal_Date__c"
    domain: str = "Email_Domain__c"
    #: The Contact's role field ("" = not read).
    contact_role: str = ""
    #: More Account and Contact fields to read with every lookup (routing's custom fields).
    account_custom: tuple[str, ...] = ()
    contact_custom: tuple[str, ...] = ()


@functools.lru_cache(maxsize=4096)
def record_key(record_id: str, prefix: str = "") -> str | None:
    """The case-sensitive 15-character form of a record id, or None if it is not one.

    An 18-character id ends in a checksum of which letters are upper case; a value whose
    checksum does not fit is not an id (Salesforce would refuse the whole query over it), and one
    that lost its case (a spreadsheet) gets it back. ``prefix`` also demands the key prefix
    (``003`` contact, ``001`` account). Cached: a sync checks the same few thousand ids
    over and over (each Task's owner, contact and account), and decoding the checksum of an
    18-character one is a loop over its letters.
    """
    value = record_id.strip()
    if not _RECORD_ID.fullmatch(value):
        return None
    key = value if len(value) == 15 else _restore_case(value)
    if key is None or not key.startswith(prefix):
        return None
    return key


_CHECKSUM_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def _restore_case(id18: str) -> str | None:
    """The 15-character id an 18-character one encodes, or None when the checksum disagrees."""
    chars = list(id18[:15])
    for chunk, code in enumerate(id18[15:].upper()):
        flags = _CHECKSUM_CHARS.find(code)
        if flags < 0:
            return None
        for offset in range(5):
            position = chunk * 5 + offset
            upper = bool(flags >> offset & 1)
            if chars[position].isalpha():
                chars[position] = chars[position].upper() if upper else chars[position].lower()
            elif upper:
                return None
    return "".join(chars)


def account_select(names: AccountFieldNames, prefix: str = "") -> list[str]:
    fields = [
        "Id",
        "Name",
        "OwnerId",
        "Owner.Email",
        "Owner.Name",
        "Owner.IsActive",
        "Industry",
        "Website",
        "CreatedDate",
    ]
    fields += [names.tier, names.arr, names.region, names.renewal_date, names.domain]
    return [f"{prefix}{name}" for name in _distinct([*fields, *names.account_custom]) if name]


def contact_select(names: AccountFieldNames) -> list[str]:
    own = [
        "Id",
        "Email",
        "FirstName",
        "LastName",
        "Title",
        "OwnerId",
        "Owner.IsActive",
        "AccountId",
        names.contact_role,
    ]
    return [*_distinct([*own, *names.contact_custom]), *account_select(names, "Account.")]


def _distinct(names: list[str]) -> list[str]:
    """Each field once, whatever its case: Salesforce refuses a field selected twice."""
    seen: set[str] = set()
    out: list[str] = []
    for name in names:
        if name and name.lower() not in seen:
            seen.add(name.lower())
            out.append(name)
    return out


def _custom(rec: Mapping[str, Any], names: tuple[str, ...]) -> tuple[tuple[str, object], ...]:
    """The values of ``names`` in a record, found whatever the case they were asked in (a
    record spells each field as Salesforce does)."""
    if not names:
        return ()
    lowered = {key.lower(): value for key, value in rec.items()}
    return tuple((name, lowered.get(name.lower())) for name in names)


LEAD_SELECT = ["Id", "Email", "FirstName", "LastName", "OwnerId", "Company"]


def to_contact(rec: Mapping[str, Any], names: AccountFieldNames) -> Contact:
    account_rec = rec.get("Account")
    return Contact(
        id=rec["Id"],
        email=(rec.get("Email") or "").lower(),
        first_name=rec.get("FirstName") or "",
        last_name=rec.get("LastName") or "",
        owner_id=rec.get("OwnerId") or "",
        owner_active=_owner_active(rec),
        account=to_account(account_rec, names) if account_rec else None,
        title=rec.get("Title") or "",
        role=str(rec.get(names.contact_role) or "") if names.contact_role else "",
        custom=_custom(rec, names.contact_custom),
    )


def _owner_active(rec: Mapping[str, Any]) -> bool:
    """Whether a record's owner may be given new work: only an owner said to be inactive is
    not (a record read without its owner's status, or a queue, counts as active)."""
    active = (rec.get("Owner") or {}).get("IsActive")
    return not (active is False or (isinstance(active, str) and active.lower() == "false"))


def lead_as_contact(rec: Mapping[str, Any]) -> Contact:
    """A Lead in the shape of a contact without an account (its id keeps the 00Q prefix)."""
    return Contact(
        id=rec["Id"],
        email=(rec.get("Email") or "").lower(),
        first_name=rec.get("FirstName") or "",
        last_name=rec.get("LastName") or "",
        owner_id=rec.get("OwnerId") or "",
    )


def to_account(rec: Mapping[str, Any], names: AccountFieldNames) -> Account:
    owner = rec.get("Owner") or {}
    return Account(
        id=rec["Id"],
        name=rec.get("Name") or "",
        owner_id=rec.get("OwnerId") or "",
        owner_email=owner.get("Email") or "",
        owner_name=owner.get("Name") or "",
        owner_active=_owner_active(rec),
        tier=str(rec.get(names.tier) or "") if names.tier else "",
        industry=rec.get("Industry") or "",
        region=str(rec.get(names.region) or "") if names.region else "",
        arr=float(rec.get(names.arr) or 0.0) if names.arr else 0.0,
        renewal_date=to_date(rec.get(names.renewal_date)) if names.renewal_date else None,
        website=rec.get("Website") or "",
        created_date=to_date(rec.get("CreatedDate")),
        domain=(
            str(rec.get(names.domain) or "").strip().lower()
            if names.domain
            else website_host(rec.get("Website") or "")
        ),
        custom=_custom(rec, names.account_custom),
    )


def to_date(value: Any) -> date | None:
    if not value:
        return None
    return date.fromisoformat(str(value)[:10])


def website_host(website: str) -> str:
    """``https://www.Acme.com/en`` → ``acme.com``: the domain an Account's Website names."""
    text = website.strip().lower()
    if not text:
        return ""
    host = urlsplit(text if "//" in text else f"//{text}").hostname or ""
    return host.removeprefix("www.")


@dataclass
class ContactLookup:
    """Contacts found by id (15-character key) and by lower-cased email."""

    by_id: dict[str, Contact] = field(default_factory=dict)
    by_email: dict[str, list[Contact]] = field(default_factory=dict)


@dataclass
class AccountLookup:
    """Accounts found by id (15-character key), by exact name and by email domain."""

    by_id: dict[str, Account] = field(default_factory=dict)
    by_name: dict[str, list[Account]] = field(default_factory=dict)
    by_domain: dict[str, list[Account]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TaskState:
    """Where a Task stands: its status, whether it is closed and when, its loop outcome.

    ``completed_at`` is ``CompletedDateTime`` (set by Salesforce when the Task is closed);
    ``modified_at`` (``LastModifiedDate``) stands in for it on a closed Task that lacks it.
    """

    id: str
    status: str
    closed: bool
    completed_at: datetime | None
    modified_at: datetime | None
    owner_id: str | None = None
    outcome: str | None = None


def to_datetime(value: Any) -> datetime | None:
    """A Salesforce datetime (``2026-12-05T12:00:00.000+0000``) in UTC; None when empty."""
    if not value:
        return None
    text = str(value)
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
        text = f"{text[:-2]}:{text[-2:]}"  # +0000 -> +00:00
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def task_state(rec: Mapping[str, Any], outcome_field: str = "") -> TaskState:
    """A :class:`TaskState` from a Task record."""
    outcome = rec.get(outcome_field) if outcome_field else None
    return TaskState(
        id=str(rec["Id"]),
        status=str(rec.get("Status") or ""),
        closed=bool(rec.get("IsClosed")),
        completed_at=to_datetime(rec.get("CompletedDateTime")),
        modified_at=to_datetime(rec.get("LastModifiedDate")),
        owner_id=str(rec["OwnerId"]) if rec.get("OwnerId") else None,
        outcome=str(outcome) if outcome else None,
    )


OPPORTUNITY_SELECT = "Id, AccountId, Type, Amount, StageName, CloseDate, IsClosed, IsWon"


def to_opportunity(rec: Mapping[str, Any]) -> Opportunity:
    """An Opportunity row of :data:`OPPORTUNITY_SELECT`."""
    return Opportunity(
        id=str(rec["Id"]),
        account_id=str(rec.get("AccountId") or ""),
        type=str(rec.get("Type") or ""),
        amount=float(rec.get("Amount") or 0.0),
        stage=str(rec.get("StageName") or ""),
        close_date=date.fromisoformat(str(rec["CloseDate"])[:10]),
        is_closed=bool(rec.get("IsClosed")),
        is_won=bool(rec.get("IsWon")),
    )
