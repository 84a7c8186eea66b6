"""The ports the engine needs from external systems, as ``typing.Protocol``s.

The connectors in :mod:`connectors.salesforce` and :mod:`connectors.zendesk` implement them; unit
tests of the engine may use in-memory fakes of these ports, while end-to-end tests use the real
connectors against the emulators.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from connectors.models import Contact, FieldUpdate, TaskSpec, TicketSpec, WriteResult, ZendeskUser


class CrmPort(Protocol):
    """What the engine asks of Salesforce."""

    def find_contacts_by_email(self, emails: Iterable[str]) -> dict[str, list[Contact]]: ...

    def find_tasks_by_key(self, keys: Iterable[str]) -> dict[str, str]: ...

    def create_tasks(self, tasks: Sequence[TaskSpec]) -> list[WriteResult]: ...

    def update_records(self, updates: Sequence[FieldUpdate]) -> list[WriteResult]: ...

    def api_usage(self) -> tuple[int, int] | None: ...


class HelpdeskPort(Protocol):
    """What the engine asks of Zendesk."""

    def find_users_by_external_id(self, external_ids: Iterable[str]) -> dict[str, ZendeskUser]: ...

    def find_user_by_email(self, email: str) -> ZendeskUser | None: ...

    def group_ids(self) -> dict[str, int]: ...

    def ticket_field_ids(self) -> dict[str, int]: ...

    def find_tickets_by_key(self, keys: Iterable[str]) -> dict[str, int]: ...

    def create_tickets(self, specs: Sequence[TicketSpec]) -> list[WriteResult]: ...

    def update_users(self, updates: Sequence[FieldUpdate]) -> list[WriteResult]: ...

    def update_organizations(self, updates: Sequence[FieldUpdate]) -> list[WriteResult]: ...
