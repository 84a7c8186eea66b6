"""Executor of ``salesforce_task`` intents: Tasks created 200 per sObject Collections call.

Each Task carries its idempotency key in the marker field, so an intent whose earlier attempt
may have created it is looked up by that key first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from connectors.models import TaskSpec
from sync.core.ports import TaskCrm
from sync.core.retry import RetryPolicy
from sync.stages.act import Outcome, create_missing
from sync.state import ClaimedAction


@dataclass
class SalesforceTaskExecutor:
    crm: TaskCrm
    retry: RetryPolicy
    kind: str = "salesforce_task"
    batch_size: int = 200

    def execute(self, actions: Sequence[ClaimedAction]) -> list[Outcome]:
        return create_missing(
            actions,
            lookup=self.crm.find_tasks_by_key,
            create=lambda todo: self.crm.create_tasks([task_spec(a.key, a.payload) for a in todo]),
            retry=self.retry,
        )


def task_spec(key: str, payload: dict[str, Any] | Any) -> TaskSpec:
    return TaskSpec(
        key=key,
        subject=payload["subject"],
        description=payload["description"],
        owner_id=payload["owner_id"],
        due_date=date.fromisoformat(payload["due_date"]),
        who_id=payload.get("who_id"),
        what_id=payload.get("what_id"),
        priority=payload.get("priority", "Normal"),
    )
