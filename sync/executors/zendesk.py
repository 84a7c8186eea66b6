"""Executor of ``zendesk_ticket`` intents: tickets created up to 100 per ``create_many`` job.

Each ticket carries its idempotency key as ``external_id``, so an intent whose earlier attempt
may have created it is looked up by that key first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from connectors.models import TicketSpec
from sync.act import Outcome, create_missing
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
        return create_missing(
            actions,
            lookup=self.helpdesk.find_tickets_by_key,
            create=lambda todo: self.helpdesk.create_tickets(
                [ticket_spec(a.key, a.payload) for a in todo]
            ),
            retry=self.retry,
        )


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
