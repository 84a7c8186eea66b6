"""The actions a ruleset can ask for, as frozen runtime values, and the payloads they render to.

An action is defined once in the rules file and referenced by name. At runtime the engine looks it
up in :attr:`rules.Ruleset.actions`, renders it for one response with :meth:`render`, and stores
the payload (plain strings, no templates left) in its outbox before calling the external system.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import timedelta
from types import MappingProxyType
from typing import Any, ClassVar, Literal

from rules.model import (
    NamedTicketModel,
    NotifyModel,
    ResurveyModel,
    SalesforceTaskModel,
    UpdateFieldsModel,
    ZendeskTicketModel,
)
from rules.templates import Template, compile_template

Context = Mapping[str, object]
FieldValue = str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class OwnerRef:
    """Who owns a task: the account's owner, the contact's owner, a named user or a queue."""

    kind: Literal["account_owner", "contact_owner", "user", "queue"]
    user: str | None = None
    #: The queue's Name or DeveloperName, as the rules write it (``queue:`` owners).
    queue: str | None = None

    @classmethod
    def parse(cls, text: str) -> OwnerRef:
        """Read a validated ``account_owner``, ``contact_owner``, ``user:<email or id>`` or
        ``queue:<name>``."""
        if text.startswith("user:"):
            return cls("user", text.removeprefix("user:"))
        if text.startswith("queue:"):
            return cls("queue", queue=text.removeprefix("queue:"))
        return cls("contact_owner" if text == "contact_owner" else "account_owner")

    def __str__(self) -> str:
        """As the rules file writes it."""
        if self.kind == "user":
            return f"user:{self.user}"
        if self.kind == "queue":
            return f"queue:{self.queue}"
        return self.kind


@dataclass(frozen=True, slots=True)
class TaskPayload:
    """A rendered Salesforce Task request."""

    action: str
    owner: OwnerRef
    subject: str
    description: str
    due_in: timedelta
    priority: str


@dataclass(frozen=True, slots=True)
class NamedTicket:
    """Where a transactional survey's response names its ticket, and what to do with it."""

    property: str = "Zendesk Ticket Id"
    reopen: bool = False
    if_missing: Literal["new_ticket", "skip"] = "new_ticket"

    @classmethod
    def of(cls, model: NamedTicketModel | None) -> NamedTicket | None:
        if model is None:
            return None
        return cls(model.property, model.reopen, model.if_missing)


@dataclass(frozen=True, slots=True)
class TicketPayload:
    """A rendered Zendesk ticket request."""

    action: str
    subject: str
    body: str
    priority: str
    ticket_type: str | None
    group: str | None
    assignee: str | None
    tags: tuple[str, ...]
    attach_to_open: bool
    create_requester: bool
    named_ticket: NamedTicket | None = None


@dataclass(frozen=True, slots=True)
class FieldUpdatePayload:
    """Rendered values to write to one matched record."""

    action: str
    system: str
    object_type: str
    values: Mapping[str, FieldValue]


@dataclass(frozen=True, slots=True)
class NotificationPayload:
    """A rendered Slack or email message."""

    action: str
    channel: str
    webhook_env: str | None
    to: tuple[str, ...]
    subject: str
    text: str


@dataclass(frozen=True, slots=True)
class ResurveyPayload:
    """A rendered request to survey the person again after their loop is resolved."""

    action: str
    after: timedelta
    cooldown: timedelta
    properties: Mapping[str, str]


def rendered(action: ActionSpec, context: Context) -> dict[str, Any]:
    """The keywords of ``action``'s payload: its fields by name (``name`` becomes ``action``),
    with templates rendered, also inside a mapping of values."""
    out: dict[str, Any] = {}
    for name, key in _payload_names(type(action)):
        value = getattr(action, name)
        if isinstance(value, Mapping):
            value = {k: _fill(item, context) for k, item in value.items()}
        out[key] = _fill(value, context)
    return out


#: Fields of an action that steer the engine rather than go into the payload.
_NOT_RENDERED = frozenset({"expect_skip"})


_PAYLOAD_NAMES: dict[type, tuple[tuple[str, str], ...]] = {}


def _payload_names(action_type: type) -> tuple[tuple[str, str], ...]:
    """(field, payload key) of each field of an action type that goes into its payload, worked
    out once per type: every action rendered asks."""
    names = _PAYLOAD_NAMES.get(action_type)
    if names is None:
        names = tuple(
            (spec.name, "action" if spec.name == "name" else spec.name)
            for spec in fields(action_type)
            if spec.name not in _NOT_RENDERED
        )
        _PAYLOAD_NAMES[action_type] = names
    return names


def _fill(value: object, context: Context) -> object:
    return value.render(context) if isinstance(value, Template) else value


@dataclass(frozen=True, slots=True)
class SalesforceTaskAction:
    """Create a Salesforce Task for ``owner``, due ``due_in`` after the response is acted on."""

    type: ClassVar[str] = "salesforce_task"
    name: str
    owner: OwnerRef
    subject: Template
    description: Template
    due_in: timedelta
    priority: str
    #: Skip reasons this action may meet without failing the pass (:mod:`rules.skips`).
    expect_skip: frozenset[str] = frozenset()

    def render(self, context: Context) -> TaskPayload:
        """Fill the templates; raises :class:`rules.RenderError` if the data does not fit."""
        return TaskPayload(**rendered(self, context))


@dataclass(frozen=True, slots=True)
class ZendeskTicketAction:
    """Open a Zendesk ticket (or comment on the requester's open NPS ticket)."""

    type: ClassVar[str] = "zendesk_ticket"
    name: str
    subject: Template
    body: Template
    priority: str
    ticket_type: str | None
    group: str | None
    assignee: str | None
    tags: tuple[str, ...]
    attach_to_open: bool
    create_requester: bool
    #: A transactional survey's ticket to note the response on, instead of a new one.
    named_ticket: NamedTicket | None = None
    #: Skip reasons this action may meet without failing the pass (:mod:`rules.skips`).
    expect_skip: frozenset[str] = frozenset()

    def render(self, context: Context) -> TicketPayload:
        """Fill the templates; raises :class:`rules.RenderError` if the data does not fit."""
        return TicketPayload(**rendered(self, context))


@dataclass(frozen=True, slots=True)
class UpdateFieldsAction:
    """Write values to the matched Account/Contact (Salesforce) or user/organization (Zendesk)."""

    type: ClassVar[str] = "update_fields"
    name: str
    system: str
    object_type: str
    values: Mapping[str, Template | int | float | bool | None]
    #: Skip reasons this action may meet without failing the pass (:mod:`rules.skips`).
    expect_skip: frozenset[str] = frozenset()

    def render(self, context: Context) -> FieldUpdatePayload:
        """Fill the text values; raises :class:`rules.RenderError` if the data does not fit."""
        return FieldUpdatePayload(**rendered(self, context))


@dataclass(frozen=True, slots=True)
class NotifyAction:
    """Send a message to a Slack webhook (named by an environment variable) or to email."""

    type: ClassVar[str] = "notify"
    name: str
    channel: str
    webhook_env: str | None
    to: tuple[str, ...]
    subject: Template | None
    text: Template
    #: Skip reasons this action may meet without failing the pass (:mod:`rules.skips`).
    expect_skip: frozenset[str] = frozenset()

    def render(self, context: Context) -> NotificationPayload:
        """Fill the templates; raises :class:`rules.RenderError` if the data does not fit."""
        payload = rendered(self, context)
        return NotificationPayload(**{**payload, "subject": payload["subject"] or ""})


@dataclass(frozen=True, slots=True)
class ResurveyAction:
    """Survey the person again ``after`` their loop is resolved, at most once per ``cooldown``."""

    type: ClassVar[str] = "resurvey"
    name: str
    after: timedelta
    cooldown: timedelta
    properties: Mapping[str, Template]
    #: Skip reasons this action may meet without failing the pass (:mod:`rules.skips`).
    expect_skip: frozenset[str] = frozenset()

    def render(self, context: Context) -> ResurveyPayload:
        """Fill the properties; raises :class:`rules.RenderError` if the data does not fit."""
        return ResurveyPayload(**rendered(self, context))


ActionSpec = (
    SalesforceTaskAction | ZendeskTicketAction | UpdateFieldsAction | NotifyAction | ResurveyAction
)
Payload = TaskPayload | TicketPayload | FieldUpdatePayload | NotificationPayload | ResurveyPayload
ActionModel = (
    SalesforceTaskModel | ZendeskTicketModel | UpdateFieldsModel | NotifyModel | ResurveyModel
)


def build_action(name: str, model: ActionModel) -> ActionSpec:
    """The runtime action for a validated action definition."""
    if isinstance(model, SalesforceTaskModel):
        return SalesforceTaskAction(
            **carried(
                name,
                model,
                SalesforceTaskAction,
                owner=OwnerRef.parse(model.owner),
                subject=compile_template(model.subject, single_line=True),
                description=compile_template(model.description),
            )
        )
    if isinstance(model, ZendeskTicketModel):
        return ZendeskTicketAction(
            **carried(
                name,
                model,
                ZendeskTicketAction,
                subject=compile_template(model.subject, single_line=True),
                body=compile_template(model.body),
                named_ticket=NamedTicket.of(model.named_ticket),
            )
        )
    if isinstance(model, UpdateFieldsModel):
        values = {
            field: compile_template(value) if isinstance(value, str) else value
            for field, value in model.values.items()
        }
        return UpdateFieldsAction(
            name,
            model.system,
            model.record,
            MappingProxyType(values),
            expect_skip=frozenset(model.expect_skip),
        )
    if isinstance(model, ResurveyModel):
        properties = {k: compile_template(v, single_line=True) for k, v in model.properties.items()}
        return ResurveyAction(
            **carried(name, model, ResurveyAction, properties=MappingProxyType(properties))
        )
    subject = compile_template(model.subject, single_line=True) if model.subject else None
    return NotifyAction(
        **carried(name, model, NotifyAction, subject=subject, text=compile_template(model.text))
    )


def carried(name: str, model: ActionModel, spec: type, **given: object) -> dict[str, Any]:
    """The keywords of a runtime action: ``name``, the ``given`` values, and the rest of its
    fields copied from the model, where they have the same names."""
    names = [f.name for f in fields(spec) if f.name != "name"]
    given = {"expect_skip": frozenset(model.expect_skip), **given}
    return {"name": name} | {n: given[n] if n in given else getattr(model, n) for n in names}
