"""Task owners the rules name by email (``owner: user:cx-manager@acme.com``), as user ids.

Salesforce wants a User id as a Task's ``OwnerId``; admins would rather write an email. The
emails a ruleset names are looked up once (one SOQL per 200, values escaped) whenever the rules
in force name a different set, and routing reads the result from its context. An email with no
active user leaves the task undone with a note in the decision, never with a wrong owner.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import Any, Protocol

from connectors.salesforce.soql import in_batches
from rules import Ruleset, SalesforceTaskAction
from sync.core.retry import RetryPolicy


class SoqlPort(Protocol):
    """The one Salesforce call these lookups need."""

    def query_all(self, soql: str) -> list[dict[str, Any]]: ...


def is_email(reference: str) -> bool:
    """``user:`` references are an email or a user id; ids never contain ``@``."""
    return "@" in reference


def owner_emails(ruleset: Ruleset) -> frozenset[str]:
    """The lower-cased emails the ruleset's tasks name as owners."""
    return frozenset(
        action.owner.user.lower()
        for action in ruleset.actions.values()
        if isinstance(action, SalesforceTaskAction)
        and action.owner.kind == "user"
        and action.owner.user
        and is_email(action.owner.user)
    )


def find_users_by_email(crm: SoqlPort, emails: Iterable[str], retry: RetryPolicy) -> dict[str, str]:
    """Active user id per lower-cased email; the oldest user wins when several share one."""
    template = "SELECT Id, Email FROM User WHERE IsActive = true AND Email IN {values}"
    found: dict[str, str] = {}
    for soql, _ in in_batches(template, sorted({e.lower() for e in emails})):
        for record in sorted(retry.call(partial(crm.query_all, soql)), key=lambda r: r["Id"]):
            found.setdefault(str(record.get("Email") or "").lower(), str(record["Id"]))
    return found
