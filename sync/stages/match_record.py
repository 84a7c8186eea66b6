"""What the match stage found for one response, and its stored JSON form both ways.

The route stage stores :meth:`Match.to_json` with the decision; :func:`match_from_json` turns it
back into a :class:`Match`, so stored responses can be routed again without calling anyone
(``rules explain``, ``replay``, escalation steps).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from connectors.models import Account, Contact, ZendeskUser


@dataclass(frozen=True, slots=True)
class Match:
    """How one response was matched, or why not.

    ``method`` is the step that found the contact (or the account when there is no contact):
    ``crm_id``, ``email``, ``lead``, ``alias``, ``domain``; ``none`` when nothing matched.
    ``account_method`` says where the account came from when that was a different step.
    """

    #: matched | unmatched | ambiguous | failed (a lookup it needed was refused) | unanswered
    #: (a lookup it needed got no answer for now: not routed, matched again later)
    status: str
    method: str
    contact: Contact | None = None
    account: Account | None = None
    zendesk_user: ZendeskUser | None = None
    candidates: int = 0
    account_method: str = ""
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        contact = self.contact
        account = self.account
        return {
            "status": self.status,
            "method": self.method,
            "account_method": self.account_method,
            "candidates": self.candidates,
            "detail": self.detail,
            "contact": None
            if contact is None
            else {
                "id": contact.id,
                "name": contact.name,
                "email": contact.email,
                "owner_id": contact.owner_id,
                **({} if contact.owner_active else {"owner_active": False}),
                "title": contact.title,
                **({"role": contact.role} if contact.role else {}),
                **({"custom": dict(contact.custom)} if contact.custom else {}),
            },
            "account": None
            if account is None
            else {
                "id": account.id,
                "name": account.name,
                "owner_id": account.owner_id,
                "owner_email": account.owner_email,
                "owner_name": account.owner_name,
                **({} if account.owner_active else {"owner_active": False}),
                "tier": account.tier,
                "industry": account.industry,
                "region": account.region,
                "arr": account.arr,
                "renewal_date": account.renewal_date.isoformat() if account.renewal_date else None,
                "created_date": account.created_date.isoformat() if account.created_date else None,
                **({"custom": dict(account.custom)} if account.custom else {}),
            },
            "zendesk_user": None
            if self.zendesk_user is None
            else {
                "id": self.zendesk_user.id,
                "organization_id": self.zendesk_user.organization_id,
            },
        }


def match_from_json(data: Mapping[str, Any] | None) -> Match:
    """The :class:`Match` that :meth:`Match.to_json` stored (None: never matched)."""
    if not data:
        return Match(status="unmatched", method="none")
    account_data = data.get("account")
    account = None
    if account_data:
        account = Account(
            id=account_data["id"],
            name=account_data.get("name") or "",
            owner_id=account_data.get("owner_id") or "",
            owner_email=account_data.get("owner_email") or "",
            owner_name=account_data.get("owner_name") or "",
            owner_active=account_data.get("owner_active") is not False,
            tier=account_data.get("tier") or "",
            industry=account_data.get("industry") or "",
            region=account_data.get("region") or "",
            arr=float(account_data.get("arr") or 0.0),
            renewal_date=_date(account_data.get("renewal_date")),
            created_date=_date(account_data.get("created_date")),
            custom=_custom(account_data),
        )
    contact_data = data.get("contact")
    contact = None
    if contact_data:
        # The stored name is the full name; last_name alone renders it back unchanged.
        contact = Contact(
            id=contact_data["id"],
            email=contact_data.get("email") or "",
            last_name=contact_data.get("name") or "",
            owner_id=contact_data.get("owner_id") or "",
            owner_active=contact_data.get("owner_active") is not False,
            account=account,
            title=contact_data.get("title") or "",
            role=contact_data.get("role") or "",
            custom=_custom(contact_data),
        )
    user_data = data.get("zendesk_user")
    user = None
    if user_data:
        org = user_data.get("organization_id")
        user = ZendeskUser(
            id=int(user_data["id"]), email="", organization_id=int(org) if org else None
        )
    return Match(
        status=data.get("status") or "unmatched",
        method=data.get("method") or "none",
        contact=contact,
        account=account,
        zendesk_user=user,
        candidates=int(data.get("candidates") or 0),
    )


def _date(value: object) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) and value else None


def _custom(data: Mapping[str, Any]) -> tuple[tuple[str, object], ...]:
    custom = data.get("custom")
    return tuple(custom.items()) if isinstance(custom, dict) else ()
