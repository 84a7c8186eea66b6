"""Plain records of the Zendesk connector, beyond the shared ones in :mod:`connectors.models`.

The connector returns these instead of zenpy objects, so the engine and its tests never depend on
zenpy types.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

#: Ticket statuses that still need an agent (the rest are solved or closed).
UNSOLVED = frozenset({"new", "open", "pending", "hold"})


@dataclass(frozen=True, slots=True)
class TicketState:
    """What the sync needs to know about an existing ticket."""

    id: int
    status: str
    requester_id: int | None = None
    organization_id: int | None = None
    external_id: str | None = None
    #: The requester's email (lower-case), when the read sideloaded the ticket's users.
    requester_email: str = ""
    updated_at: datetime | None = None
    created_at: datetime | None = None
    #: From the ticket's metric set, when the export sideloads it: when an agent first replied
    #: in public (creation plus the calendar reply time, whole minutes) and when it was solved.
    first_reply_at: datetime | None = None
    solved_at: datetime | None = None
    #: Custom field values that are text (dropdowns, text fields), by field id.
    text_fields: tuple[tuple[int, str], ...] = ()
    subject: str = ""

    @property
    def unsolved(self) -> bool:
        return self.status in UNSOLVED


@dataclass(frozen=True, slots=True)
class OpenTicket:
    """An unsolved ticket of a requester, as the customer context names it."""

    id: int
    subject: str


@dataclass(frozen=True, slots=True)
class ExportPage:
    """One page of the incremental ticket export and the cursor to resume after it."""

    tickets: tuple[TicketState, ...]
    after_cursor: str | None
    end_of_stream: bool


@dataclass(frozen=True, slots=True)
class ExportedUser:
    """A user as the incremental user export lists it: what email and external id lookups need."""

    id: int
    email: str
    external_id: str
    organization_id: int | None
    name: str
    #: False for a deleted user (the export lists it once more, without email).
    active: bool


@dataclass(frozen=True, slots=True)
class UserExportPage:
    """One page of the incremental user export and the cursor to resume after it."""

    users: tuple[ExportedUser, ...]
    after_cursor: str | None
    end_of_stream: bool


@dataclass(frozen=True, slots=True)
class CommentSpec:
    """A comment to add to an existing ticket; ``key`` identifies it in results."""

    key: str
    ticket_id: int
    body: str
    public: bool = False
    #: A status set in the same update (``open`` reopens a solved ticket), or None to keep it.
    status: str | None = None
    #: Custom ticket fields set in the same update, by field id (the NPS score of the answer
    #: the comment tells of).
    fields: Mapping[int, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RequesterSpec:
    """An end user to create, or update when the email exists (``create_or_update``)."""

    email: str
    name: str = ""
    organization_id: int | None = None


@dataclass(frozen=True, slots=True)
class FieldInfo:
    """A custom field definition: ticket fields by ``title``, user/org fields by ``key``."""

    id: int
    title: str
    type: str
    key: str = ""
    active: bool = True
    options: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Agent:
    """A staff member tickets can be assigned to."""

    id: int
    email: str
    role: str
