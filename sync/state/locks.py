"""Cluster-wide named locks: of N processes on one state database, one does a job at a time.

On PostgreSQL they are session advisory locks. On SQLite they are POSIX record locks on one
byte each of a file beside the database (``<state file>-locks``), so that a ``sync`` run beside
the daemon does not route, pull or write back what the daemon is doing: the work would not be
done twice (the outbox's keys see to that), but its API calls would. Record locks belong to the
process, so the threads of one daemon (a sibling engine, see ``Engine.sibling``) still share
them, as they did when every SQLite lock was granted.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from sync.state.database import Database, lock_key
from sync.state.files import sqlite_path

log = logging.getLogger(__name__)

#: Record locks take offsets up to this; a name's byte is its key modulo it.
_OFFSETS = 2**31 - 1


class Locks:
    """Named locks held while a job runs; see the module docstring."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._fd: int | None = None
        self._opened = False
        self._guard = threading.Lock()

    @contextmanager
    def singleton(self, name: str) -> Iterator[bool]:
        """Hold a cluster-wide lock named ``name`` while the block runs; yields False if taken.

        Of N replicas only one pulls a source or routes the inbox at a time; the others skip
        that work.
        """
        if self._db.dialect == "postgresql":
            with self._advisory(name) as got:
                yield got
            return
        fd = self._lock_file()
        if fd is None:  # an in-memory database, or no file can be made beside it
            yield True
            return
        offset = lock_key(name) % _OFFSETS
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, offset)
        except OSError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.lockf(fd, fcntl.LOCK_UN, 1, offset)

    @contextmanager
    def _advisory(self, name: str) -> Iterator[bool]:
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

    def _lock_file(self) -> int | None:
        """The descriptor of the lock file, opened once and kept: closing any descriptor of a
        file drops every record lock the process holds on it."""
        with self._guard:
            if not self._opened:
                self._opened = True
                path = sqlite_path(str(self._db.engine.url))
                if path is not None:
                    lock_path = path.with_name(f"{path.name}-locks")
                    try:
                        self._fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
                    except OSError as exc:
                        log.warning("cannot open %s (%s): jobs are not locked", lock_path, exc)
            return self._fd

    def close(self) -> None:
        """Release the lock file (when the store closes)."""
        with self._guard:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
