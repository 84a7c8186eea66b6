"""Checks that compare sections of one config file, run once every section is valid.

Each returns :class:`~rules.issues.Issue` objects with paths from the top of the file, so every
problem is reported at its own line, all in one pass:

- every survey source has its own name (the name keys the source's cursor);
- no two metrics are written to one field, and no metric is written to a field nps-sync reads
  its input from (the account tier, ARR, ...), which the next write would overwrite;
- the history object's fields are distinct.

:func:`rules_against` checks a rules file against the config it runs with: no ``update_fields``
action writes a field the write-back stage manages (the next write-back or the nightly repair
would undo it), email notifications have an ``email`` (SMTP) section to go through, every
action a loop SLA escalates to (``loop.sla[].escalate``) is defined, and no rule asks for a
``resurvey`` where only sources that cannot schedule a survey reach it (Typeform and files have
no API to survey a person again; Delighted has).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from connectors.surveys.files import default_name
from rules.durations import format_duration
from rules.errors import did_you_mean
from sync.core.catalogue import ACCOUNT_METRICS, CONTACT_METRICS, Metric
from sync.core.config.base import Issue, Section
from sync.core.config.model import Config, DelightedSourceConfig, FileSourceConfig
from sync.core.config.writeback import MetricFieldMap, mapped_names
from sync.core.files import MAX_ADMIN_FILE, read_file_text

if TYPE_CHECKING:
    from rules.conditions import ConditionNode, FieldCondition
    from rules.model import RulesFile

Path = tuple[str | int, ...]

#: Longest field name the state store keeps for a written value (``nps_written_values.field``);
#: real ones are far shorter (Salesforce API names: 40 characters plus namespace and suffix).
MAX_FIELD_NAME_CHARS = 120


def cross_section_issues(config: Config) -> list[Issue]:
    """Every disagreement between sections of ``config``."""
    return [
        *_source_names(config),
        *_write_back_targets(config),
        *_history_fields(config),
        *_view_emails(config),
    ]


def _view_emails(config: Config) -> Iterator[Issue]:
    """Views the daemon emails need the ``email`` (SMTP) section to go through."""
    if config.email is not None:
        return
    views = config.views
    if views.frontline.cron.strip() and views.frontline.email:
        yield Issue(
            ("views", "frontline", "email"),
            "the owners' call lists are emailed, but the config has no `email` section; add "
            "one or set `email: false`",
        )
    if views.digest.cron.strip() and views.digest.email_to:
        yield Issue(
            ("views", "digest", "email_to"),
            "the digest is emailed, but the config has no `email` section; add one",
        )


def _source_names(config: Config) -> Iterator[Issue]:
    first: dict[str, int] = {}
    for index, source in enumerate(config.sources):
        if isinstance(source, FileSourceConfig):  # named as connectors/surveys names it
            name = source.name or default_name(source.path)
        else:
            name = source.name
        if name in first:
            named = "name" in source.model_fields_set
            path: Path = ("sources", index, "name") if named else ("sources", index)
            message = (
                f"source name {name!r} is already used by the source at line {{related_line}}; "
                "give each source its own `name` (it keys the source's cursor)"
            )
            yield Issue(path, message, related=("sources", first[name]))
        else:
            first[name] = index


@dataclass(frozen=True, slots=True)
class _Target:
    """One object the write-back stage writes metrics to, and where its mapping is set."""

    system: str
    scope: str  # the write_back key: contact, account, user, organization
    record: str  # the object: Contact, Account, user, organization
    metrics: tuple[Metric, ...]
    chosen: MetricFieldMap
    legacy: Section

    @property
    def label(self) -> str:
        return self.record if self.system == "salesforce" else f"Zendesk {self.record}"

    def fold(self, name: str) -> str:
        """Salesforce API names ignore case; Zendesk keys do not."""
        return name if self.system == "zendesk" else name.casefold()

    def mapped(self) -> list[tuple[Metric, str]]:
        return mapped_names(
            self.metrics, self.chosen, self.legacy, zendesk=self.system == "zendesk"
        )


def _targets(config: Config) -> tuple[_Target, ...]:
    wb, sf, zd = config.write_back, config.salesforce.fields, config.zendesk.fields
    return (
        _Target("salesforce", "contact", "Contact", CONTACT_METRICS, wb.salesforce.contact, sf),
        _Target("salesforce", "account", "Account", ACCOUNT_METRICS, wb.salesforce.account, sf),
        _Target("zendesk", "user", "user", CONTACT_METRICS, wb.zendesk.user, zd),
        _Target("zendesk", "organization", "organization", ACCOUNT_METRICS,
                wb.zendesk.organization, zd),
    )  # fmt: skip


#: Standard fields nps-sync reads to match and route (the lookups' SELECT lists), and the
#: ones Salesforce itself keeps: a metric written to one would break matching or be refused.
_ACCOUNT_READS = ("Id", "Name", "OwnerId", "Industry", "Website", "CreatedDate", "ParentId")
_CONTACT_READS = ("Id", "Email", "FirstName", "LastName", "Name", "Title", "OwnerId", "AccountId")


def _write_back_targets(config: Config) -> Iterator[Issue]:
    sf = config.salesforce.fields
    reads: dict[str, dict[str, str]] = {
        "Account": {
            **dict.fromkeys(_ACCOUNT_READS, "a standard field, to match and route"),
            sf.account_tier: "salesforce.fields.account_tier",
            sf.account_arr: "salesforce.fields.account_arr",
            sf.account_region: "salesforce.fields.account_region",
            sf.account_renewal_date: "salesforce.fields.account_renewal_date",
            sf.account_domain: "salesforce.fields.account_domain",
        },
        "Contact": {
            **dict.fromkeys(_CONTACT_READS, "a standard field, to match and route"),
            config.metrics.key_contact_field: "metrics.key_contact_field",
        },
    }
    for target in _targets(config):
        label = target.label
        read_by = {k.casefold(): v for k, v in reads.get(label, {}).items() if k}
        written: dict[str, tuple[str, str]] = {}
        for metric, name in target.mapped():
            path, setting = _mapping_setting(target, metric)
            folded = target.fold(name)
            if len(name) > MAX_FIELD_NAME_CHARS:
                yield Issue(
                    path,
                    f"{label} field name {name[:40]}... is longer than "
                    f"{MAX_FIELD_NAME_CHARS} characters",
                )
                continue
            if folded in written:
                first, first_setting = written[folded]
                message = (
                    f"{label} field {name} is written twice: by metric {metric.key!r} here and "
                    f"by {first!r} ({first_setting})"
                )
                yield Issue(path, message)
                continue
            written[folded] = (metric.key, setting)
            if folded in read_by:
                yield Issue(
                    path,
                    f"metric {metric.key!r} would overwrite {label} field {name}, which "
                    f"nps-sync reads ({read_by[folded]}); write it to another field",
                )


def _mapping_setting(target: _Target, metric: Metric) -> tuple[Path, str]:
    """Where a metric's field name comes from: its path and how to name it in a message."""
    system, scope = target.system, target.scope
    if metric.key in target.chosen.model_fields_set:
        path: Path = ("write_back", system, scope, metric.key)
        return path, ".".join(map(str, path))
    attribute = metric.legacy_zendesk if system == "zendesk" else metric.legacy_salesforce
    setting = f"{system}.fields.{attribute}"
    if attribute in target.legacy.model_fields_set:
        return (system, "fields", attribute), setting
    return ("write_back", system, scope), f"{setting}, by default"


def _history_fields(config: Config) -> Iterator[Issue]:
    history = config.write_back.history
    if not history.enabled:
        return
    seen: dict[str, str] = {history.external_id.casefold(): "external_id"}
    for key, name in history.fields.model_dump().items():
        if not name:
            continue
        if name.casefold() in seen:
            other = seen[name.casefold()]
            yield Issue(
                ("write_back", "history", "fields", key),
                f"{history.object} field {name} is already used for {other}",
            )
        seen[name.casefold()] = key


def rules_against(config: Config) -> Callable[[RulesFile], list[Issue]]:
    """The check a rules file must pass to run with ``config`` (for :func:`rules.load_rules`)."""

    def check(rules: RulesFile) -> list[Issue]:
        return [
            *_rule_updates(config, rules),
            *_email_notifications(config, rules),
            *_sla_escalations(config, rules),
            *_resurveys(config, rules),
            *_settles(config, rules),
            *_comment_fields(config, rules),
            *_support_fields(config, rules),
            *_contact_role(config, rules),
        ]

    return check


#: Routing fields only the text analytics fill in (the ``text:`` section).
TEXT_FIELDS = ("sentiment", "themes", "emerging", "labels.theme")


def _comment_fields(config: Config, rules: RulesFile) -> Iterator[Issue]:
    """Conditions on what comments say: with the text analytics off they could never hold, and
    a theme the taxonomy does not name (a typo) could never be found."""
    names = _taxonomy_names(config)
    for index, rule in enumerate(rules.rules):
        if rule.when is None:
            continue
        for path, condition in _field_conditions(rule.when, ("rules", index, "when")):
            if condition.field not in TEXT_FIELDS:
                continue
            if not config.text.enabled:
                yield Issue(
                    (*path, condition.field),
                    f"rule {rule.name!r} reads {condition.field!r}, which only the text "
                    "analytics fill in, and they are off: enable them (text.enabled and a "
                    "taxonomy in the config), or the condition never holds",
                    "key",
                )
                continue
            if names is None or condition.field == "sentiment":
                continue
            folded = {name.casefold() for name in names}  # the tests ignore case
            for test in condition.tests:
                if test.op not in _THEME_NAME_TESTS[condition.field]:  # a regex, a part
                    continue
                values = test.operand if isinstance(test.operand, tuple) else (test.operand,)
                for value in values:
                    if isinstance(value, str) and value.casefold() not in folded:
                        yield Issue(
                            (*path, condition.field, test.op),
                            f"{value!r} is not a theme of the taxonomy {config.text.taxonomy}"
                            f"{did_you_mean(value, sorted(names))}",
                        )


#: The tests whose values are whole theme names, by field (a text field's ``contains`` or
#: ``regex`` tests a part of the name).
_MEMBERS = frozenset({"contains", "not_contains"})
_THEME_NAME_TESTS = {
    "themes": _MEMBERS,
    "emerging": _MEMBERS,
    "labels.theme": frozenset({"eq", "ne", "in", "not_in"}),
}


def _support_fields(config: Config, rules: RulesFile) -> Iterator[Issue]:
    """Conditions on the respondent's support history need the mirror of Zendesk's tickets:
    asked per requester instead (``context_from: requests``), they could never hold."""
    if config.zendesk.tickets.context_from == "export":
        return
    for index, rule in enumerate(rules.rules):
        if rule.when is None:
            continue
        for path, condition in _field_conditions(rule.when, ("rules", index, "when")):
            if condition.field.startswith("support."):  # read from the ticket mirror
                yield Issue(
                    (*path, condition.field),
                    f"rule {rule.name!r} reads {condition.field!r}, which comes from the mirror "
                    "of Zendesk's tickets, and zendesk.tickets.context_from is 'requests': set "
                    "it to 'export', or the condition never holds",
                    "key",
                )


def _contact_role(config: Config, rules: RulesFile) -> Iterator[Issue]:
    """``contact.role`` is read from the field ``salesforce.fields.contact_role`` names: with
    none named, a condition on it could never hold."""
    if config.salesforce.fields.contact_role:
        return
    for index, rule in enumerate(rules.rules):
        if rule.when is None:
            continue
        for path, condition in _field_conditions(rule.when, ("rules", index, "when")):
            if condition.field == "contact.role":
                yield Issue(
                    (*path, condition.field),
                    f"rule {rule.name!r} reads 'contact.role', and no Contact field holds it: "
                    "name one in salesforce.fields.contact_role (e.g. Role__c), or the "
                    "condition never holds",
                    "key",
                )


def _taxonomy_names(config: Config) -> frozenset[str] | None:
    """The theme names of the configured taxonomy; None when it cannot be read here (the
    start-up check names that problem)."""
    taxonomy = config.text.taxonomy
    if not config.text.enabled or taxonomy is None:
        return None
    from insights.text.taxonomy import parse_taxonomy

    try:
        text = read_file_text(taxonomy, MAX_ADMIN_FILE)
        return frozenset(parse_taxonomy(text, str(taxonomy)).names)
    except Exception:  # unreadable or invalid: reported with its own position at start-up
        return None


def _field_conditions(
    condition: ConditionNode, path: tuple[str | int, ...]
) -> Iterator[tuple[tuple[str | int, ...], FieldCondition]]:
    """Every field test of a condition tree, with the path it is written at."""
    from rules.conditions import AllCondition, AnyCondition, FieldCondition, NotCondition

    if isinstance(condition, AllCondition | AnyCondition):
        key = "all" if isinstance(condition, AllCondition) else "any"
        children = condition.all if isinstance(condition, AllCondition) else condition.any
        for index, child in enumerate(children):
            yield from _field_conditions(child, (*path, key, index))
    elif isinstance(condition, NotCondition):
        yield from _field_conditions(condition.negated, (*path, "not"))
    elif isinstance(condition, FieldCondition):
        yield path, condition


def _settles(config: Config, rules: RulesFile) -> Iterator[Issue]:
    window = config.routing.act_on_responses_newer_than
    for index, rule in enumerate(rules.rules):
        if rule.settle is not None and rule.settle >= window:
            yield Issue(
                ("rules", index, "settle"),
                f"rule {rule.name!r} waits {format_duration(rule.settle)} before acting, but "
                f"routing acts only on responses newer than {format_duration(window)} "
                "(routing.act_on_responses_newer_than in the config): its actions could never "
                "run; settle for less, or widen that window",
            )


def _rule_updates(config: Config, rules: RulesFile) -> Iterator[Issue]:
    from rules.model import UpdateFieldsModel

    targets = {(t.system, t.record): t for t in _targets(config)}
    managed = {
        key: {target.fold(name): metric.key for metric, name in target.mapped()}
        for key, target in targets.items()
    }
    for name, action in rules.actions.items():
        if not isinstance(action, UpdateFieldsModel):
            continue
        key = (action.system, action.record)
        if key not in targets:
            continue
        for field in action.values:
            metric = managed[key].get(targets[key].fold(field))
            if metric is not None:
                yield Issue(
                    ("actions", name, "values", field),
                    f"{action.record} field {field} holds the metric {metric!r}, which the "
                    "write-back stage manages (see write_back in the config); the next "
                    "write-back would undo this action, so write another field",
                    "key",
                )


def _email_notifications(config: Config, rules: RulesFile) -> Iterator[Issue]:
    from rules.model import NotifyModel

    if config.email is not None:
        return
    for name, action in rules.actions.items():
        if isinstance(action, NotifyModel) and action.channel == "email":
            yield Issue(
                ("actions", name, "channel"),
                f"action {name!r} sends email, but the config has no `email` section "
                "(the SMTP server to send through)",
            )


def _sla_escalations(config: Config, rules: RulesFile) -> Iterator[Issue]:
    for index, sla in enumerate(config.loop.sla):
        if sla.escalate is not None and sla.escalate not in rules.actions:
            yield Issue(
                ("actions",),
                f"the config's loop.sla[{index}].escalate names the action {sla.escalate!r}, "
                "which this rules file does not define",
                "key",
            )


def _source_name(source: object) -> str:
    if isinstance(source, FileSourceConfig):  # named as connectors/surveys names it
        return source.name or default_name(source.path)
    return str(getattr(source, "name", ""))


def _pinned_sources(condition: ConditionNode | None) -> frozenset[str] | None:
    """The source names a condition limits responses to (casefolded); None: any source."""
    from rules.conditions import AllCondition, AnyCondition, FieldCondition

    if isinstance(condition, FieldCondition) and condition.field == "source":
        allowed: frozenset[str] | None = None
        for test in condition.tests:
            if test.op not in ("eq", "in"):
                continue
            values = test.operand if isinstance(test.operand, tuple) else (test.operand,)
            named = frozenset(str(v).casefold() for v in values)
            allowed = named if allowed is None else allowed & named
        return allowed
    if isinstance(condition, AllCondition):
        pinned = [p for c in condition.all if (p := _pinned_sources(c)) is not None]
        return frozenset.intersection(*pinned) if pinned else None
    if isinstance(condition, AnyCondition):
        branches = [_pinned_sources(c) for c in condition.any]
        if not branches or any(b is None for b in branches):
            return None
        return frozenset().union(*(b for b in branches if b is not None))
    return None


def _resurveys(config: Config, rules: RulesFile) -> Iterator[Issue]:
    """A rule whose resurvey only sources without a survey scheduler can reach would never
    survey anyone: each of its responses would be skipped."""
    from rules.model import ResurveyModel

    resurveys = {n for n, a in rules.actions.items() if isinstance(a, ResurveyModel)}
    sources = {_source_name(s).casefold(): s for s in config.sources}
    able = {name for name, s in sources.items() if isinstance(s, DelightedSourceConfig)}
    for index, rule in enumerate(rules.rules):
        pinned = _pinned_sources(rule.when)
        reached = set(sources) if pinned is None else set(sources) & pinned
        if not reached or reached & able:
            continue
        names = ", ".join(repr(_source_name(sources[n])) for n in sorted(reached))
        for position, action in enumerate(rule.actions):
            if action in resurveys:
                yield Issue(
                    ("rules", index, "actions", position),
                    f"rule {rule.name!r} asks for the resurvey action {action!r}, but its "
                    f"responses come from {names}, which cannot schedule a survey: only a "
                    "Delighted source can survey a person again (Typeform and files have no "
                    "API for it); limit the rule to a Delighted source or drop the action",
                )
