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
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.sql.compiler import SQLCompiler

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
        written = [
            (record_id, name, value)
            for record_id, fields in values.items()
            for name, value in fields.items()
        ]
        if not written:
            return
        with self._db.writing() as conn:
            _upsert_many(conn, {"system": system, "object": obj, "written_at": now}, written)


def _upsert_many(
    conn: Connection, same: Mapping[str, Any], written: Sequence[tuple[str, str, Any]]
) -> None:
    """Upsert (record id, field, value) rows that share the ``same`` columns, as one
    executemany of the compiled statement with the bind processing of each column's type done
    here, once for the shared values. A write-back of history records remembers hundreds of
    thousands of values, and building every row's parameters through the statement cost
    several times what the database spends storing them."""
    dialect = conn.dialect
    columns = t.written_values.c

    def processor(name: str) -> Callable[[Any], Any]:
        process = columns[name].type.dialect_impl(dialect).bind_processor(dialect)
        return process if process is not None else _unchanged

    compiled = _compiled_upserts.get(dialect.name)
    if compiled is None:  # once per backend: building the upsert cost more than its rows
        compiled = upsert(conn, t.written_values, _KEYS).compile(dialect=dialect)
        _compiled_upserts[dialect.name] = compiled
    order = list(compiled.positiontup or []) if dialect.positional else list(compiled.params)
    shared = {name: processor(name)(value) for name, value in same.items()}
    record_id, field, value = processor("record_id"), processor("field"), processor("value")
    rows = [
        {**shared, "record_id": record_id(rid), "field": field(name), "value": value(v)}
        for rid, name, v in written
    ]
    params: list[Any] = (
        [tuple(row[name] for name in order) for row in rows] if dialect.positional else rows
    )
    conn.exec_driver_sql(str(compiled), params)


def _unchanged(value: Any) -> Any:
    return value


_KEYS = ("system", "object", "record_id", "field")
#: The upsert of :func:`_upsert_many`, compiled, by backend name.
_compiled_upserts: dict[str, SQLCompiler] = {}
