"""Written values: what we last wrote to each field of each external record.

The write-back stage sends only values that differ from these.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from sync.state import schema as t
from sync.state.database import Database
from sync.state.dialect import chunks, upsert


class WrittenValues:
    """The ``nps_written_values`` table: (system, object, record id, field) -> value."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, system: str, obj: str, record_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Record id -> field -> the value last written, for these records."""
        w = t.written_values
        out: dict[str, dict[str, Any]] = {}
        with self._db.reading() as conn:
            for chunk in chunks(sorted(set(record_ids))):
                rows = conn.execute(
                    sa.select(w.c.record_id, w.c.field, w.c.value).where(
                        w.c.system == system, w.c.object == obj, w.c.record_id.in_(chunk)
                    )
                ).all()
                for row in rows:
                    out.setdefault(row.record_id, {})[row.field] = row.value
        return out

    def record(
        self, system: str, obj: str, values: Mapping[str, Mapping[str, Any]], now: datetime
    ) -> None:
        """Remember values just written: record id -> field -> value."""
        rows = [
            {
                "system": system,
                "object": obj,
                "record_id": record_id,
                "field": name,
                "value": value,
                "written_at": now,
            }
            for record_id, fields in values.items()
            for name, value in fields.items()
        ]
        if not rows:
            return
        with self._db.writing() as conn:
            conn.execute(
                upsert(conn, t.written_values, ["system", "object", "record_id", "field"]), rows
            )
