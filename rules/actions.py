"""The actions a ruleset can ask for, as frozen runtime values, and the payloads they render to.

An action is defined once in the rules file and referenced by name. At runtime the engine looks it
up in :attr:`rules.Ruleset.actions`, renders it for one response with :meth:`render`, and stores
the payload (plain strings, no templates left) in its outbox before calling the external system.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from types import MappingProxyType
from typing import ClassVar, Literal

from rules.model import NotifyModel, SalesforceTaskModel, UpdateFieldsModel, ZendeskTicketModel
from rules.templates import Template, compile_template

Context = Mapping[str, object]
FieldValue = str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class OwnerRef:
    """Who owns a task: the account's owner, the contact's owner, or a named user."""

    kind: Literal["account_owner", "contact_owner", "user"]
    user: str | None = None

    @classmethod
    def parse(cls, text: str) -> OwnerRef:
        """Read a validated ``account_owner``, ``contact_owner`` or ``user:<email or id>``."""
        if text.startswith("user:"):
            return cls("user", text.removeprefix("user:"))
        return cls("contact_owner" if text == "contact_owner" else "account_owner")


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
class SalesforceTaskAction:
    """Create a Salesforce Task for ``owner``, due ``due_in`` after the response is acted on."""

    type: ClassVar[str] = "salesforce_task"
    name: str
    owner: OwnerRef
    subject: Template
    description: Template
    due_in: timedelta
    priority: str

    def render(self, context: Context) -> TaskPayload:
        """Fill the templates; raises :class:`rules.RenderError` if the data does not fit."""
        return TaskPayload(
            self.name,
            self.owner,
            self.subject.render(context),
            self.description.render(context),
            self.due_in,
            self.priority,
        )


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

    def render(self, context: Context) -> TicketPayload:
        """Fill the templates; raises :class:`rules.RenderError` if the data does not fit."""
        return TicketPayload(
            self.name,
            self.subject.render(context),
            self.body.render(context),
            self.priority,
            self.ticket_type,
            self.group,
            self.assignee,
            self.tags,
            self.attach_to_open,
            self.create_requester,
        )


@dataclass(frozen=True, slots=True)
class UpdateFieldsAction:
    """Write values to the matched Account/Contact (Salesforce) or user/organization (Zendesk)."""

    type: ClassVar[str] = "update_fields"
    name: str
    system: str
    object_type: str
    values: Mapping[str, Template | int | float | bool | None]

    def render(self, context: Context) -> FieldUpdatePayload:
        """Fill the text values; raises :class:`rules.RenderError` if the data does not fit."""
        rendered = {
            field: value.render(context) if isinstance(value, Template) else value
            for field, value in self.values.items()
        }
        return FieldUpdatePayload(self.name, self.system, self.object_type, rendered)


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

    def render(self, context: Context) -> NotificationPayload:
        """Fill the templates; raises :class:`rules.RenderError` if the data does not fit."""
        subject = self.subject.render(context) if self.subject else ""
        text = self.text.render(context)
        return NotificationPayload(
            self.name, self.channel, self.webhook_env, self.to, subject, text
        )


ActionSpec = SalesforceTaskAction | ZendeskTicketAction | UpdateFieldsAction | NotifyAction
Payload = TaskPayload | TicketPayload | FieldUpdatePayload | NotificationPayload
ActionModel = SalesforceTaskModel | ZendeskTicketModel | UpdateFieldsModel | NotifyModel


def build_action(name: str, model: ActionModel) -> ActionSpec:
    """The runtime action for a validated action definition."""
    if isinstance(model, SalesforceTaskModel):
        return SalesforceTaskAction(
            name,
            OwnerRef.parse(model.owner),
            compile_template(model.subject, single_line=True),
            compile_template(model.description),
            model.due_in,
            model.priority,
        )
    if isinstance(model, ZendeskTicketModel):
        return ZendeskTicketAction(
            name,
            compile_template(model.subject, single_line=True),
            compile_template(model.body),
            model.priority,
            model.ticket_type,
            model.group,
            model.assignee,
            model.tags,
            model.attach_to_open,
            model.create_requester,
        )
    if isinstance(model, UpdateFieldsModel):
        values = {
            field: compile_template(value) if isinstance(value, str) else value
            for field, value in model.values.items()
        }
        return UpdateFieldsAction(name, model.system, model.record, MappingProxyType(values))
    subject = compile_template(model.subject, single_line=True) if model.subject else None
    return NotifyAction(
        name, model.channel, model.webhook_env, model.to, subject, compile_template(model.text)
    )
