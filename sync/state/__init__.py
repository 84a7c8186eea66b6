"""The durable state store (SQLite or PostgreSQL) and its schema."""

from sync.state.store import (
    ActionIntent,
    ActionRow,
    ClaimedAction,
    IngestStats,
    RoutingOutcome,
    StateStore,
    StoredResponse,
)

__all__ = [
    "ActionIntent",
    "ActionRow",
    "ClaimedAction",
    "IngestStats",
    "RoutingOutcome",
    "StateStore",
    "StoredResponse",
]
