"""Match stage: find each response's Salesforce contact/account and Zendesk user.

Lookups are batched for the whole set of responses: one SOQL per 200 emails, one Zendesk request
per 100 contact ids (users mirror the contact id as ``external_id``), and an exact ``email:``
lookup only for the few users not found that way.

When several contacts share an email, the oldest one (lowest Salesforce Id) that belongs to an
account wins; the number of candidates is recorded so the review list can show it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from connectors.models import Account, Contact, SurveyResponse, ZendeskUser
from sync.ports import CrmPort, HelpdeskPort
from sync.retry import RetryPolicy


@dataclass(frozen=True, slots=True)
class Match:
    """How one response was matched, or why not."""

    status: str  # matched | unmatched | ambiguous
    method: str  # how the account/contact was found: crm_id | email | domain | alias | none
    contact: Contact | None = None
    account: Account | None = None
    zendesk_user: ZendeskUser | None = None
    candidates: int = 0

    def to_json(self) -> dict[str, Any]:
        contact = self.contact
        account = self.account
        return {
            "status": self.status,
            "method": self.method,
            "candidates": self.candidates,
            "contact": None
            if contact is None
            else {
                "id": contact.id,
                "name": contact.name,
                "email": contact.email,
                "owner_id": contact.owner_id,
            },
            "account": None
            if account is None
            else {
                "id": account.id,
                "name": account.name,
                "owner_id": account.owner_id,
                "owner_email": account.owner_email,
                "tier": account.tier,
                "industry": account.industry,
                "region": account.region,
                "arr": account.arr,
                "renewal_date": account.renewal_date.isoformat() if account.renewal_date else None,
                "created_date": account.created_date.isoformat() if account.created_date else None,
            },
            "zendesk_user": None
            if self.zendesk_user is None
            else {
                "id": self.zendesk_user.id,
                "organization_id": self.zendesk_user.organization_id,
            },
        }


def pick_contact(candidates: Sequence[Contact]) -> Contact:
    """The documented tie rule: the oldest contact with an account, else the oldest."""
    with_account = [c for c in candidates if c.account is not None]
    return min(with_account or candidates, key=lambda c: c.id)


def match_responses(
    responses: Sequence[SurveyResponse],
    crm: CrmPort,
    helpdesk: HelpdeskPort | None,
    retry: RetryPolicy,
) -> dict[tuple[str, str], Match]:
    """A :class:`Match` for every response, keyed by (source, response id)."""
    emails = sorted({r.email for r in responses if r.email})
    contacts = retry.call(lambda: crm.find_contacts_by_email(emails)) if emails else {}
    chosen = {email: pick_contact(found) for email, found in contacts.items() if found}

    users: dict[str, ZendeskUser] = {}
    if helpdesk is not None:
        by_contact = retry.call(
            lambda: helpdesk.find_users_by_external_id([c.id for c in chosen.values()])
        )
        for email, contact in chosen.items():
            user = by_contact.get(contact.id.lower())
            if user is not None:
                users[email] = user
        for email in emails:
            if email not in users:
                found = retry.call(partial(helpdesk.find_user_by_email, email))
                if found is not None:
                    users[email] = found

    result: dict[tuple[str, str], Match] = {}
    for r in responses:
        matched = chosen.get(r.email)
        result[(r.source, r.response_id)] = Match(
            status="matched" if matched else "unmatched",
            method="email" if matched else "none",
            contact=matched,
            account=matched.account if matched else None,
            zendesk_user=users.get(r.email),
            candidates=len(contacts.get(r.email, [])),
        )
    return result
