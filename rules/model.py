"""The rules file, as admins write it, and every check it must pass before anything is routed.

File format (version 1)::

    # yaml-language-server: $schema=./rules.schema.json
    version: 1
    fields:                       # optional: <account|contact|response>.custom.<Name>: <type>
      account.custom.Health_Score__c: number   # string | integer | number | boolean
    actions:                      # named once, referenced by rules
      owner_followup:
        type: salesforce_task
        owner: account_owner      # account_owner | contact_owner | user:<email or user id>
                                  # | queue:<queue Name or DeveloperName>
        subject: "NPS {{ response.score }} from {{ contact.name }}"
        description: "{{ response.comment }}"
        due_in: 1d                # durations: <n>s, <n>m, <n>h, <n>d, <n>w
        priority: High            # High | Normal | Low
      detractor_ticket:
        type: zendesk_ticket
        subject: "Detractor: {{ account.name }}"
        body: "{{ response.comment }}"
        priority: high            # low | normal | high | urgent
        ticket_type: problem      # question | incident | problem | task (optional)
        named_ticket:             # a transactional survey names its ticket: note the response there
          property: Zendesk Ticket Id   # the response property holding the ticket id (default)
          reopen: true            # reopen it when solved (default false)
          if_missing: new_ticket  # not an id, gone or closed: new_ticket (default) | skip
        group: Customer Success   # group name (optional)
        assignee: agent@example.com   # optional
        tags: [nps, detractor]    # lower case, no spaces
        attach_to_open: true      # comment on the requester's open NPS ticket instead
        create_requester: false   # create the Zendesk user if none matches
        expect_skip: [no_requester]   # skips that do not fail the pass (rules/skips.py)
      set_health:
        type: update_fields
        system: salesforce        # salesforce (Account | Contact) | zendesk (user | organization)
        object: Account
        values: {Health__c: At risk, Last_NPS_Comment__c: "{{ response.comment }}"}
      slack_cx:
        type: notify
        channel: slack            # slack (webhook_env) | email (to, subject)
        webhook_env: SLACK_WEBHOOK_URL   # the NAME of an environment variable, never the URL
        text: "..."
      win_back:
        type: resurvey            # survey the person again once the loop is resolved (Delighted)
        after: 14d                # sent this long after the loop was resolved
        cooldown: 90d             # nobody resurveyed again within this long (default 90d)
        properties: {Campaign: win-back}   # optional, templates
    rules:                        # in order; the first match wins unless it says continue: true
      - name: enterprise-detractors
        when: {all: [{score: {lte: 6}}, {account.tier: Enterprise}]}
        actions: [owner_followup, detractor_ticket]
        continue: true
        cooldown: {key: account.id, period: 14d}   # at most once per account per 14 days
        expect_skip: [no_owner]   # for every action of the rule
        settle: 15m               # wait for the comment that often follows the score
        escalate:                 # if the actions are still open after 24 business hours
          - {after: 24h, business_hours: true, action: slack_cx}
      - name: default             # no `when`: matches everything
        actions: []

Conditions are ``{all: [...]}``, ``{any: [...]}``, ``{not: condition}``, ``{field: value}``
(equality; a list means ``in``) or ``{field: {operator: operand, ...}}`` (every operator must
hold). Fields and operators are listed in :mod:`rules.fields` and :mod:`rules.operators`.

Checks happen in three layers, so every mistake is reported where it was made: each model rejects
unknown keys (with a suggestion) and checks its own values; the root validator then checks what
needs the whole file (actions and fields exist, operators fit the field types, names are unique,
no rule is hidden behind a catch-all, templates name real fields and render on sample data).
Problems are raised as :class:`Issue` lists carrying data paths, which the loader turns into
``file:line:col`` diagnostics.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import Field, Strict, field_validator, model_validator

from rules.conditions import Condition, check_condition
from rules.errors import RenderError, did_you_mean, one_of
from rules.fields import (
    CUSTOM_FIELD_PATTERN,
    MAX_COMMENT_LENGTH,
    FieldSpec,
    FieldType,
    check_custom_field_name,
    field_catalogue,
    unknown_field,
)
from rules.issues import Issue, Path, StrictModel, invalid
from rules.scalars import (
    API_NAME_PATTERN,
    Duration,
    Email,
    EnvName,
    Flag,
    Name,
    Owner,
    SkipCode,
    TemplateText,
    Text,
    ZendeskTag,
    check_name,
)
from rules.skips import ALWAYS_EXPECTED, SKIP_REASONS
from rules.templates import (
    TemplateSourceError,
    build_context,
    check_references,
    compile_template,
    context_tree,
)


def _always_expected(path: Path, code: str) -> Issue:
    return Issue(path, f"{code!r} skips are always expected (the rule asks for them); remove it")


class ActionBase(StrictModel):
    """What every action has: the skips it expects (:mod:`rules.skips`)."""

    expect_skip: tuple[SkipCode, ...] = Field(
        (),
        description="Reasons this action may be skipped for without making the pass fail "
        "(still recorded and listed by `nps-sync skipped`)",
    )

    def possible_skips(self) -> frozenset[str]:
        """The reason codes this action can be skipped for, besides a cooldown."""
        return frozenset({"template_failed"})

    def impossible_skip(self, code: str) -> str:
        """Why this action is never skipped for ``code`` (a reason it is not possible for)."""
        kinds = SKIP_REASONS[code].action_types
        if len(kinds) < len(ACTION_TYPES):
            return f"{code!r} is a skip of {one_of(kinds)} actions"
        return f"this action is never skipped for {code!r}"

    @model_validator(mode="after")
    def _expected_skips_possible(self) -> ActionBase:
        issues: list[Issue] = []
        possible = self.possible_skips()
        for index, code in enumerate(self.expect_skip):
            path = ("expect_skip", index)
            if code in self.expect_skip[:index]:
                issues.append(Issue(path, f"{code!r} is listed twice"))
            elif code in ALWAYS_EXPECTED:
                issues.append(_always_expected(path, code))
            elif code not in possible:
                others = sorted(possible)
                issues.append(
                    Issue(
                        path,
                        f"{self.impossible_skip(code)}; it can be skipped for {one_of(others)}"
                        f"{did_you_mean(code, others)}",
                    )
                )
        if issues:
            raise invalid(issues)
        return self


class SalesforceTaskModel(ActionBase):
    """A Salesforce Task for a person to follow up, due within an SLA."""

    noun = "salesforce_task action"
    type: Literal["salesforce_task"]
    owner: Owner = "account_owner"
    subject: TemplateText
    description: TemplateText = ""
    due_in: Duration
    priority: Literal["High", "Normal", "Low"] = "Normal"

    def templates(self) -> Iterator[tuple[Path, str]]:
        """Each template in this action with its path relative to the action."""
        yield ("subject",), self.subject
        yield ("description",), self.description

    def possible_skips(self) -> frozenset[str]:
        named = self.owner.startswith(("user:", "queue:"))
        return super().possible_skips() | {"owner_not_found" if named else "no_owner"}

    def impossible_skip(self, code: str) -> str:
        if code == "owner_not_found":
            return (
                f"a Task owned by {self.owner} is never skipped for 'owner_not_found' "
                "(that is for `user:` and `queue:` owners)"
            )
        if code == "no_owner":
            return (
                f"a Task owned by {self.owner} is never skipped for 'no_owner' (a `user:` "
                "owner that cannot be resolved is 'owner_not_found')"
            )
        return super().impossible_skip(code)


class NamedTicketModel(StrictModel):
    """A transactional survey's own ticket: the response names it in a property (a hidden field
    of the survey link), and the response is noted there instead of opening a ticket."""

    noun = "named_ticket settings"
    property: Text = Field(
        "Zendesk Ticket Id",
        description="The response property (Delighted person property, Typeform hidden field) "
        "that holds the Zendesk ticket id",
    )
    reopen: Flag = Field(False, description="Reopen the ticket when it is solved")
    if_missing: Literal["new_ticket", "skip"] = Field(
        "new_ticket",
        description="When the named ticket is not an id, does not exist or is closed: open a "
        "ticket as usual (new_ticket) or make none (skip); either way the reason is reported",
    )

    @field_validator("property")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("`property` names the response property that holds the ticket id")
        return value


class ZendeskTicketModel(ActionBase):
    """A Zendesk ticket (or a comment on the requester's open NPS ticket)."""

    noun = "zendesk_ticket action"
    type: Literal["zendesk_ticket"]
    subject: TemplateText
    body: TemplateText
    priority: Literal["low", "normal", "high", "urgent"] = "normal"
    ticket_type: Literal["question", "incident", "problem", "task"] | None = None
    group: Text | None = None
    assignee: Email | None = None
    tags: tuple[ZendeskTag, ...] = ()
    attach_to_open: Flag = False
    create_requester: Flag = False
    named_ticket: NamedTicketModel | None = None

    def templates(self) -> Iterator[tuple[Path, str]]:
        """Each template in this action with its path relative to the action."""
        yield ("subject",), self.subject
        yield ("body",), self.body

    def possible_skips(self) -> frozenset[str]:
        possible = set(super().possible_skips())
        if not self.create_requester:
            possible.add("no_requester")
        if self.group:
            possible.add("group_not_found")
        return frozenset(possible)

    def impossible_skip(self, code: str) -> str:
        if code == "no_requester" and self.create_requester:
            return (
                "this action creates the requester (`create_requester: true`), so it is never "
                "skipped for 'no_requester'"
            )
        if code == "group_not_found" and not self.group:
            return "this action names no `group`, so it is never skipped for 'group_not_found'"
        return super().impossible_skip(code)


UPDATABLE_OBJECTS: Mapping[str, tuple[str, ...]] = {
    "salesforce": ("Account", "Contact"),
    "zendesk": ("user", "organization"),
}


class UpdateFieldsModel(ActionBase):
    """Write values (text values are templates) to a record matched to the response."""

    noun = "update_fields action"
    type: Literal["update_fields"]
    system: Literal["salesforce", "zendesk"]
    record: Text = Field(alias="object")
    values: dict[str, Text | Annotated[int, Strict()] | Annotated[float, Strict()] | Flag | None]

    @field_validator("values")
    @classmethod
    def _check_values(cls, values: dict[str, object]) -> dict[str, object]:
        if not values:
            raise ValueError("`values:` needs at least one field to write")
        issues: list[Issue] = []
        for name, value in values.items():
            if not re.fullmatch(API_NAME_PATTERN, name):
                issues.append(Issue((name,), f"{name!r} is not a field API name", "key"))
            elif isinstance(value, str):
                try:
                    compile_template(value)
                except TemplateSourceError as problem:
                    issues.append(Issue((name,), problem.message, scalar_line=problem.line))
        if issues:
            raise invalid(issues)
        return values

    @model_validator(mode="after")
    def _record_fits_system(self) -> UpdateFieldsModel:
        allowed = UPDATABLE_OBJECTS[self.system]
        if self.record not in allowed:
            message = (
                f"{self.system} records that can be updated are {one_of(allowed)}, "
                f"not {self.record!r}{did_you_mean(self.record, allowed)}"
            )
            raise invalid([Issue(("object",), message)])
        return self

    def templates(self) -> Iterator[tuple[Path, str]]:
        """Each template in this action with its path relative to the action."""
        for name, value in self.values.items():
            if isinstance(value, str):
                yield ("values", name), value

    def possible_skips(self) -> frozenset[str]:
        return super().possible_skips() | {"no_record_to_update"}


class NotifyModel(ActionBase):
    """A message to people: a Slack incoming webhook or an email."""

    noun = "notify action"
    type: Literal["notify"]
    channel: Literal["slack", "email"]
    webhook_env: EnvName | None = None
    to: tuple[Email, ...] = ()
    subject: TemplateText | None = None
    text: TemplateText

    @model_validator(mode="after")
    def _channel_needs(self) -> NotifyModel:
        if self.channel == "slack":
            if self.webhook_env is None:
                raise invalid([Issue((), "slack notifications need `webhook_env`")])
            if self.to or self.subject is not None:
                key = "to" if self.to else "subject"
                raise invalid(
                    [Issue((key,), f"`{key}` is for email; slack uses `webhook_env`", "key")]
                )
        else:
            if not self.to:
                raise invalid(
                    [Issue((), "email notifications need `to:` with at least one address")]
                )
            if self.subject is None:
                raise invalid([Issue((), "email notifications need a `subject`")])
            if self.webhook_env is not None:
                raise invalid([Issue(("webhook_env",), "`webhook_env` is for slack", "key")])
        return self

    def templates(self) -> Iterator[tuple[Path, str]]:
        """Each template in this action with its path relative to the action."""
        if self.subject is not None:
            yield ("subject",), self.subject
        yield ("text",), self.text


class ResurveyModel(ActionBase):
    """Ask the survey tool to survey the person again once their loop is resolved."""

    noun = "resurvey action"
    type: Literal["resurvey"]
    after: Duration = Field(description="How long after the loop is resolved the survey is sent")
    cooldown: Duration = Field(
        timedelta(days=90),
        description="Nobody is resurveyed again within this long of their last resurvey",
    )
    properties: dict[str, TemplateText] = Field(
        default_factory=dict,
        description="Properties sent with the survey (templates), besides the loop it follows",
    )

    def templates(self) -> Iterator[tuple[Path, str]]:
        """Each template in this action with its path relative to the action."""
        for name, value in self.properties.items():
            yield ("properties", name), value


ActionModel = Annotated[
    SalesforceTaskModel | ZendeskTicketModel | UpdateFieldsModel | NotifyModel | ResurveyModel,
    Field(discriminator="type"),
]
ACTION_TYPES = ("salesforce_task", "zendesk_ticket", "update_fields", "notify", "resurvey")


# ---------------------------------------------------------------------------------------------
# Rules and the file


class Cooldown(StrictModel):
    """Act at most once per value of ``key`` (a field) within ``period``."""

    noun = "cooldown"
    key: Text
    period: Duration


class Escalation(StrictModel):
    """Run ``action`` if the rule's actions are still open ``after`` this long."""

    noun = "escalation"
    after: Duration
    business_hours: Flag = False
    action: Name


class Rule(StrictModel):
    """A condition (none: every response) and the actions it asks for."""

    noun = "rule"
    name: Name
    description: Text = ""
    when: Condition | None = None
    actions: tuple[Name, ...]
    continue_: Flag = Field(False, alias="continue")
    cooldown: Cooldown | None = None
    settle: Duration | None = None
    escalate: tuple[Escalation, ...] = ()
    expect_skip: tuple[SkipCode, ...] = Field(
        (),
        description="Reasons any action of this rule may be skipped for without making the "
        "pass fail (still recorded and listed by `nps-sync skipped`)",
    )

    @field_validator("when", mode="before")
    @classmethod
    def _when_not_empty(cls, value: Any) -> Any:
        if value is None:
            raise ValueError(
                "`when:` is empty; remove it to match every response, or add a condition"
            )
        return value

    @model_validator(mode="after")
    def _local_checks(self) -> Rule:
        issues = [
            Issue(("actions", index), f"action {name!r} is listed twice")
            for index, name in enumerate(self.actions)
            if name in self.actions[:index]
        ]
        if self.escalate and not self.actions:
            issues.append(Issue(("escalate",), "escalate needs actions to follow up on", "key"))
        if self.expect_skip and not self.actions:
            issues.append(Issue(("expect_skip",), "expect_skip needs actions to skip", "key"))
        for index, code in enumerate(self.expect_skip):
            path = ("expect_skip", index)
            if code in self.expect_skip[:index]:
                issues.append(Issue(path, f"{code!r} is listed twice"))
            elif code in ALWAYS_EXPECTED:
                issues.append(_always_expected(path, code))
        if issues:
            raise invalid(issues)
        return self

    @property
    def catch_all(self) -> bool:
        """Matches every response and stops evaluation."""
        return self.when is None and not self.continue_


FieldTypeName = Literal["string", "integer", "number", "boolean"]


class RulesFile(StrictModel):
    """The whole rules file."""

    noun = "rules file"
    version: Literal[1]
    fields: dict[str, FieldTypeName] = Field(
        default_factory=dict, json_schema_extra={"propertyNames": {"pattern": CUSTOM_FIELD_PATTERN}}
    )
    actions: dict[str, ActionModel] = Field(default_factory=dict)
    rules: tuple[Rule, ...]

    @field_validator("fields")
    @classmethod
    def _custom_field_names(cls, fields: dict[str, str]) -> dict[str, str]:
        issues = []
        for name in fields:
            try:
                check_custom_field_name(name)
            except ValueError as error:
                issues.append(Issue((name,), str(error), "key"))
        if issues:
            raise invalid(issues)
        return fields

    @field_validator("actions")
    @classmethod
    def _action_names(cls, actions: dict[str, Any]) -> dict[str, Any]:
        issues = []
        for name in actions:
            try:
                check_name(name)
            except ValueError as error:
                issues.append(Issue((name,), str(error), "key"))
        if issues:
            raise invalid(issues)
        return actions

    @property
    def catalogue(self) -> Mapping[str, FieldSpec]:
        """Built-in plus declared custom fields."""
        return field_catalogue({name: FieldType(kind) for name, kind in self.fields.items()})

    @model_validator(mode="after")
    def _cross_references(self) -> RulesFile:
        catalogue = self.catalogue
        issues = [
            *self._rule_names(),
            *self._reachability(),
            *self._action_references(),
            *self._expected_skips(),
            *self._conditions(catalogue),
            *self._templates(catalogue),
        ]
        if issues:
            raise invalid(issues)
        return self

    def _rule_names(self) -> Iterator[Issue]:
        first: dict[str, int] = {}
        for index, rule in enumerate(self.rules):
            if rule.name in first:
                yield Issue(
                    ("rules", index, "name"),
                    f"duplicate rule name {rule.name!r} (first used at line {{related_line}})",
                    related=("rules", first[rule.name], "name"),
                )
            first.setdefault(rule.name, index)

    def _reachability(self) -> Iterator[Issue]:
        stop = next((i for i, rule in enumerate(self.rules) if rule.catch_all), None)
        if stop is None:
            return
        for index in range(stop + 1, len(self.rules)):
            yield Issue(
                ("rules", index, "name"),
                f"rule {self.rules[index].name!r} can never match: the catch-all rule "
                f"{self.rules[stop].name!r} at line {{related_line}} matches every response first; "
                "move it last or give it `continue: true`",
                related=("rules", stop, "name"),
            )

    def _action_references(self) -> Iterator[Issue]:
        defined = self.actions.keys()
        hint = "" if defined else "; define it under `actions:`"

        def undefined(name: str, path: Path, rule: str) -> Issue:
            suggestion = did_you_mean(name, defined) or hint
            return Issue(path, f"rule {rule!r} uses undefined action {name!r}{suggestion}")

        for index, rule in enumerate(self.rules):
            for position, name in enumerate(rule.actions):
                if name not in defined:
                    yield undefined(name, ("rules", index, "actions", position), rule.name)
            for step, escalation in enumerate(rule.escalate):
                if escalation.action not in defined:
                    path = ("rules", index, "escalate", step, "action")
                    yield undefined(escalation.action, path, rule.name)

    def _expected_skips(self) -> Iterator[Issue]:
        """A rule's ``expect_skip`` names reasons at least one of its actions can meet."""
        for index, rule in enumerate(self.rules):
            actions = [self.actions[name] for name in rule.actions if name in self.actions]
            if not actions:
                continue
            possible = frozenset().union(*(action.possible_skips() for action in actions))
            for position, code in enumerate(rule.expect_skip):
                if code in ALWAYS_EXPECTED or code in possible:
                    continue
                others = sorted(possible)
                yield Issue(
                    ("rules", index, "expect_skip", position),
                    f"no action of rule {rule.name!r} is ever skipped for {code!r}; they can be "
                    f"skipped for {one_of(others)}{did_you_mean(code, others)}",
                )

    def _conditions(self, catalogue: Mapping[str, FieldSpec]) -> Iterator[Issue]:
        for index, rule in enumerate(self.rules):
            if rule.when is not None:
                yield from check_condition(rule.when, ("rules", index, "when"), catalogue)
            if rule.cooldown and rule.cooldown.key not in catalogue:
                key = rule.cooldown.key
                yield Issue(
                    ("rules", index, "cooldown", "key"),
                    unknown_field(key, catalogue),
                )

    def _templates(self, catalogue: Mapping[str, FieldSpec]) -> Iterator[Issue]:
        tree = context_tree(catalogue.values())
        samples = {name: spec.sample for name, spec in catalogue.items()}
        sample = build_context(samples, catalogue.values())
        # The longest comment a response can carry: a template must render it within bounds.
        long_sample = build_context(
            {**samples, "comment": "x" * MAX_COMMENT_LENGTH}, catalogue.values()
        )
        for action_name, action in self.actions.items():
            for path, source in action.templates():
                where = ("actions", action_name, *path)
                problems = check_references(source, tree)
                for problem in problems:
                    yield Issue(
                        where, problem.message, scalar_line=problem.line, needle=problem.needle
                    )
                if problems:
                    continue
                try:
                    template = compile_template(source)
                    template.render(sample)
                except RenderError as error:
                    yield Issue(where, f"template fails on sample values: {error}")
                    continue
                try:
                    template.render(long_sample)
                except RenderError as error:
                    message = (
                        f"template fails on a {MAX_COMMENT_LENGTH:,}-character comment: {error}"
                    )
                    yield Issue(where, message)
