"""The durable state store (SQLite or PostgreSQL): the only place that speaks SQL.

:class:`StateStore` owns the engine and the schema and exposes one repository per aggregate;
the records they take and return are exported here.
"""

from sync.state.cooldowns import CooldownClaim
from sync.state.errors import StateFileError, StateRefusedError, StateUnavailableError
from sync.state.inbox import IngestStats, RoutingOutcome, StoredResponse
from sync.state.open_tickets import TicketSpan
from sync.state.outbox import ActionIntent, ActionResult, ActionRow, ClaimedAction, OutboxCounts
from sync.state.skips import SkippedAction, SkipRow
from sync.state.store import Routed, StateStore, open_store
from sync.state.tickets import (
    PastResponse,
    TicketCandidate,
    TicketStatus,
    UnresolvedTicketAction,
)
from sync.state.write_backs import QueuedWriteBacks

__all__ = [
    "ActionIntent",
    "ActionResult",
    "ActionRow",
    "ClaimedAction",
    "CooldownClaim",
    "IngestStats",
    "OutboxCounts",
    "PastResponse",
    "QueuedWriteBacks",
    "Routed",
    "RoutingOutcome",
    "SkipRow",
    "SkippedAction",
    "StateFileError",
    "StateRefusedError",
    "StateStore",
    "StateUnavailableError",
    "StoredResponse",
    "TicketCandidate",
    "TicketSpan",
    "TicketStatus",
    "UnresolvedTicketAction",
    "open_store",
]
