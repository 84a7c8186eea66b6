"""Run history and source cursors: where each source was read up to, and what each pass did."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sync.state import schema as t
from sync.state.database import Database
from sync.state.dialect import upsert


class Cursors:
    """The ``nps_cursors`` table: one opaque position per source (a survey tool, an export)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, source: str) -> str | None:
        with self._db.reading() as conn:
            return conn.execute(
                sa.select(t.cursors.c.value).where(t.cursors.c.source == source)
            ).scalar_one_or_none()

    def all(self) -> dict[str, tuple[str | None, datetime]]:
        """Every source's cursor and when it last moved."""
        with self._db.reading() as conn:
            rows = conn.execute(sa.select(t.cursors)).all()
        return {r.source: (r.value, r.updated_at) for r in rows}

    def set(self, source: str, value: str, now: datetime, conn: Connection | None = None) -> None:
        """Move ``source``'s cursor; pass ``conn`` to move it with the work it records."""
        row = {"source": source, "value": value, "updated_at": now}
        with self._db.writing(conn) as db:
            db.execute(upsert(db, t.cursors, ["source"]), [row])

    def delete(self, source: str) -> None:
        """Forget ``source``'s cursor (a marker that no longer holds)."""
        with self._db.writing() as db:
            db.execute(t.cursors.delete().where(t.cursors.c.source == source))


class Runs:
    """The ``nps_runs`` table: one row per pass, reconciliation or operator job."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def start(self, now: datetime, *, kind: str = "pass", owner: str | None = None) -> int:
        with self._db.writing() as conn:
            result = conn.execute(
                t.runs.insert().values(started_at=now, status="running", kind=kind, owner=owner)
            )
            key = result.inserted_primary_key
        assert key is not None
        return int(key[0])

    def finish(self, run_id: int, status: str, stats: Mapping[str, Any], now: datetime) -> None:
        with self._db.writing() as conn:
            conn.execute(
                t.runs.update()
                .where(t.runs.c.id == run_id)
                .values(status=status, finished_at=now, stats=json.loads(json.dumps(stats)))
            )

    def running_owners(self) -> set[str]:
        """Workers with a run still marked running: live ones, or ones that died mid-run."""
        with self._db.reading() as conn:
            rows = conn.execute(
                sa.select(t.runs.c.owner).where(t.runs.c.status == "running").distinct()
            ).scalars()
            return {owner for owner in rows if owner}

    def interrupt(self, owner: str) -> int:
        """Mark the runs a dead worker left running as ``interrupted``: killed, never finished."""
        with self._db.writing() as conn:
            result = conn.execute(
                t.runs.update()
                .where(t.runs.c.owner == owner, t.runs.c.status == "running")
                .values(status="interrupted")
            )
        return int(result.rowcount)

    def prune(self, before: datetime) -> int:
        """Forget runs that started before ``before``; a daemon records several a minute."""
        with self._db.writing() as conn:
            result = conn.execute(t.runs.delete().where(t.runs.c.started_at < before))
        return int(result.rowcount)

    def last(self, limit: int = 5) -> list[dict[str, Any]]:
        """The latest runs, newest first."""
        with self._db.reading() as conn:
            rows = conn.execute(sa.select(t.runs).order_by(t.runs.c.id.desc()).limit(limit)).all()
        return [dict(row._mapping) for row in rows]
