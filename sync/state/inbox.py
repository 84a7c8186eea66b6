"""The inbox: survey responses as pulled, their versions, problems and routing state."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from sync.state import schema as t
from sync.state.database import Database
from sync.state.dialect import chunks


class Inbox:
    """Responses (``nps_responses`` and their version history) and source problems."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def versions(self, source: str, response_ids: Iterable[str]) -> dict[str, str]:
        """The stored version of each response of ``source`` among ``response_ids``."""
        r = t.responses
        found: dict[str, str] = {}
        with self._db.reading() as conn:
            for chunk in chunks(response_ids):
                rows = conn.execute(
                    sa.select(r.c.response_id, r.c.version).where(
                        r.c.source == source, r.c.response_id.in_(chunk)
                    )
                ).all()
                found.update({row.response_id: row.version for row in rows})
        return found
