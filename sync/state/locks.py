"""Cluster-wide named locks: of N replicas on one PostgreSQL database, one does a job at a time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from sync.state.database import Database, lock_key


class Locks:
    """Session advisory locks on PostgreSQL; SQLite serves one process, so there every lock is
    granted."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @contextmanager
    def singleton(self, name: str) -> Iterator[bool]:
        """Hold a cluster-wide lock named ``name`` while the block runs; yields False if taken.

        Of N replicas only one pulls a source or routes the inbox at a time; the others skip
        that work.
        """
        if self._db.dialect != "postgresql":
            yield True
            return
        key = lock_key(name)
        with self._db.engine.connect() as conn:
            got = bool(conn.execute(sa.select(sa.func.pg_try_advisory_lock(key))).scalar_one())
            conn.commit()
            try:
                yield got
            finally:
                if got:
                    conn.execute(sa.select(sa.func.pg_advisory_unlock(key)))
                    conn.commit()
