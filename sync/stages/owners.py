"""Task owners the rules name by email (``owner: user:cx-manager@acme.com``), as user ids.

Salesforce wants a User id as a Task's ``OwnerId``; admins would rather write an email. The
emails a ruleset names are looked up once (through the :class:`~sync.core.ports.OwnerDirectory`
port) whenever the rules in force name a different set, and routing reads the result from its
context. An email with no active user leaves the task undone with a note in the decision, never
with a wrong owner.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial

from rules import Ruleset, SalesforceTaskAction
from sync.core.ports import OwnerDirectory
from sync.core.retry import RetryPolicy


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


def find_users_by_email(
    crm: OwnerDirectory, emails: Iterable[str], retry: RetryPolicy
) -> dict[str, str]:
    """Active user id per lower-cased email; the oldest user wins when several share one."""
    return retry.call(partial(crm.find_active_users_by_email, sorted(emails)))
