"""Who owns a Task: the owner ladder, and the users the rules name, as ids.

Salesforce wants a User id as a Task's ``OwnerId``; admins would rather write an email. The
``user:`` owners a ruleset names (emails or user ids) are looked up once (through the
:class:`~sync.core.ports.OwnerDirectory` port) whenever the rules in force name a different set,
and routing reads the active ones from its context.

The ladder (:func:`choose_owner`), from what the rule asked for to the last resort:

- ``owner: account_owner``: the account's owner, else the contact's owner, else the fallback;
- ``owner: contact_owner``: the contact's owner, else the account's owner, else the fallback;
- ``owner: user:<email or id>``: that user if active, else the fallback;

where the fallback is ``salesforce.fallback_owner_id``. A Task that lands below the first rung
says why in its description; only when the ladder ends with nobody is the action skipped
(``no_owner``, or ``owner_not_found`` for a ``user:`` owner), never given a wrong owner.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import partial

from connectors.salesforce.records import record_key
from rules import OwnerRef, Ruleset, SalesforceTaskAction
from sync.core.ports import OwnerDirectory
from sync.core.retry import RetryPolicy

FALLBACK_SETTING = "salesforce.fallback_owner_id"


def is_email(reference: str) -> bool:
    """``user:`` references are an email or a user id; ids never contain ``@``."""
    return "@" in reference


def owner_references(ruleset: Ruleset) -> frozenset[str]:
    """The ``user:`` owners the ruleset's tasks name: emails lower-cased, ids as written."""
    return frozenset(
        action.owner.user.lower() if is_email(action.owner.user) else action.owner.user
        for action in ruleset.actions.values()
        if isinstance(action, SalesforceTaskAction)
        and action.owner.kind == "user"
        and action.owner.user
    )


def find_active_owners(
    crm: OwnerDirectory, references: Iterable[str], retry: RetryPolicy
) -> dict[str, str]:
    """Active user id per ``user:`` reference (lower-cased email, or id as written); references
    with no active user are left out. The oldest user wins when several share an email."""
    wanted = set(references)
    emails = sorted(r for r in wanted if is_email(r))
    ids = sorted(r for r in wanted if not is_email(r))
    found: dict[str, str] = {}
    if emails:
        found.update(retry.call(partial(crm.find_active_users_by_email, emails)))
    if ids:
        active = retry.call(partial(crm.find_owners, ids))
        keys = {record_key(owner_id) for owner_id, kind in active.items() if kind == "User"}
        found.update({ref: ref for ref in ids if record_key(ref) in keys})
    return found


@dataclass(frozen=True, slots=True)
class OwnerChoice:
    """The owner of one Task, or the skip reason when the ladder ends with nobody."""

    owner_id: str | None
    #: Why the Task goes below the first rung of the ladder ("" when it does not).
    because: str = ""
    #: The skip reason (:mod:`rules.skips`) when ``owner_id`` is None.
    reason: str = ""

    @property
    def note(self) -> str:
        """The line the Task's description starts with when it went down the ladder."""
        return f"Assigned to you because {self.because}." if self.because else ""


def choose_owner(
    owner: OwnerRef,
    *,
    account_owner: str | None,
    contact_owner: str | None,
    has_account: bool,
    has_contact: bool,
    users: Mapping[str, str],
    fallback: str | None,
) -> OwnerChoice:
    """Walk the owner ladder (see the module docstring) for one Task."""
    if owner.kind == "user" and owner.user:
        reference = owner.user.lower() if is_email(owner.user) else owner.user
        user_id = users.get(reference)
        if user_id:
            return OwnerChoice(user_id)
        because = f"{owner.user} is not an active Salesforce user"
        return _fallback(because, fallback, "owner_not_found")
    ladder = [("account", account_owner, has_account), ("contact", contact_owner, has_contact)]
    if owner.kind == "contact_owner":
        ladder.reverse()
    (first, first_id, first_found), (second, second_id, second_found) = ladder
    if first_id:
        return OwnerChoice(first_id)
    missing = f"the {first} has no owner" if first_found else f"no Salesforce {first} was matched"
    if second_id:
        return OwnerChoice(second_id, because=missing)
    if not (first_found or second_found):
        because = "the response matched no Salesforce account or contact"
    elif first_found and second_found:
        because = "neither the account nor the contact has an owner"
    elif first_found:
        because = f"the {first} has no owner and no {second} was matched"
    else:
        because = f"the {second} has no owner and no {first} was matched"
    return _fallback(because, fallback, "no_owner")


def _fallback(because: str, fallback: str | None, reason: str) -> OwnerChoice:
    if fallback:
        return OwnerChoice(fallback, because=because)
    return OwnerChoice(None, because=f"{because}, and no {FALLBACK_SETTING} is set", reason=reason)
