"""The people and groups a rules file names, checked against Salesforce and Zendesk.

A ``user:`` Task owner that is not an active Salesforce user, or a ``queue:`` owner that is not a
queue taking Tasks, sends its Tasks down the owner ladder (:mod:`sync.stages.owners`) to the
fallback owner, or skips them when there is none; an
``assignee`` that is not a Zendesk agent, or a ``group`` that does not exist, stops routing (the
engine refuses names it cannot resolve). ``nps-sync check`` and ``nps-sync rules check
--config`` report each missing name at every place of the rules file that uses it
(``file:line:col``), with a fix.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path as FilePath
from typing import Protocol

from connectors.errors import ConfigError, ConnectorError
from rules import (
    Diagnostic,
    Issue,
    RulesError,
    Ruleset,
    SalesforceTaskAction,
    ZendeskTicketAction,
    locate,
)
from sync.core.ports import CustomFieldsCrm, NamesPort, OwnerDirectory
from sync.core.retry import RetryPolicy
from sync.stages.custom_fields import OBJECTS, declared_as, fits, salesforce_fields
from sync.stages.match_zendesk import ZendeskNames, resolve_names
from sync.stages.owners import (
    FALLBACK_SETTING,
    find_active_owners,
    find_task_queues,
    is_email,
    queue_references,
)

Path = tuple[str | int, ...]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Missing:
    """A name the rules use that the system does not have, and every place that uses it."""

    system: str
    #: What is named, as ``check`` lists it: ``owner user:x@acme.com``, ``assignee ...``.
    item: str
    problem: str
    fix: str
    paths: tuple[Path, ...]

    def diagnostics(self, rules_file: str | os.PathLike[str]) -> list[Diagnostic]:
        """One ``file:line:col: item problem; fix`` per place of the rules file using it."""
        message = f"{self.item} {self.problem}; {self.fix}"
        return locate(rules_file, (Issue(path, message) for path in self.paths))

    def places(self, rules_file: str | os.PathLike[str]) -> str:
        """``file:line:col`` of each place, comma-separated."""
        found = locate(rules_file, (Issue(path, "") for path in self.paths))
        return ", ".join(f"{d.file}:{d.line}:{d.col}" for d in found)


def missing_owners(
    ruleset: Ruleset,
    crm: OwnerDirectory,
    fallback_owner_id: str | None,
    retry: RetryPolicy | None = None,
) -> list[Missing]:
    """The ``user:`` Task owners that are not active Salesforce users, and the ``queue:``
    owners that are not queues taking Tasks."""
    retry = retry or RetryPolicy()
    missing = _missing_users(ruleset, crm, fallback_owner_id, retry)
    return missing + _missing_queues(ruleset, crm, fallback_owner_id, retry)


def _meanwhile(fallback_owner_id: str | None) -> str:
    return (
        f"until then its Tasks go to the fallback owner {fallback_owner_id}"
        if fallback_owner_id
        else f"until then its Tasks are skipped (owner_not_found): no {FALLBACK_SETTING} is set"
    )


def _missing_queues(
    ruleset: Ruleset, crm: OwnerDirectory, fallback_owner_id: str | None, retry: RetryPolicy
) -> list[Missing]:
    references = queue_references(ruleset)
    if not references:
        return []
    found = find_task_queues(crm, references, retry)
    uses: dict[str, list[Path]] = {}
    for name, action in ruleset.actions.items():
        queue = action.owner.queue if isinstance(action, SalesforceTaskAction) else None
        if queue and queue in found.problems:
            uses.setdefault(queue, []).append(("actions", name, "owner"))
    return [
        Missing(
            "salesforce",
            f"owner queue:{queue}",
            found.problems[queue],
            "create the queue with Task among its objects, or name another owner "
            f"({_meanwhile(fallback_owner_id)})",
            tuple(paths),
        )
        for queue, paths in sorted(uses.items())
    ]


def _missing_users(
    ruleset: Ruleset, crm: OwnerDirectory, fallback_owner_id: str | None, retry: RetryPolicy
) -> list[Missing]:
    uses: dict[str, list[Path]] = {}
    shown: dict[str, str] = {}
    for name, action in ruleset.actions.items():
        if isinstance(action, SalesforceTaskAction) and action.owner.user:
            user = action.owner.user
            reference = user.lower() if is_email(user) else user
            uses.setdefault(reference, []).append(("actions", name, "owner"))
            shown.setdefault(reference, user)
    if not uses:
        return []
    active = find_active_owners(crm, uses, retry)
    meanwhile = _meanwhile(fallback_owner_id)
    return [
        Missing(
            "salesforce",
            f"owner user:{shown[reference]}",
            "is not an active Salesforce user",
            f"create or activate that user, or name another owner ({meanwhile})",
            tuple(paths),
        )
        for reference, paths in sorted(uses.items())
        if reference not in active
    ]


def missing_custom_fields(
    ruleset: Ruleset, crm: CustomFieldsCrm, retry: RetryPolicy | None = None
) -> list[Missing]:
    """The ``account.custom.<Name>`` and ``contact.custom.<Name>`` fields the rules use that
    Salesforce does not have (or the integration user cannot see), and those declared a type
    their values cannot read as (a checkbox declared ``integer`` would always be missing)."""
    retry = retry or RetryPolicy()
    out: list[Missing] = []
    for namespace, sobject in OBJECTS.items():
        names = salesforce_fields(ruleset, namespace)
        if not names:
            continue
        described = retry.call(partial(crm.described_fields, sobject, list(names)))
        for name in names:
            declared = f"{namespace}.custom.{name}"
            info = described.get(name)
            where = (("fields", declared),)
            if info is None:
                problem = (
                    "does not exist, or the integration user cannot see it: nps-sync refuses "
                    "to route responses until it can read it"
                )
                fix = (
                    "create the field or grant the user read access to it, or correct "
                    f"{declared} in the rules"
                )
                out.append(Missing("salesforce", f"field {sobject}.{name}", problem, fix, where))
                continue
            spec = ruleset.fields[declared]
            if not fits(spec.type, info):
                problem = (
                    f"is a Salesforce {info.type} field, declared {spec.type.value}: its values "
                    "would read as missing"
                )
                fix = f"declare {declared} as {declared_as(info).value}"
                out.append(Missing("salesforce", f"field {sobject}.{name}", problem, fix, where))
    return out


def missing_zendesk_names(
    ruleset: Ruleset, helpdesk: NamesPort, retry: RetryPolicy | None = None
) -> list[Missing]:
    """The ticket groups that do not exist and the assignees that are not agents."""
    groups, assignees = _ticket_names(ruleset)
    if not groups and not assignees:
        return []
    names = resolve_names(helpdesk, groups=groups, assignees=assignees, retry=retry)
    return zendesk_missing(ruleset, names)


def _ticket_names(ruleset: Ruleset) -> tuple[dict[str, list[Path]], dict[str, list[Path]]]:
    """Groups and (lower-cased) assignees of the ticket actions, with where each is named."""
    groups: dict[str, list[Path]] = {}
    assignees: dict[str, list[Path]] = {}
    for name, action in ruleset.actions.items():
        if isinstance(action, ZendeskTicketAction):
            if action.group:
                groups.setdefault(action.group, []).append(("actions", name, "group"))
            if action.assignee:
                path: Path = ("actions", name, "assignee")
                assignees.setdefault(action.assignee.lower(), []).append(path)
    return groups, assignees


def zendesk_missing(ruleset: Ruleset, names: ZendeskNames) -> list[Missing]:
    """The groups and assignees of ``ruleset`` that ``names`` (as resolved) lacks."""
    groups, assignees = _ticket_names(ruleset)
    missing = [
        Missing(
            "zendesk",
            f"group {group}",
            "does not exist: nps-sync refuses to route responses until it does",
            f"create the group {group!r} (Admin Center > People > Groups), or fix the name",
            tuple(paths),
        )
        for group, paths in sorted(groups.items())
        if group not in names.groups
    ]
    missing += [
        Missing(
            "zendesk",
            f"assignee {email}",
            "is not a Zendesk agent: nps-sync refuses to route responses until it is",
            f"add {email} as an agent, or change the action's assignee",
            tuple(paths),
        )
        for email, paths in sorted(assignees.items())
        if email not in names.agents
    ]
    return missing


def require_custom_fields(
    ruleset: Ruleset, crm: CustomFieldsCrm, rules_file: FilePath, retry: RetryPolicy
) -> None:
    """Refuse, at the rules' lines, custom fields Salesforce lacks or whose values cannot read
    as declared (:class:`~rules.RulesError`: a daemon does not start on them). A Salesforce
    that does not answer now is left to the passes, which read the fields with the lookups."""
    try:
        missing = missing_custom_fields(ruleset, crm, retry)
    except ConnectorError as error:
        if isinstance(error, ConfigError):
            raise
        return
    if missing:
        raise RulesError(diagnostics(missing, rules_file))


class RulesCrm(OwnerDirectory, CustomFieldsCrm, Protocol):
    """What the rules name in Salesforce: owners, queues and fields."""


def reload_check(
    crm: RulesCrm, helpdesk: NamesPort, fallback_owner_id: str | None, retry: RetryPolicy
) -> Callable[[Ruleset, FilePath], list[str]]:
    """The check a daemon runs on reloaded rules (:attr:`sync.app.reload.RulesHolder.verify`):
    custom fields, ticket groups and assignees that do not exist, one ``file:line:col`` line
    each. Such rules would stop routing, so the reload keeps the rules in force instead.

    Owners that are not active users or Task queues are only warned about, as at start-up:
    their Tasks go down the owner ladder, and someone leaving the company must not freeze
    every later edit of the rules until the daemon is restarted."""

    def check(ruleset: Ruleset, rules_file: FilePath) -> list[str]:
        for line in diagnostics(missing_owners(ruleset, crm, fallback_owner_id, retry), rules_file):
            log.warning("rules file %s: %s", rules_file, line)
        missing = [
            *missing_custom_fields(ruleset, crm, retry),
            *missing_zendesk_names(ruleset, helpdesk, retry),
        ]
        return [str(d) for d in diagnostics(missing, rules_file)]

    return check


def diagnostics(missing: Iterable[Missing], rules_file: str | os.PathLike[str]) -> list[Diagnostic]:
    """Every place of ``rules_file`` that names something missing, in file order."""
    return sorted(d for m in missing for d in m.diagnostics(rules_file))
