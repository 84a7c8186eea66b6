"""Salesforce set-up checks: the configured objects and fields exist, fit and are writable.

One describe per object the configuration touches (Task, Contact, Account, Lead when the
matching ladder uses Leads, the history object when enabled). Every configured field is reported
with what it must be: present, of a fitting type, updateable (or createable on Task, filterable
where we look records up by it). Missing fields are summed up at the end as the exact list to
create (object, API name, type, length), and every problem is an error, so the command exits
non-zero while the configuration cannot work. :func:`setup_fields` is the same list of custom
fields as ``nps-sync fields setup --metadata`` creates them, so a deploy of its output makes an
empty org pass.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

from connectors.errors import ConfigError, ConnectorError, DeferError, RetryableError
from connectors.salesforce.client import SalesforceConnector
from connectors.salesforce.describe import FieldInfo, ObjectInfo
from connectors.salesforce.records import ACCOUNT_PREFIX, record_key
from rules import RulesError, load_rules
from sync.checks import Finding
from sync.checks.references import missing_custom_fields, missing_owners
from sync.core.config import Config
from sync.fields.fieldmap import RequiredField, field_problem, required_fields
from sync.fields.sfmetadata import PERMISSION_SET
from sync.loop.states import OUTCOME_LABELS
from sync.stages.owners import owner_references, queue_references

SYSTEM = "salesforce"
T = TypeVar("T")
#: Length of an idempotency key (``sync.stages.route.action_key``); the marker field must hold it.
MARKER_LENGTH = 40

#: The fix for a field the integration user may not edit.
GRANT_EDIT = (
    "grant edit access in field-level security (profile or permission set; the permission set "
    f"{PERMISSION_SET} that `nps-sync fields setup --metadata` writes does)"
)

Need = Literal["read", "filter", "create"]
TEXT = frozenset({"string", "textarea", "email", "url", "phone", "picklist", "combobox"})
NUMBER = frozenset({"double", "currency", "int", "percent"})
DATE = frozenset({"date", "datetime"})
ANY: frozenset[str] = frozenset()
READ: frozenset[Need] = frozenset({"read"})
FILTER: frozenset[Need] = frozenset({"read", "filter"})
CREATE: frozenset[Need] = frozenset({"create"})


@dataclass(frozen=True, slots=True)
class Expected:
    """A field nps-sync reads, filters on or sets when creating, and what it must be."""

    sobject: str
    name: str
    needs: frozenset[Need]
    types: frozenset[str]
    #: How to create it (custom fields) or why it matters (standard ones).
    create_as: str
    setting: str = ""
    min_length: int = 0
    #: The field as ``nps-sync fields setup`` creates it (custom fields only).
    spec: RequiredField | None = None

    @property
    def item(self) -> str:
        return f"{self.sobject}.{self.name}"


def _input_field(
    sobject: str, name: str, key: str, kind: str, label: str, what: str, **size: int | bool
) -> RequiredField:
    """A field nps-sync reads (or, for the Task marker, sets) that no metric maps."""
    setting = f"salesforce.fields.{key}"
    return RequiredField(
        system="salesforce",
        object=sobject,
        field=name,
        type=kind,
        length=int(size.get("length", 0)) or None,
        label=label,
        description=f"{what} Set salesforce.fields.{key} to use another field.",
        metric=setting,
        precision=int(size.get("precision", 0)) or None,
        scale=int(size.get("scale", 0)) if "precision" in size else None,
        external_id=bool(size.get("external_id", False)),
        read_only=sobject != "Task",
    )


def _custom(
    sobject: str,
    key: str,
    name: str,
    needs: frozenset[Need],
    types: frozenset[str],
    spec: RequiredField,
    **extra: int,
) -> Expected:
    setting = f"salesforce.fields.{key}"
    create_as = create_spec(spec)
    return Expected(sobject, name, needs, types, create_as, setting, spec=spec, **extra)


def expected_fields(config: Config) -> list[Expected]:
    """The fields matching, routing and Task creation use (write-back fields come from
    :func:`sync.fields.fieldmap.required_fields`)."""
    f = config.salesforce.fields
    order = config.salesforce.matching.order
    out = [
        Expected("Contact", "Email", FILTER, TEXT, "standard"),
        Expected("Contact", "AccountId", READ, ANY, "standard"),
        Expected("Contact", "OwnerId", READ, ANY, "standard"),
        Expected("Account", "OwnerId", READ, ANY, "standard"),
        Expected("Account", "Website", FILTER if not f.account_domain else READ, TEXT, "standard"),
    ]
    account_reads = [
        ("account_tier", f.account_tier, TEXT, "Text", "Tier", {"length": 255}),
        ("account_arr", f.account_arr, NUMBER, "Currency", "ARR", {"precision": 18, "scale": 2}),
        ("account_region", f.account_region, TEXT, "Text", "Region", {"length": 255}),
        ("account_renewal_date", f.account_renewal_date, DATE, "Date", "Renewal Date", {}),
    ]
    if f.contact_role:
        what = "The contact's role (Decision Maker, Champion...), which rules route on."
        spec = _input_field(
            "Contact", f.contact_role, "contact_role", "Text", "Role", what, length=255
        )
        out.append(_custom("Contact", "contact_role", f.contact_role, READ, TEXT, spec))
    for key, name, types, kind, label, size in account_reads:
        if not name:
            continue
        what = f"The account's {label.lower()}, which nps-sync reads for routing and metrics."
        spec = _input_field("Account", name, key, kind, label, what, **size)
        out.append(_custom("Account", key, name, READ, types, spec))
    if f.account_domain:
        needs = FILTER if "domain" in order else READ
        what = "The account's email domain (acme.com), which nps-sync matches responses by."
        spec = _input_field(
            "Account", f.account_domain, "account_domain", "Text", "Email Domain", what, length=255
        )
        out.append(_custom("Account", "account_domain", f.account_domain, needs, TEXT, spec))
    task_fields = ("Subject", "Description", "OwnerId", "WhoId", "WhatId", "ActivityDate")
    for name in (*task_fields, "Status", "Priority"):
        out.append(Expected("Task", name, CREATE, ANY, "standard"))
    if f.task_marker:
        what = (
            "The key of the nps-sync action that created this Task; a retried create finds "
            "the Task by it instead of creating a second one."
        )
        spec = _input_field(
            "Task",
            f.task_marker,
            "task_marker",
            "Text",
            "NPS Sync Key",
            what,
            length=MARKER_LENGTH * 2,
            external_id=True,
        )
        marker = _custom(
            "Task",
            "task_marker",
            f.task_marker,
            CREATE | FILTER,
            frozenset({"string"}),
            spec,
            min_length=MARKER_LENGTH,
        )
        out.append(marker)
    if f.task_loop_outcome:
        what = (
            "How the follow-up ended: Resolved, Not reachable, No action needed or Churn risk. "
            "nps-sync reads it for the loop state of the response (nps-sync loop report)."
        )
        spec = dataclasses.replace(
            _input_field(
                "Task", f.task_loop_outcome, "task_loop_outcome", "Picklist", "Loop Outcome", what
            ),
            picklist_values=OUTCOME_LABELS,
        )
        out.append(
            _custom(
                "Task",
                "task_loop_outcome",
                f.task_loop_outcome,
                READ,
                frozenset({"picklist"}),
                spec,
            )
        )
    if "lead" in order:
        for name in ("Email", "IsConverted", "OwnerId"):
            out.append(Expected("Lead", name, FILTER, ANY, "standard"))
    return out


def setup_fields(config: Config) -> list[RequiredField]:
    """Every custom Salesforce field the check inspects, as ``nps-sync fields setup`` creates
    it: the write-back fields (on Leads too when matching uses them), the Task marker and the
    account fields that matching and routing read. Standard fields are left out by the caller
    (they cannot be created)."""
    required = [r for r in required_fields(config) if r.system == SYSTEM]
    out = [*required, *lead_write_fields(required, config)]
    seen = {(r.object.lower(), r.field.lower()) for r in out}
    for expected in expected_fields(config):
        spec = expected.spec
        if spec is not None and (spec.object.lower(), spec.field.lower()) not in seen:
            seen.add((spec.object.lower(), spec.field.lower()))
            out.append(spec)
    return out


def lead_write_fields(required: Sequence[RequiredField], config: Config) -> list[RequiredField]:
    """A Lead matched in place of a contact gets the contact's fields written too."""
    if "lead" not in config.salesforce.matching.order:
        return []
    return [
        dataclasses.replace(r, object="Lead")
        for r in required
        if r.system == SYSTEM and r.object == "Contact"
    ]


def expected_problem(expected: Expected, described: FieldInfo | None) -> str | None:
    """What keeps a field from serving, or None when it fits."""
    if described is None:
        return "does not exist (or the integration user cannot see it)"
    if expected.types and described.type not in expected.types:
        return f"is {described.type}, which does not fit (expected {expected.create_as})"
    if "filter" in expected.needs and not described.filterable:
        return "cannot be used in a query filter"
    if "create" in expected.needs and not described.createable:
        return "cannot be set on create by the integration user (field-level security)"
    if expected.min_length and described.length < expected.min_length:
        return f"holds {described.length} characters; it needs at least {expected.min_length}"
    return None


def create_spec(required: RequiredField) -> str:
    """``Number(2, 0)``, ``Text(80)``, ``Picklist: a, b`` ... as an admin creates it."""
    kind = required.type
    if required.precision is not None:
        spec = f"{kind}({required.precision}, {required.scale or 0})"
    elif required.length:
        spec = f"{kind}({required.length})"
    else:
        spec = kind
    if required.picklist_values:
        spec += ": " + ", ".join(required.picklist_values)
    if required.reference_to:
        spec += f" to {required.reference_to}"
    if required.external_id:
        spec += ", External ID, unique"
    return spec


class _Describer:
    """Describes each object once; a failure becomes one finding for that object."""

    def __init__(self, crm: SalesforceConnector, findings: list[Finding]) -> None:
        self.crm = crm
        self.findings = findings
        self.cache: dict[str, ObjectInfo | None] = {}

    def __call__(self, sobject: str) -> ObjectInfo | None:
        if sobject not in self.cache:
            try:
                self.cache[sobject] = self.crm.describe(sobject)
            except ConnectorError as exc:
                self.cache[sobject] = None
                message = f"cannot describe {sobject}: {exc.message}"
                self.findings.append(Finding(SYSTEM, sobject, "error", message, _describe_fix(exc)))
        return self.cache[sobject]


def _describe_fix(error: ConnectorError) -> str:
    """What to do when an object cannot be described, by the error's tier."""
    if isinstance(error, DeferError):
        return (
            "the org's daily API allowance (or nps-sync's reserve of it) is used up; run the "
            "check again when usage has fallen"
        )
    if isinstance(error, RetryableError):
        return "Salesforce did not answer; check that this machine reaches it, then run again"
    if isinstance(error, ConfigError):
        return "grant the integration user access to this object (profile or permission set)"
    if "NOT_FOUND" in error.message:
        return "create the object, or run `nps-sync fields setup --metadata DIR` and deploy DIR"
    return ""


def check_salesforce(config: Config, crm: SalesforceConnector) -> list[Finding]:
    """Findings for every Salesforce object and field the config names."""
    findings = [_connection(config, crm)]
    describe = _Describer(crm, findings)
    to_create: list[str] = []
    for expected in expected_fields(config):
        info = describe(expected.sobject)
        if info is not None:
            findings.append(_expected_finding(expected, info, to_create))
    required = [r for r in required_fields(config) if r.system == SYSTEM]
    for req in [*required, *lead_write_fields(required, config)]:
        info = describe(req.object)
        if info is not None:
            findings.append(_required_finding(req, info, to_create))
    findings.extend(_owner(config, crm))
    findings.extend(_rule_owners(config, crm))
    findings.extend(_rule_fields(config, crm))
    findings.extend(_aliases(config, crm))
    if to_create:
        findings.append(
            Finding(
                SYSTEM,
                "fields to create",
                "error",
                f"{len(to_create)} missing or not visible to the integration user: run "
                f"`nps-sync fields setup --metadata DIR`, deploy DIR and assign its permission "
                f"set {PERMISSION_SET} to the integration user (or create these fields by hand), "
                "then run the check again",
                fix="\n".join(to_create),
            )
        )
    return findings


def _connection(config: Config, crm: SalesforceConnector) -> Finding:
    usage = crm.usage
    reserve = config.salesforce.api.reserve
    text = f"connected to {config.salesforce.instance_url}"
    if usage is None:
        return Finding(SYSTEM, "connection", "ok", text)
    text += f"; {usage}, {reserve:.0%} kept in reserve"
    if usage.used >= usage.allowance * (1 - reserve):
        return Finding(
            SYSTEM,
            "API usage",
            "warning",
            text,
            fix="runs stop at once until usage falls below the reserve line",
        )
    return Finding(SYSTEM, "connection", "ok", text)


def _expected_finding(expected: Expected, info: ObjectInfo, to_create: list[str]) -> Finding:
    described = info.field(expected.name)
    problem = expected_problem(expected, described)
    if problem is None:
        assert described is not None
        return Finding(SYSTEM, expected.item, "ok", _summary(described, expected.needs))
    custom = expected.name.endswith("__c")
    if described is None and custom:
        to_create.append(f"{expected.item}  {expected.create_as}")
    if custom and expected.setting:
        fix = f"create it as {expected.create_as}, or name another field in {expected.setting}"
    elif custom:
        fix = f"create it as {expected.create_as}"
    else:
        fix = "grant the integration user access to this standard field"
    return Finding(SYSTEM, expected.item, "error", problem, fix=fix)


def _required_finding(required: RequiredField, info: ObjectInfo, to_create: list[str]) -> Finding:
    described = info.field(required.field)
    item = f"{required.object}.{required.field}"
    problem = field_problem(required, described)
    if problem is None:
        assert described is not None
        if not described.updateable and not required.external_id:
            return Finding(
                SYSTEM,
                item,
                "error",
                "is not updateable by the integration user",
                fix=GRANT_EDIT,
            )
        return Finding(SYSTEM, item, "ok", _summary(described, "write"))
    spec = create_spec(required)
    if described is None:
        to_create.append(f"{item}  {spec}")
        fix = f"create it: {spec}"
    elif "read-only" in problem:
        fix = GRANT_EDIT
    else:
        fix = f"expected {spec} (for {required.metric}), or map the metric to another field"
    return Finding(SYSTEM, item, "error", problem, fix=fix)


def _summary(described: FieldInfo, needs: frozenset[Need] | str) -> str:
    size = f"({described.length})" if described.length else ""
    if described.precision:
        size = f"({described.precision}, {described.scale})"
    used = needs if isinstance(needs, str) else ", ".join(sorted(needs))
    return f"{described.type}{size}, {used}"


def _owner(config: Config, crm: SalesforceConnector) -> list[Finding]:
    owner = config.salesforce.fallback_owner_id
    if not owner:
        return [
            Finding(
                SYSTEM,
                "fallback_owner_id",
                "warning",
                "not set: a Task whose account and contact have no owner, or whose `user:` "
                "owner is not an active user, is skipped (`nps-sync skipped` lists them)",
                fix="set salesforce.fallback_owner_id to a user or queue id",
            )
        ]
    found = _lookup(lambda: crm.find_owners([owner]))
    if found is None:
        return [Finding(SYSTEM, "fallback_owner_id", "warning", "could not be checked")]
    kind = next((k for i, k in found.items() if i[:15] == (record_key(owner) or "")), None)
    if kind is None:
        return [
            Finding(
                SYSTEM,
                "fallback_owner_id",
                "error",
                f"{owner} is not an active user or a queue",
                fix="set salesforce.fallback_owner_id to an active user's or a queue's id",
            )
        ]
    return [Finding(SYSTEM, "fallback_owner_id", "ok", f"{owner} is a {kind.lower()}")]


def _rule_owners(config: Config, crm: SalesforceConnector) -> list[Finding]:
    """The ``user:`` Task owners of the rules: each one that is not an active user, with where
    the rules name it."""
    try:
        ruleset = load_rules(config.rules)
    except RulesError as exc:
        message = f"rules cannot be read, task owners not checked: {exc}"
        return [Finding(SYSTEM, "rules", "warning", message.splitlines()[0])]
    named = owner_references(ruleset) | {f"queue:{q}" for q in queue_references(ruleset)}
    if not named:
        return []
    fallback = config.salesforce.fallback_owner_id
    missing = _lookup(lambda: missing_owners(ruleset, crm, fallback))
    if missing is None:
        return [Finding(SYSTEM, "task owners", "warning", "could not be checked")]
    found = [
        Finding(SYSTEM, m.item, "error", f"{m.places(config.rules)}: {m.problem}", fix=m.fix)
        for m in missing
    ]
    active = len(named) - len(missing)
    if active:
        message = f"{active} owner(s) named by the rules are active users or queues taking Tasks"
        found.insert(0, Finding(SYSTEM, "task owners", "ok", message))
    return found


def _rule_fields(config: Config, crm: SalesforceConnector) -> list[Finding]:
    """The Account and Contact fields the rules route on (``account.custom.<Name>``): each one
    Salesforce does not have, with where the rules declare it."""
    try:
        ruleset = load_rules(config.rules)
    except RulesError:  # reported by the owners' check
        return []
    missing = _lookup(lambda: missing_custom_fields(ruleset, crm))
    if missing is None:
        return [Finding(SYSTEM, "rules' custom fields", "warning", "could not be checked")]
    return [
        Finding(SYSTEM, m.item, "error", f"{m.places(config.rules)}: {m.problem}", fix=m.fix)
        for m in missing
    ]


def _aliases(config: Config, crm: SalesforceConnector) -> list[Finding]:
    aliases = config.salesforce.matching.account_aliases
    if not aliases or "alias" not in config.salesforce.matching.order:
        return []
    targets = list(aliases.values())
    ids = [t for t in targets if record_key(t, ACCOUNT_PREFIX)]
    names = [t for t in targets if not record_key(t, ACCOUNT_PREFIX)]
    found = _lookup(lambda: crm.find_accounts_by(ids=ids, names=names))
    if found is None:
        return [Finding(SYSTEM, "account_aliases", "warning", "could not be checked")]
    out: list[Finding] = []
    for domain, target in sorted(aliases.items()):
        key = record_key(target, ACCOUNT_PREFIX)
        hits = [found.by_id[key]] if key and key in found.by_id else []
        hits = hits or found.by_name.get(target.lower(), [])
        item = f"alias {domain}"
        if len(hits) == 1:
            out.append(Finding(SYSTEM, item, "ok", f"-> {hits[0].name} ({hits[0].id})"))
        else:
            problem = "names no account" if not hits else f"names {len(hits)} accounts"
            out.append(
                Finding(
                    SYSTEM,
                    item,
                    "error",
                    f"{target!r} {problem}",
                    fix="use the account's Id in salesforce.matching.account_aliases",
                )
            )
    return out


def _lookup(call: Callable[[], T]) -> T | None:
    try:
        return call()
    except ConnectorError:
        return None
