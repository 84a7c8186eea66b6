"""The durable state store (SQLite or PostgreSQL), its repositories and their records."""

from sync.state.cooldowns import CooldownClaim
from sync.state.store import (
    ActionIntent,
    ActionResult,
    ActionRow,
    ClaimedAction,
    IngestStats,
    OutboxCounts,
    QueuedWriteBacks,
    RoutingOutcome,
    StateStore,
    StoredResponse,
)
from sync.state.tickets import PastResponse, TicketCandidate, TicketStatus

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
    "RoutingOutcome",
    "StateStore",
    "StoredResponse",
    "TicketCandidate",
    "TicketStatus",
]
