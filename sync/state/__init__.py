"""The durable state store (SQLite or PostgreSQL) and its schema."""

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

__all__ = [
    "ActionIntent",
    "ActionResult",
    "ActionRow",
    "ClaimedAction",
    "IngestStats",
    "OutboxCounts",
    "QueuedWriteBacks",
    "RoutingOutcome",
    "StateStore",
    "StoredResponse",
]
