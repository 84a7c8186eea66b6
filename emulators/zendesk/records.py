"""The emulator's internal records: mutable, guarded by the app lock, never handed out as-is.

Timestamps are epoch seconds from the emulator clock; JSON shapes live in :mod:`render`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TICKET_STATUSES = ("new", "open", "pending", "hold", "solved", "closed")
TICKET_PRIORITIES = ("low", "normal", "high", "urgent")
TICKET_TYPES = ("problem", "incident", "question", "task")
USER_ROLES = ("end-user", "agent", "admin")
#: The account's default brand: every account has one, and every ticket belongs to a brand.
DEFAULT_BRAND_ID = 360_000_000_000


@dataclass
class User:
    id: int
    name: str
    email: str | None
    created_at: float
    updated_at: float
    role: str = "end-user"
    external_id: str | None = None
    organization_id: int | None = None
    phone: str | None = None
    time_zone: str = "America/New_York"
    locale: str = "en-US"
    tags: list[str] = field(default_factory=list)
    notes: str | None = None
    details: str | None = None
    active: bool = True
    verified: bool = False
    default_group_id: int | None = None
    user_fields: dict[str, Any] = field(default_factory=dict)
    #: Soft-deleted: inactive, without email, listed in the user export as deleted.
    deleted: bool = False


@dataclass
class Organization:
    id: int
    name: str
    created_at: float
    updated_at: float
    external_id: str | None = None
    domain_names: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    details: str | None = None
    notes: str | None = None
    group_id: int | None = None
    organization_fields: dict[str, Any] = field(default_factory=dict)


@dataclass
class Comment:
    id: int
    author_id: int
    body: str
    public: bool
    created_at: float
    audit_id: int
    html_body: str | None = None


@dataclass
class Ticket:
    id: int
    subject: str
    description: str
    requester_id: int
    submitter_id: int
    created_at: float
    updated_at: float
    status: str = "new"
    priority: str | None = None
    type: str | None = None
    external_id: str | None = None
    assignee_id: int | None = None
    organization_id: int | None = None
    group_id: int | None = None
    tags: list[str] = field(default_factory=list)
    custom_fields: dict[int, Any] = field(default_factory=dict)
    comments: list[Comment] = field(default_factory=list)
    via_channel: str = "api"
    brand_id: int = DEFAULT_BRAND_ID
    # Every audit the ticket has had, oldest first, as the API shows them.
    audits: list[dict[str, Any]] = field(default_factory=list)
    # Position in the change stream: bumped on every write, orders the incremental export.
    sequence: int = 0


@dataclass
class Group:
    id: int
    name: str
    created_at: float
    updated_at: float
    description: str = ""
    is_public: bool = True


@dataclass
class Brand:
    id: int
    name: str
    subdomain: str
    created_at: float
    updated_at: float
    default: bool = False


@dataclass(frozen=True)
class FieldOption:
    id: int
    name: str
    value: str


@dataclass
class CustomField:
    """A custom field definition (ticket, user or organization field).

    ``key`` is the user/organization field key; ticket fields have ``key`` None and are
    addressed by ``id``. System ticket fields (subject, status, ...) are listed but never appear
    in a ticket's ``custom_fields``.
    """

    id: int
    title: str
    type: str
    created_at: float
    key: str | None = None
    description: str = ""
    position: int = 9999
    active: bool = True
    system: bool = False
    options: tuple[FieldOption, ...] = ()


def normalize_tags(tags: list[Any]) -> list[str]:
    """Zendesk tags: lower case, no spaces (a space separates two tags), no repeats."""
    result: list[str] = []
    for tag in tags:
        for part in str(tag).lower().split():
            if part not in result:
                result.append(part)
    return result
