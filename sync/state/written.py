"""Written values: what we last wrote to each field of each external record.

The write-back stage sends only values that differ from these. A value is forgotten before it is
sent again (:meth:`WrittenValues.forget`) and remembered once the system confirms it: a write
whose outcome is unknown (a crash, a lost answer, a job that could not be followed) leaves no
memory, so the next write-back sends the field whatever its new value. Remembering the old value
instead would let a later answer that brings the field back to it go unsent, and the record would
keep a mix of two answers.
"""

from __future__ import annotations

from collections import defaultdict
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

    def forget(self, system: str, obj: str, values: Mapping[str, Mapping[str, Any]]) -> None:
        """Drop what we remember of these fields (record id -> field -> value about to be sent),
        before sending them: until the system confirms the write, we do not know what it holds."""
        by_fields: dict[tuple[str, ...], list[str]] = defaultdict(list)
        for record_id, fields in values.items():
            if fields:
                by_fields[tuple(sorted(fields))].append(record_id)
        if not by_fields:
            return
        w = t.written_values
        with self._db.writing() as conn:
            for names, record_ids in by_fields.items():
                for chunk in chunks(record_ids):
                    conn.execute(
                        w.delete().where(
                            w.c.system == system,
                            w.c.object == obj,
                            w.c.field.in_(names),
                            w.c.record_id.in_(chunk),
                        )
                    )

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
