"""Executor of ``salesforce_task`` intents: Tasks created 200 per sObject Collections call.

Each Task carries its idempotency key in the marker field, so an intent whose earlier attempt
may have created it is looked up by that key first. A Task is due ``due_in`` after it is
*created*: an action that waited in the outbox (a quota, a rate limit, a system down for a day)
still gives its owner the whole time to act.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from connectors.models import TaskSpec, WriteResult
from sync.core.ports import TaskCrm
from sync.core.retry import RetryPolicy
from sync.stages.act import Outcome, create_missing
from sync.state import ClaimedAction


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class SalesforceTaskExecutor:
    crm: TaskCrm
    retry: RetryPolicy
    kind: str = "salesforce_task"
    batch_size: int = 200
    #: When the Tasks are created: their due dates count from it.
    clock: Callable[[], datetime] = field(default=_utcnow)

    def execute(self, actions: Sequence[ClaimedAction]) -> list[Outcome]:
        def create(todo: list[ClaimedAction]) -> list[WriteResult]:
            created_at = self.clock()
            return self.crm.create_tasks([task_spec(a.key, a.payload, created_at) for a in todo])

        return create_missing(
            actions, lookup=self.crm.find_tasks_by_key, create=create, retry=self.retry
        )


def due_date(payload: Mapping[str, Any], created_at: datetime) -> date:
    """``due_in`` after ``created_at`` (a UTC date); an intent stored before due dates were
    counted from creation carries its ``due_date`` already."""
    if "due_in_seconds" in payload:
        return (created_at + timedelta(seconds=int(payload["due_in_seconds"]))).date()
    return date.fromisoformat(payload["due_date"])


def task_spec(key: str, payload: Mapping[str, Any], created_at: datetime) -> TaskSpec:
    return TaskSpec(
        key=key,
        subject=payload["subject"],
        description=payload["description"],
        owner_id=payload["owner_id"],
        due_date=due_date(payload, created_at),
        who_id=payload.get("who_id"),
        what_id=payload.get("what_id"),
        priority=payload.get("priority", "Normal"),
    )
