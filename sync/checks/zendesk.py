"""Zendesk set-up checks: the fields, groups, agents and organizations the config and rules name.

Zendesk drops a value for an unknown custom field key without an error, so a misnamed field
means NPS values silently never arrive; these checks say, before the first sync, what exists,
what does not, and what to create (with the type and key or title it needs).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from connectors.zendesk.client import ZendeskConnector
from connectors.zendesk.records import FieldInfo
from rules import RulesError, load_rules
from sync.checks import Finding
from sync.checks.references import zendesk_missing
from sync.core.config import Config
from sync.fields.fieldmap import RequiredField, required_fields
from sync.stages.match_zendesk import (
    TICKET_FIELD_SETTINGS,
    field_titles,
    resolve_names,
    rule_references,
)

SYSTEM = "zendesk"
_STAFF = frozenset({"agent", "admin"})

#: Zendesk field types that can hold what we write, per type we need.
_FITTING_TYPES: dict[str, frozenset[str]] = {
    "integer": frozenset({"integer", "decimal"}),
    "decimal": frozenset({"decimal"}),
    "date": frozenset({"date"}),
    "checkbox": frozenset({"checkbox"}),
    "text": frozenset({"text", "textarea", "regexp"}),
    "textarea": frozenset({"textarea", "text"}),
    "category": frozenset({"tagger", "dropdown", "text"}),
    "tier": frozenset({"text", "tagger", "dropdown"}),
    "outcome": frozenset({"tagger", "dropdown"}),
}
#: What each semantic ticket field needs, and how to say it to an admin.
_TICKET_FIELD_TYPES: dict[str, tuple[str, str]] = {
    "score": ("integer", "Number"),
    "category": ("category", "Drop-down with promoter, passive, detractor"),
    "response_link": ("text", "Text"),
    "account_arr": ("decimal", "Decimal"),
    "account_tier": ("tier", "Text"),
    "loop_outcome": (
        "outcome",
        "Drop-down with loop_resolved, loop_not_reachable, loop_no_action_needed, loop_churn_risk",
    ),
}
_ZENDESK_TYPE_NAMES = {
    "integer": "Number",
    "decimal": "Decimal",
    "date": "Date",
    "checkbox": "Checkbox",
    "text": "Text",
    "textarea": "Multi-line",
}
CATEGORIES = ("promoter", "passive", "detractor")


def check_zendesk(config: Config, helpdesk: ZendeskConnector) -> list[Finding]:
    """Findings for every Zendesk name the config and rules use."""
    me = helpdesk.me()
    where = f"{config.zendesk.subdomain}.{config.zendesk.domain}"
    findings = [
        Finding(SYSTEM, "connection", "ok", f"connected to {where} as {me.email} ({me.role})")
        if me.role in _STAFF
        else Finding(
            SYSTEM,
            "connection",
            "error",
            f"{me.email} is a {me.role or 'user'}, not an agent: it cannot create tickets",
            fix="authenticate as an agent or admin (API token of that user, or an OAuth token)",
        )
    ]
    findings += ticket_field_findings(config, helpdesk.ticket_fields())
    required = [r for r in required_fields(config) if r.system == SYSTEM]
    findings += keyed_field_findings("user", required, helpdesk.user_fields())
    findings += keyed_field_findings("organization", required, helpdesk.organization_fields())
    findings += name_findings(config, helpdesk)
    return findings


def ticket_field_findings(config: Config, fields: Sequence[FieldInfo]) -> list[Finding]:
    """The configured custom ticket fields exist, are active and can hold our values."""
    titles = field_titles(config.zendesk)
    by_title = {f.title: f for f in fields}
    findings: list[Finding] = []
    for name, setting in TICKET_FIELD_SETTINGS.items():
        title = titles.get(name)
        item = f"ticket field {name}"
        if title is None:
            findings.append(
                Finding(SYSTEM, item, "ok", f"not used (set zendesk.fields.{setting} to use it)")
            )
            continue
        need, described = _TICKET_FIELD_TYPES[name]
        create = (
            f"create a {described} ticket field titled {title!r} (Admin Center > Objects and "
            f"rules > Tickets > Fields), or set zendesk.fields.{setting}: '' to leave it out"
        )
        found = by_title.get(title)
        if found is None:
            findings.append(Finding(SYSTEM, item, "error", f"{title!r} does not exist", fix=create))
        elif not found.active:
            findings.append(
                Finding(SYSTEM, item, "error", f"{title!r} is inactive", fix="activate it")
            )
        elif found.type not in _FITTING_TYPES[need]:
            findings.append(
                Finding(
                    SYSTEM,
                    item,
                    "error",
                    f"{title!r} is of type {found.type}, which cannot hold the {name}",
                    fix=create,
                )
            )
        elif name == "category" and found.options and set(CATEGORIES) - set(found.options):
            lacking = ", ".join(c for c in CATEGORIES if c not in found.options)
            findings.append(
                Finding(
                    SYSTEM,
                    item,
                    "warning",
                    f"{title!r} has no option value {lacking}: such tickets leave it empty",
                    fix=f"add the option values {lacking} to {title!r}",
                )
            )
        else:
            findings.append(Finding(SYSTEM, item, "ok", f"{title!r} ({found.type}, id {found.id})"))
    return findings


def keyed_field_findings(
    obj: str, required: Iterable[RequiredField], fields: Sequence[FieldInfo]
) -> list[Finding]:
    """The user (or organization) fields write-back fills exist with a fitting type."""
    by_key = {f.key: f for f in fields if f.key}
    findings: list[Finding] = []
    for need in (r for r in required if r.object == obj):
        item = f"{obj} field {need.field}"
        type_name = _ZENDESK_TYPE_NAMES.get(need.type, need.type)
        create = (
            f"create a {type_name} {obj} field with key {need.field!r} (Admin Center > People "
            f"> Configuration > {obj.capitalize()} fields), titled e.g. {need.label!r}"
        )
        found = by_key.get(need.field)
        if found is None:
            message = f"{need.field!r} does not exist: {need.label} would be dropped silently"
            findings.append(Finding(SYSTEM, item, "error", message, fix=create))
        elif not found.active:
            findings.append(
                Finding(SYSTEM, item, "error", f"{need.field!r} is inactive", fix="activate it")
            )
        elif found.type not in _FITTING_TYPES.get(need.type, frozenset({need.type})):
            message = f"{need.field!r} is of type {found.type}, expected {need.type}"
            findings.append(Finding(SYSTEM, item, "error", message, fix=create))
        else:
            findings.append(Finding(SYSTEM, item, "ok", f"{need.field!r} ({found.type})"))
    return findings


def name_findings(config: Config, helpdesk: ZendeskConnector) -> list[Finding]:
    """Groups and assignees of the rules (each missing one with where the rules name it),
    organizations of the domain mapping."""
    try:
        ruleset = load_rules(config.rules)
    except RulesError as exc:
        message = f"rules cannot be read, groups and assignees not checked: {exc}"
        return [Finding(SYSTEM, "rules", "warning", message.splitlines()[0])]
    groups, assignees = rule_references(ruleset)
    domains = config.zendesk.matching.organization_domains
    names = resolve_names(helpdesk, groups=groups, assignees=assignees, domains=domains)
    findings: list[Finding] = [
        Finding(SYSTEM, f"group {group}", "ok", f"id {names.groups[group]}")
        for group in sorted(groups)
        if group in names.groups
    ]
    findings += [
        Finding(SYSTEM, f"assignee {email}", "ok", "an agent")
        for email in sorted(assignees)
        if email in names.agents
    ]
    findings += [
        Finding(SYSTEM, m.item, "error", f"{m.places(config.rules)}: {m.problem}", fix=m.fix)
        for m in zendesk_missing(ruleset, names)
    ]
    for domain, name in sorted(domains.items()):
        item = f"organization for {domain}"
        if domain.lower() in names.domain_organizations:
            findings.append(Finding(SYSTEM, item, "ok", f"{name!r}"))
        else:
            findings.append(
                Finding(
                    SYSTEM,
                    item,
                    "error",
                    f"organization {name!r} does not exist",
                    fix=f"create {name!r} or fix zendesk.matching.organization_domains",
                )
            )
    return findings
