"""Which originals of due escalation steps are resolved: a closed Task, a solved ticket.

Whether an original is resolved is a seam (:class:`ResolutionCheck`): a Task is asked of Salesforce
through the :class:`~sync.core.ports.TaskStatus` port by :class:`TaskStatusCheck`; a ticket is
resolved once ticket tracking (:mod:`sync.loop.tracking`) has seen it solved or closed
(:class:`TrackedTicketStatus`). Anything else may record a resolution with :func:`mark_resolved`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Protocol

from more_itertools import chunked

from sync.core.ports import TaskStatus
from sync.core.retry import RetryPolicy
from sync.loop.tracking import SOLVED
from sync.state import StateStore


def mark_resolved(store: StateStore, action_keys: Iterable[str], at: datetime) -> int:
    """Record that these actions' tasks or tickets are resolved: their steps will not fire.

    The seam for status tracking; returns how many pending steps it settled.
    """
    return store.escalations.resolve(action_keys, at)


@dataclass(frozen=True, slots=True)
class Original:
    """A task or ticket an escalation step watches."""

    key: str
    kind: str
    external_id: str | None
    rule: str
    source: str
    response_id: str


class ResolutionCheck(Protocol):
    """Tells which originals are resolved now (closed task, solved ticket)."""

    def resolved(self, originals: Sequence[Original]) -> set[str]:
        """Keys of the resolved ones; may raise :class:`connectors.errors.ConnectorError`."""
        ...


#: Task ids per Salesforce read: what one query takes.
TASKS_PER_READ = 200


@dataclass
class TaskStatusCheck:
    """A Salesforce Task is resolved once closed (``IsClosed``), or when it was deleted.

    Each query of 200 Tasks is retried on its own: retried as one read, thousands of watched
    Tasks would need every query through in a row, which a steady fault rate denies.
    """

    crm: TaskStatus
    retry: RetryPolicy

    def resolved(self, originals: Sequence[Original]) -> set[str]:
        tasks = {
            o.external_id[:15]: o.key
            for o in originals
            if o.kind == "salesforce_task" and o.external_id
        }
        still_open: set[str] = set()
        for part in chunked(sorted(tasks), TASKS_PER_READ):
            still_open |= self.retry.call(partial(self.crm.open_tasks, part))
        return {key for task_id, key in tasks.items() if task_id not in still_open}


@dataclass
class TrackedTicketStatus:
    """A Zendesk ticket is resolved once ticket tracking last saw it solved or closed."""

    store: StateStore

    def resolved(self, originals: Sequence[Original]) -> set[str]:
        keys = [o.key for o in originals if o.kind == "zendesk_ticket"]
        if not keys:
            return set()
        statuses = self.store.tickets.statuses(keys)
        return {key for key, status in statuses.items() if status.status in SOLVED}


@dataclass
class AnyResolution:
    """Resolved when any of the checks says so; later checks see only what is still open."""

    checks: Sequence[ResolutionCheck]

    def resolved(self, originals: Sequence[Original]) -> set[str]:
        found: set[str] = set()
        for check in self.checks:
            still_open = [o for o in originals if o.key not in found]
            if still_open:
                found |= check.resolved(still_open)
        return found
