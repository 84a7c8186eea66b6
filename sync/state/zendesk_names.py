"""The ids of the Zendesk names the config and rules use (groups, agents, ticket fields, domain
organizations), as last resolved.

A pass resolves them from Zendesk before it routes; when Zendesk cannot be reached, a new
process would otherwise route nothing at all, Salesforce's work included. With the ids kept
here it routes as the last process did, and only the work that needs Zendesk itself waits.
Keyed by a fingerprint of the names asked for, so a changed rules file never reads another's ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from sync.state import schema as t
from sync.state.database import Database
from sync.state.dialect import insert_for


@dataclass(frozen=True, slots=True)
class StoredNames:
    """Resolved names as stored (the JSON form the caller gave) and when they were read."""

    names: dict[str, Any]
    resolved_at: datetime


class ResolvedNames:
    """The ``nps_zendesk_names`` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, wanted: str) -> StoredNames | None:
        """The names last resolved for the fingerprint ``wanted``, if any."""
        n = t.zendesk_names
        with self._db.reading() as conn:
            row = conn.execute(sa.select(n).where(n.c.wanted == wanted)).first()
        if row is None or not isinstance(row.names, dict):
            return None
        return StoredNames(row.names, row.resolved_at)

    def save(self, wanted: str, names: dict[str, Any], now: datetime) -> None:
        """Keep ``names`` as the latest resolved for ``wanted``."""
        n = t.zendesk_names
        with self._db.writing() as conn:
            stmt = insert_for(conn, n).values(wanted=wanted, names=names, resolved_at=now)
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["wanted"], set_={"names": names, "resolved_at": now}
                )
            )
