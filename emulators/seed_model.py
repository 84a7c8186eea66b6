"""The seed book of business that the emulators load.

Plain records, one list per kind, cross-referenced by id. :mod:`emulators.seed` generates
one deterministically from a seed; each emulator's ``load_seed`` takes the part it serves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass(frozen=True, slots=True)
class SeedUser:
    """A Salesforce user (account owners, CX managers)."""

    id: str  # 18-char Salesforce id, prefix 005
    name: str
    email: str
    title: str = "Account Executive"
    manager_id: str | None = None


@dataclass(frozen=True, slots=True)
class SeedAccount:
    id: str  # prefix 001
    name: str
    owner_id: str
    tier: str  # Enterprise | Mid-Market | SMB
    industry: str
    region: str  # NA | EMEA | APAC | LATAM
    arr: float
    renewal_date: date
    website: str  # "https://www.example.com"
    domain: str  # "example.com"
    created_date: date
    zendesk_organization_id: int


@dataclass(frozen=True, slots=True)
class SeedContact:
    id: str  # prefix 003
    account_id: str
    owner_id: str
    first_name: str
    last_name: str
    email: str
    title: str
    zendesk_user_id: int


@dataclass(frozen=True, slots=True)
class SeedLead:
    id: str  # prefix 00Q
    owner_id: str
    first_name: str
    last_name: str
    email: str
    company: str


@dataclass(frozen=True, slots=True)
class SeedOpportunity:
    """A renewal or upsell of an account, closed (won or lost) or still open."""

    id: str  # prefix 006
    account_id: str
    owner_id: str
    name: str
    type: str  # Renewal | Upsell
    amount: float
    stage: str  # a Salesforce stage: "Closed Won", "Closed Lost", or an open one
    close_date: date


@dataclass(frozen=True, slots=True)
class SeedOrganization:
    """A Zendesk organization mirroring a Salesforce account."""

    id: int
    name: str
    external_id: str  # the Salesforce account id
    domain_names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SeedZendeskUser:
    id: int
    name: str
    email: str
    organization_id: int | None
    external_id: str | None  # the Salesforce contact id
    role: str = "end-user"


@dataclass(frozen=True, slots=True)
class SeedTicket:
    id: int
    requester_id: int
    organization_id: int | None
    subject: str
    description: str
    status: str  # new | open | pending | solved | closed
    priority: str
    tags: tuple[str, ...]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class SeedGroup:
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class SeedSurveyResponse:
    """A Delighted survey response (one person, one score, maybe a comment)."""

    id: str
    person_id: str
    email: str
    name: str
    score: int
    comment: str | None
    created_at: datetime
    updated_at: datetime
    properties: dict[str, str] = field(default_factory=dict)
    tags: tuple[str, ...] = ()


@dataclass
class Seed:
    """One whole, consistent book of business."""

    users: list[SeedUser] = field(default_factory=list)
    accounts: list[SeedAccount] = field(default_factory=list)
    contacts: list[SeedContact] = field(default_factory=list)
    leads: list[SeedLead] = field(default_factory=list)
    opportunities: list[SeedOpportunity] = field(default_factory=list)
    organizations: list[SeedOrganization] = field(default_factory=list)
    zendesk_users: list[SeedZendeskUser] = field(default_factory=list)
    tickets: list[SeedTicket] = field(default_factory=list)
    groups: list[SeedGroup] = field(default_factory=list)
    responses: list[SeedSurveyResponse] = field(default_factory=list)
