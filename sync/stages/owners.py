"""Who owns a Task: the owner ladder, and the users and queues the rules name, as ids.

Salesforce wants a User or queue id as a Task's ``OwnerId``; admins would rather write an email
or a queue's name. The ``user:`` owners a ruleset names (emails or user ids) are looked up once
(through the :class:`~sync.core.ports.OwnerDirectory` port) whenever the rules in force name a
different set; its ``queue:`` owners (a queue's Name or DeveloperName) are looked up once per
pass, so a queue set up in Salesforce is used from the next pass on. Routing reads the resolved
ids from its context.

The ladder (:func:`choose_owner`), from what the rule asked for to the last resort:

- ``owner: account_owner``: the account's owner, else the contact's owner, else the fallback;
- ``owner: contact_owner``: the contact's owner, else the account's owner, else the fallback;
  an owner who is a deactivated user (someone who left keeps their accounts until they are
  reassigned; Salesforce refuses them a new Task) counts as no owner;
- ``owner: user:<email or id>``: that user if active, else the fallback;
- ``owner: queue:<name>``: that queue if it exists and may own Tasks, else the fallback;

where the fallback is ``salesforce.fallback_owner_id``. A Task that lands below the first rung
says why in its description; only when the ladder ends with nobody is the action skipped
(``no_owner``, or ``owner_not_found`` for a ``user:`` or ``queue:`` owner), never given a wrong
owner. A ``queue:`` owner that is missing, or that may not own Tasks, is also a configuration
error of the pass, reported at its place in the rules file (:mod:`sync.checks.references`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial

from connectors.models import Queue
from connectors.salesforce.records import record_key
from rules import Issue, OwnerRef, RulesError, Ruleset, SalesforceTaskAction, locate
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


def queue_references(ruleset: Ruleset) -> frozenset[str]:
    """The ``queue:`` owners the ruleset's tasks name, as written."""
    return frozenset(
        action.owner.queue
        for action in ruleset.actions.values()
        if isinstance(action, SalesforceTaskAction)
        and action.owner.kind == "queue"
        and action.owner.queue
    )


@dataclass(frozen=True, slots=True)
class TaskQueues:
    """``queue:`` references resolved: the queue id of each that may own Tasks, and why each
    of the others cannot."""

    ids: Mapping[str, str] = field(default_factory=dict)
    problems: Mapping[str, str] = field(default_factory=dict)


def find_task_queues(
    crm: OwnerDirectory, references: Iterable[str], retry: RetryPolicy
) -> TaskQueues:
    """Resolve ``queue:`` references by Name or DeveloperName (case-insensitively; a
    DeveloperName match wins, then the oldest queue) and check that each queue may own Tasks."""
    wanted = sorted(set(references))
    if not wanted:
        return TaskQueues()
    queues = retry.call(partial(crm.find_queues, wanted))
    ids: dict[str, str] = {}
    problems: dict[str, str] = {}
    for reference in wanted:
        queue = _queue_named(queues, reference)
        if queue is None:
            problems[reference] = "is not a Salesforce queue (none has that Name or DeveloperName)"
        elif "Task" not in queue.sobjects:
            takes = ", ".join(sorted(queue.sobjects)) or "no objects"
            problems[reference] = (
                f"is a queue ({queue.id}) that does not take Tasks (it takes {takes})"
            )
        else:
            ids[reference] = queue.id
    return TaskQueues(ids, problems)


def queue_errors(
    ruleset: Ruleset,
    queues: TaskQueues,
    rules_file: str | os.PathLike[str] | None,
    fallback: str | None,
) -> list[str]:
    """One ``file:line:col: owner queue:X ...; fix`` per place of the rules file that names a
    queue ``queues`` could not use (without the place when the file is not known)."""
    if not queues.problems:
        return []
    meanwhile = (
        f"until then its Tasks go to the fallback owner {fallback}"
        if fallback
        else f"until then its Tasks are skipped (owner_not_found): no {FALLBACK_SETTING} is set"
    )
    issues = [
        Issue(
            ("actions", name, "owner"),
            f"owner queue:{queue} {queues.problems[queue]}; create the queue with Task among "
            f"its objects, or name another owner ({meanwhile})",
        )
        for name, action in ruleset.actions.items()
        if isinstance(action, SalesforceTaskAction)
        and (queue := action.owner.queue or "") in queues.problems
    ]
    if rules_file is not None:
        try:
            return [str(d) for d in locate(rules_file, issues)]
        except RulesError:  # the file changed or went away since it was loaded
            pass
    return [issue.message for issue in issues]


def _queue_named(queues: Iterable[Queue], reference: str) -> Queue | None:
    lowered = reference.lower()
    by_developer = [q for q in queues if q.developer_name.lower() == lowered]
    by_name = [q for q in queues if q.name.lower() == lowered]
    found = sorted(by_developer or by_name, key=lambda q: q.id)
    return found[0] if found else None


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
    queues: Mapping[str, str] | None = None,
    inactive: frozenset[str] = frozenset(),
) -> OwnerChoice:
    """Walk the owner ladder (see the module docstring) for one Task; ``queues`` are the
    resolved ``queue:`` owners that may own Tasks; ``inactive`` the rungs (``account``,
    ``contact``) whose owner is a deactivated user, who cannot own a new Task."""
    if owner.kind == "queue" and owner.queue:
        queue_id = (queues or {}).get(owner.queue)
        if queue_id:
            return OwnerChoice(queue_id)
        because = f"queue {owner.queue} does not exist in Salesforce or does not take Tasks"
        return _fallback(because, fallback, "owner_not_found")
    if owner.kind == "user" and owner.user:
        reference = owner.user.lower() if is_email(owner.user) else owner.user
        user_id = users.get(reference)
        if user_id:
            return OwnerChoice(user_id)
        because = f"{owner.user} is not an active Salesforce user"
        return _fallback(because, fallback, "owner_not_found")
    rungs = [
        _Rung("account", account_owner, has_account, "account" in inactive),
        _Rung("contact", contact_owner, has_contact, "contact" in inactive),
    ]
    if owner.kind == "contact_owner":
        rungs.reverse()
    first, second = rungs
    if first.usable:
        return OwnerChoice(first.owner_id or "")
    if second.usable:
        return OwnerChoice(second.owner_id or "", because=first.why)
    if not (first.found or second.found):
        because = "the response matched no Salesforce account or contact"
    elif first.found and second.found and not (first.inactive or second.inactive):
        because = "neither the account nor the contact has an owner"
    elif not second.found:
        because = f"{first.why} and no {second.name} was matched"
    elif not first.found:
        because = f"{second.why} and no {first.name} was matched"
    else:
        because = f"{first.why} and {second.why}"
    return _fallback(because, fallback, "no_owner")


@dataclass(frozen=True, slots=True)
class _Rung:
    """The account or the contact as a step of the ladder."""

    name: str
    owner_id: str | None
    found: bool
    inactive: bool

    @property
    def usable(self) -> bool:
        return bool(self.owner_id) and not self.inactive

    @property
    def why(self) -> str:
        """Why this rung gives no owner."""
        if not self.found:
            return f"no Salesforce {self.name} was matched"
        if self.owner_id and self.inactive:
            return f"the {self.name}'s owner is a deactivated Salesforce user"
        return f"the {self.name} has no owner"


def _fallback(because: str, fallback: str | None, reason: str) -> OwnerChoice:
    if fallback:
        return OwnerChoice(fallback, because=because)
    return OwnerChoice(None, because=f"{because}, and no {FALLBACK_SETTING} is set", reason=reason)
