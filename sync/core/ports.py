"""The ports the engine needs from external systems, as ``typing.Protocol``s.

Each stage asks for the small port it uses (matching asks for lookups, the act stage for creates,
write-back for updates and read-back); :class:`CrmPort` and :class:`HelpdeskPort` are the whole of
what the engine asks of Salesforce and Zendesk, and :class:`sync.app.runtime.Connections` is typed
with them. The connectors in :mod:`connectors.salesforce` and :mod:`connectors.zendesk` implement
them and speak only the plain records of :mod:`connectors.models` (and the lookups' result
records); unit tests of the engine may use in-memory fakes of these ports, while end-to-end tests
use the real connectors against the emulators.

Every method may raise :class:`connectors.errors.ConnectorError` (by tier); a batched write
reports a failed record in its :class:`~connectors.models.WriteResult` instead, with its tier.
Nothing here is optional: a fake implements the whole port a stage asks for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, Protocol

from connectors.errors import ConnectorError
from connectors.models import (
    Account,
    Contact,
    FieldUpdate,
    Opportunity,
    Queue,
    TaskSpec,
    TicketSpec,
    WriteResult,
    ZendeskUser,
)
from connectors.salesforce.describe import FieldInfo, ObjectInfo
from connectors.salesforce.limits import ApiReserve, ApiUsage
from connectors.salesforce.records import AccountLookup, ContactLookup, TaskState
from connectors.surveys.delighted_people import ScheduledSurvey
from connectors.zendesk.records import (
    Agent,
    CommentSpec,
    ExportPage,
    OpenTicket,
    RequesterSpec,
    TicketState,
    UserExportPage,
)

# -- Salesforce ----------------------------------------------------------------------------------


class MatchingCrm(Protocol):
    """The lookups the match ladder needs."""

    def find_contacts(
        self, *, ids: Iterable[str] = (), emails: Iterable[str] = ()
    ) -> ContactLookup: ...

    def find_leads_by_email(self, emails: Iterable[str]) -> dict[str, list[Contact]]: ...

    def find_accounts_by(
        self, *, ids: Iterable[str] = (), names: Iterable[str] = (), domains: Iterable[str] = ()
    ) -> AccountLookup: ...


class CustomFieldsCrm(Protocol):
    """Routing's custom fields (``account.custom.<Name>``), read with every lookup."""

    def described_fields(
        self, sobject: str, names: Sequence[str]
    ) -> dict[str, FieldInfo | None]: ...

    def read_custom_fields(
        self, *, account: Sequence[str] = (), contact: Sequence[str] = ()
    ) -> None: ...


class AccountSearch(Protocol):
    """Accounts whose name or domain holds a text: candidates to suggest, never a match."""

    def search_accounts(self, fragments: Iterable[str], *, limit: int = 50) -> list[Account]: ...


class TaskCrm(Protocol):
    """Creating Tasks, and finding the ones an earlier attempt created (by idempotency key)."""

    def find_tasks_by_key(self, keys: Iterable[str]) -> dict[str, str]: ...

    def has_keyed_tasks(self) -> bool:
        """Whether any Task carries an idempotency key (nps-sync has made Tasks here)."""
        ...

    def create_tasks(self, tasks: Sequence[TaskSpec]) -> list[WriteResult]: ...


class RecordUpdates(Protocol):
    """Field values written to existing Salesforce records, one result per record."""

    def update_records(self, updates: Sequence[FieldUpdate]) -> list[WriteResult]: ...


class RecordEraser(Protocol):
    """Salesforce records deleted by an external id, one result per key (a key no record has
    is done)."""

    def delete_by_external_id(
        self, object_type: str, external_id_field: str, keys: Sequence[str]
    ) -> list[WriteResult]: ...


class AccountFactsCrm(Protocol):
    """What the account metrics need besides responses: ARR, contacts, key contacts."""

    def find_accounts(self, account_ids: Iterable[str]) -> dict[str, Account]: ...

    def count_contacts(self, account_ids: Iterable[str]) -> dict[str, int]: ...

    def find_key_contacts(
        self, account_ids: Iterable[str], *, field: str, values: Sequence[str] = ()
    ) -> dict[str, frozenset[str]]: ...


class OpportunityCrm(Protocol):
    """The opportunities of accounts, for NPS against revenue."""

    def find_opportunities(
        self, account_ids: Iterable[str], *, closing_after: date | None = None
    ) -> list[Opportunity]: ...


class FieldReader(Protocol):
    """Current field values of Salesforce records (read-back, to find hand edits)."""

    def read_fields(
        self, object_type: str, record_ids: Sequence[str], fields: Iterable[str]
    ) -> dict[str, dict[str, Any]]: ...


class TaskLinkCrm(RecordUpdates, FieldReader, Protocol):
    """Task descriptions and owner names read, a Task's description updated: the links between
    a response's Task and its Zendesk ticket."""


class WriteBackCrm(RecordUpdates, AccountFactsCrm, FieldReader, Protocol):
    """Everything write-back asks of Salesforce: facts, describe, updates, upserts, read-back."""

    def describe(self, sobject: str) -> ObjectInfo: ...

    def upsert_records(
        self,
        object_type: str,
        external_id_field: str,
        records: Sequence[Mapping[str, Any]],
        *,
        bulk_threshold: int | None = None,
    ) -> list[WriteResult]: ...


class OwnerDirectory(Protocol):
    """Task owners the rules name: ``user:`` emails or ids as active users, ``queue:`` names as
    queues."""

    def find_active_users_by_email(self, emails: Iterable[str]) -> dict[str, str]: ...

    def find_owners(self, ids: Iterable[str]) -> dict[str, str]: ...

    def find_queues(self, names: Iterable[str]) -> list[Queue]: ...


class TaskStatus(Protocol):
    """Which of our Tasks are still open (escalation steps watch them)."""

    def open_tasks(self, task_ids: Iterable[str]) -> set[str]: ...


class TaskStates(Protocol):
    """Where our Tasks stand (closed loops are read from them)."""

    def task_states(
        self, task_ids: Iterable[str], *, outcome_field: str = ""
    ) -> dict[str, TaskState]: ...


class BudgetedCrm(Protocol):
    """The API budget the run report reads, and whether the connector is logged in yet."""

    reserve: ApiReserve
    #: Why the latest login failed, while no login has succeeded yet (else None).
    login_failure: ConnectorError | None

    @property
    def logged_in(self) -> bool: ...

    def log_in(self) -> None: ...

    @property
    def usage(self) -> ApiUsage | None: ...

    def api_usage(self) -> tuple[int, int] | None: ...


class KeyAccounts(Protocol):
    """The accounts that matter most, by tier, ARR or a checkbox."""

    def key_accounts(
        self,
        *,
        tiers: Sequence[str] = (),
        min_arr: float | None = None,
        flag_field: str | None = None,
    ) -> list[Account]: ...


class AccountValues(Protocol):
    """Values of Account fields an admin names, for segments."""

    def account_values(
        self, account_ids: Iterable[str], fields: Sequence[str]
    ) -> dict[str, dict[str, str]]: ...


class CrmPort(
    MatchingCrm,
    CustomFieldsCrm,
    KeyAccounts,
    AccountSearch,
    TaskCrm,
    WriteBackCrm,
    OwnerDirectory,
    TaskStatus,
    TaskStates,
    OpportunityCrm,
    BudgetedCrm,
    RecordEraser,
    Protocol,
):
    """Everything the engine asks of Salesforce."""


# -- Zendesk -------------------------------------------------------------------------------------


class MatchingHelpdesk(Protocol):
    """Zendesk users by the external id or email of a respondent."""

    def find_users_by_external_id(self, external_ids: Iterable[str]) -> dict[str, ZendeskUser]: ...

    def find_user_by_email(self, email: str) -> ZendeskUser | None: ...


class OrganizationPort(Protocol):
    """Zendesk organizations by external id."""

    def organizations_by_external_id(self, external_ids: Iterable[str]) -> dict[str, int]: ...


class NamesPort(Protocol):
    """Names in the config and rules, resolved to Zendesk ids."""

    def group_ids(self) -> dict[str, int]: ...

    def ticket_field_ids(self) -> dict[str, int]: ...

    def agents_by_email(self, emails: Iterable[str]) -> dict[str, Agent]: ...

    def organization_ids_by_name(self, names: Iterable[str]) -> dict[str, int]: ...


class OpenTickets(Protocol):
    """The unsolved tickets of requesters, for the customer context of Tasks and tickets."""

    def open_tickets(
        self, user_ids: Iterable[int], *, until: float | None = None
    ) -> dict[int, list[OpenTicket]]: ...


class TicketDesk(OrganizationPort, NamesPort, OpenTickets, Protocol):
    """What the ticket executor asks of Zendesk."""

    def find_tickets_by_key(self, keys: Iterable[str]) -> dict[str, int]: ...

    def find_recent_tickets_by_key(
        self, keys: Iterable[str], since: datetime, *, max_pages: int = 2
    ) -> dict[str, int]:
        """As :meth:`find_tickets_by_key` among tickets changed since ``since``, in a few
        requests however many keys; may miss a ticket that exists."""
        ...

    def create_tickets(
        self,
        specs: Sequence[TicketSpec],
        *,
        direct_up_to: int = 1,
        on_job: Callable[[Sequence[str], str], None] | None = None,
    ) -> list[WriteResult]: ...

    def tickets_by_id(
        self, ticket_ids: Iterable[int], *, requesters: bool = False
    ) -> dict[int, TicketState]: ...

    def comment_bodies(self, ticket_id: int) -> list[str]: ...

    def recent_comment_bodies(
        self, ticket_ids: Iterable[int], since: datetime, *, max_pages: int = 2
    ) -> dict[int, list[str]]:
        """Bodies of the comments added to these tickets since ``since``, in a few requests
        however many tickets; may miss a comment that exists."""
        ...

    def add_comments(
        self,
        comments: Sequence[CommentSpec],
        *,
        on_job: Callable[[Sequence[str], str], None] | None = None,
    ) -> list[WriteResult]: ...

    def start_comments(
        self,
        comments: Sequence[CommentSpec],
        *,
        on_job: Callable[[Sequence[str], str], None] | None = None,
    ) -> Callable[[], list[WriteResult]]: ...

    def wait_for_jobs(self, job_ids: Iterable[str]) -> set[str]: ...

    def create_users(self, specs: Sequence[RequesterSpec]) -> dict[str, int]: ...


class HelpdeskUpdates(Protocol):
    """Custom field values written to Zendesk users and organizations."""

    def update_users(self, updates: Sequence[FieldUpdate]) -> list[WriteResult]: ...

    def update_organizations(self, updates: Sequence[FieldUpdate]) -> list[WriteResult]: ...


class HelpdeskFieldReader(Protocol):
    """Custom field values of Zendesk users and organizations, read back in bulk."""

    def user_field_values(self, user_ids: Iterable[int]) -> dict[int, dict[str, object]]: ...

    def organization_field_values(self, org_ids: Iterable[int]) -> dict[int, dict[str, object]]: ...


class WriteBackHelpdesk(HelpdeskUpdates, HelpdeskFieldReader, Protocol):
    """Everything write-back asks of Zendesk."""

    def update_fields(self, updates: Sequence[FieldUpdate]) -> list[WriteResult]:
        """Users' and organizations' fields (by ``object_type``) in one call, in order."""
        ...


class TicketExport(Protocol):
    """The incremental ticket export, which ticket tracking reads."""

    def export_tickets(
        self, *, cursor: str | None = None, start_time: int | None = None, metrics: bool = False
    ) -> ExportPage: ...


class UserExport(Protocol):
    """The incremental user export, which the mirror of Zendesk's users is kept from."""

    def export_users(
        self, *, cursor: str | None = None, start_time: int | None = None
    ) -> UserExportPage: ...


class HelpdeskPort(
    MatchingHelpdesk,
    TicketDesk,
    WriteBackHelpdesk,
    TicketExport,
    UserExport,
    Protocol,
):
    """Everything the engine asks of Zendesk."""


# -- Survey tools --------------------------------------------------------------------------------


class SurveyScheduler(Protocol):
    """A survey tool that sends a person a survey later (Delighted's people API)."""

    name: str

    def schedule_survey(
        self, email: str, *, name: str, delay_seconds: int, properties: Mapping[str, str]
    ) -> ScheduledSurvey: ...

    def pending_survey(self, email: str) -> ScheduledSurvey | None: ...
