"""Executor of ``zendesk_ticket`` intents: tickets created up to 100 per ``create_many`` job.

Each ticket carries its idempotency key as ``external_id``, so an intent whose earlier attempt
may have created it is looked up by that key first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from connectors.models import TicketSpec
from sync.act import Outcome, guarded, outcome_of, split_existing
from sync.ports import HelpdeskPort
from sync.retry import RetryPolicy
from sync.state import ClaimedAction


@dataclass
class ZendeskTicketExecutor:
    helpdesk: HelpdeskPort
    retry: RetryPolicy
    kind: str = "zendesk_ticket"
    batch_size: int = 100

    def execute(self, actions: Sequence[ClaimedAction]) -> list[Outcome]:
        def work() -> list[Outcome]:
            done, todo = split_existing(
                actions,
                lambda keys: self.retry.call(lambda: self.helpdesk.find_tickets_by_key(keys)),
            )
            if not todo:
                return done
            specs = [ticket_spec(a.key, a.payload) for a in todo]
            results = self.retry.call(lambda: self.helpdesk.create_tickets(specs))
            return done + [outcome_of(r) for r in results]

        return guarded(actions, work)


def ticket_spec(key: str, payload: dict[str, Any] | Any) -> TicketSpec:
    return TicketSpec(
        key=key,
        subject=payload["subject"],
        body=payload["body"],
        requester_id=payload.get("requester_id"),
        requester_email=payload.get("requester_email", ""),
        requester_name=payload.get("requester_name", ""),
        organization_id=payload.get("organization_id"),
        group_id=payload.get("group_id"),
        priority=payload.get("priority", "normal"),
        tags=tuple(payload.get("tags", ())),
        custom_fields={int(k): v for k, v in (payload.get("custom_fields") or {}).items()},
    )
