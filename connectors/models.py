"""Plain data records that cross the connector boundary.

Connectors return and accept these, never client-library objects, so the engine and its tests do
not depend on simple-salesforce or zenpy types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Final, Literal

Category = Literal["promoter", "passive", "detractor"]

#: Longest text the state store keeps for a source's name, a response id and an email address.
#: A value that does not fit is refused where it enters (the survey field parsers, the config
#: loader), never cut: ``tests/state/test_st_column_limits.py`` holds every column to them.
MAX_SOURCE_NAME_CHARS: Final = 100
MAX_RESPONSE_ID_CHARS: Final = 200
MAX_EMAIL_CHARS: Final = 254

#: What to do about a record that failed, from the connector's error table: try it again soon,
#: park it for a while, give up on this record, or stop until a human fixes the configuration.
Tier = Literal["retry", "defer", "skip", "fix-config"]


def category_of(score: int) -> Category:
    """NPS category of a 0-10 score: 9-10 promoter, 7-8 passive, 0-6 detractor."""
    if score >= 9:
        return "promoter"
    if score >= 7:
        return "passive"
    return "detractor"


@dataclass(frozen=True, slots=True)
class SurveyResponse:
    """One version of one survey response, as a source delivered it."""

    source: str
    response_id: str
    email: str
    score: int
    comment: str
    created_at: datetime
    updated_at: datetime
    person_name: str = ""
    properties: dict[str, str] = field(default_factory=dict)
    survey_type: str = "relationship"
    channel: str = ""
    language: str = ""
    permalink: str = ""

    @property
    def category(self) -> Category:
        return category_of(self.score)


@dataclass(frozen=True, slots=True)
class SourceProblem:
    """A record a source could not parse; reported with its location and skipped."""

    source: str
    location: str
    reason: str
    #: The whole input is unusable (an export whose header lacks a required column), not one
    #: record: the pass reports it as an error too, so it does not end as if all went well.
    whole_file: bool = False
    #: Refused only for now: a timestamp ahead of this machine's clock, readable from then on.
    readable_after: datetime | None = None

    def __str__(self) -> str:
        return f"{self.location}: {self.reason}"


@dataclass(frozen=True, slots=True)
class SourceWarning:
    """Something in a source worth an admin's look that skips nothing (a response id repeated
    in one file: the later-dated record is kept, as for an edit)."""

    source: str
    location: str
    reason: str

    def __str__(self) -> str:
        return f"{self.location}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Account:
    """A Salesforce account with the fields routing and metrics use."""

    id: str
    name: str
    owner_id: str = ""
    owner_email: str = ""
    #: The owner's full name, for the records that name them (a ticket names the Task's owner).
    owner_name: str = ""
    #: False when the owner is a deactivated user, who can no longer be given a new Task.
    owner_active: bool = True
    tier: str = ""
    industry: str = ""
    region: str = ""
    arr: float = 0.0
    renewal_date: date | None = None
    website: str = ""
    created_date: date | None = None
    #: The email domain the account is matched by: its domain field, else its Website's host.
    domain: str = ""
    #: Values of the other fields asked for (routing's ``account.custom.<Name>``), by API name
    #: as asked, in the order asked.
    custom: tuple[tuple[str, object], ...] = ()


@dataclass(frozen=True, slots=True)
class Opportunity:
    """A Salesforce opportunity: what an account renewed, bought or let go, and when."""

    id: str
    account_id: str
    type: str
    amount: float
    stage: str
    close_date: date
    is_closed: bool
    is_won: bool


@dataclass(frozen=True, slots=True)
class Contact:
    """A Salesforce contact, with its account when it has one."""

    id: str
    email: str
    first_name: str = ""
    last_name: str = ""
    owner_id: str = ""
    #: False when the owner is a deactivated user, who can no longer be given a new Task.
    owner_active: bool = True
    account: Account | None = None
    #: The job title (``Title``), for routing and templates (``contact.title``).
    title: str = ""
    #: The person's role, from the configured role field (``contact.role``).
    role: str = ""
    #: Values of the other fields asked for (routing's ``contact.custom.<Name>``), by API name.
    custom: tuple[tuple[str, object], ...] = ()

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


@dataclass(frozen=True, slots=True)
class Queue:
    """A Salesforce queue (a ``Group`` of type ``Queue``) and the objects it may own."""

    id: str
    name: str
    developer_name: str
    #: Object names of its ``QueueSobject`` rows (``Task``, ``Case``, ...).
    sobjects: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ZendeskUser:
    """A Zendesk end user, with the organization they belong to."""

    id: int
    email: str
    name: str = ""
    organization_id: int | None = None


#: The longest Task Description Salesforce stores (a Long Text Area of 32,000 characters).
MAX_TASK_DESCRIPTION = 32_000


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """A Salesforce Task to create. ``key`` is the idempotency key written into the Task."""

    key: str
    subject: str
    description: str
    owner_id: str
    due_date: date
    who_id: str | None = None
    what_id: str | None = None
    priority: str = "Normal"
    status: str = "Not Started"


@dataclass(frozen=True, slots=True)
class TicketSpec:
    """A Zendesk ticket to create. ``key`` becomes the ticket's ``external_id``."""

    key: str
    subject: str
    body: str
    requester_id: int | None = None
    requester_email: str = ""
    requester_name: str = ""
    organization_id: int | None = None
    group_id: int | None = None
    priority: str = "normal"
    tags: tuple[str, ...] = ()
    custom_fields: dict[int, object] = field(default_factory=dict)
    ticket_type: str | None = None
    assignee_id: int | None = None
    #: Public comments are emailed to the requester; NPS follow-ups start as internal notes.
    public: bool = False


@dataclass(frozen=True, slots=True)
class FieldUpdate:
    """A set of field values for one record in an external system."""

    object_type: str
    record_id: str
    values: dict[str, object]


@dataclass(frozen=True, slots=True)
class WriteResult:
    """The outcome of one record in a batched write.

    ``record_id`` is the key the caller gave (idempotency key or record id); ``external_id`` is the
    id the system assigned, when it created something; ``code`` is the system's error code and
    ``tier`` what it means for the caller, classified by the connector that wrote the record
    (``None`` when ``ok``).
    """

    record_id: str
    ok: bool
    external_id: str = ""
    error: str = ""
    code: str = ""
    tier: Tier | None = None
