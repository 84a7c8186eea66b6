"""The engine of the state store and how repositories get a connection.

A repository method opens its own transaction, or joins the one its caller passes as ``conn``,
so that work spanning several aggregates (a routing decision, its intents and the write-back
queue) still commits or rolls back as one.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from sync.state.errors import statement_error
from sync.state.files import corruption_error, is_corruption


def create_engine(url: str) -> Engine:
    """An engine for a state database URL: SQLite in WAL mode, or PostgreSQL.

    ``hide_parameters``: a failed statement's error never carries the values bound to it (the
    emails and comments of responses), so neither a traceback nor a log line can print them.
    """
    if url.startswith("sqlite"):
        engine = sa.create_engine(
            url,
            connect_args={"timeout": 30, "check_same_thread": False},
            hide_parameters=True,
        )

        @sa.event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy, not the driver, decide when transactions start (see "begin").
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            try:
                cur.execute("PRAGMA journal_mode=WAL")
            except sqlite3.DatabaseError as exc:
                if is_corruption(exc):
                    raise corruption_error(url, exc) from None
                raise
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @sa.event.listens_for(engine, "handle_error")
        def _on_error(context: sa.engine.ExceptionContext) -> None:
            # A page found damaged in the middle of a pass: say so, not a driver traceback.
            if is_corruption(context.original_exception):
                raise corruption_error(url, context.original_exception) from None
            _raise_tier(url, context)

        @sa.event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            # A transaction that writes takes the write lock up front: no deadlock between two
            # upgrading readers. One that only reads (Database.reading) does not: in WAL mode it
            # never waits for a writer, so `status` answers while a pass writes.
            if conn.get_execution_options().get(READ_ONLY):
                conn.exec_driver_sql("BEGIN")
            else:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    engine = sa.create_engine(
        url, hide_parameters=True, connect_args={"prepare_threshold": NEVER_PREPARE}
    )
    _ping_when_idle(engine)

    @sa.event.listens_for(engine, "handle_error")
    def _on_server_error(context: sa.engine.ExceptionContext) -> None:
        _raise_tier(url, context)

    return engine


def _raise_tier(url: str, context: sa.engine.ExceptionContext) -> None:
    """A statement that failed because of the database itself (disk full, read-only, the
    connection lost) as the error of its tier (:func:`~sync.state.errors.statement_error`);
    a failed connect is left to the callers that sort those, a pool's ping to the pool."""
    if context.is_pre_ping or context.connection is None:  # connecting: sorted by the callers
        return
    error = statement_error(url, context.original_exception)
    if error is not None:
        raise error from None


#: psycopg prepares a statement on the server once it has run this many times on a connection.
#: A prepared statement soon runs on a generic plan, chosen once for any values, and kept until
#: the table's statistics change: a lookup of 100 ids planned while ``nps_responses`` held a few
#: hundred rows went on scanning every row of the source as the table grew (a first sync of
#: 10,000 spent 2.5 s of the server's time in it; the cost grows with the square of the
#: backlog). Single statements are therefore planned for their own values every time; an
#: executemany is still prepared (psycopg always prepares those), as its rows are written by
#: key, where the generic plan is the right one and saves planning each row.
NEVER_PREPARE = 2**31 - 1


#: A pooled PostgreSQL connection that sat unused this long is pinged before it is handed out.
IDLE_PING_SECONDS = 5.0


def _ping_when_idle(engine: Engine) -> None:
    """Check a pooled connection before use only when it sat idle (a daemon between passes, a
    server restarted meanwhile), not at every checkout: a pass checks connections out hundreds
    of times, and a ping each time was a round trip each. A connection that fails its ping is
    replaced by the pool; one lost while in use fails its statement as before."""

    @sa.event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < IDLE_PING_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:  # any failure: let the pool connect afresh
            raise sa.exc.DisconnectionError(f"stale state database connection: {exc}") from exc


#: The execution option that marks a SQLite connection as reading only (a deferred BEGIN).
READ_ONLY = "nps_read_only"


def lock_key(name: str) -> int:
    """A PostgreSQL advisory lock key (signed 64-bit) for a lock name."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class Database:
    """One engine shared by every repository of a store."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name

    @contextmanager
    def reading(
        self, conn: Connection | None = None, *, streamed: bool = False
    ) -> Iterator[Connection]:
        """``conn`` if given, else a new connection for reads.

        On PostgreSQL its statements run without a transaction around them: under READ
        COMMITTED each statement sees its own snapshot either way, and the BEGIN and ROLLBACK
        a transaction costs were two of a read's three round trips. ``streamed``: the caller
        streams results (``yield_per``), whose server-side cursors need a transaction."""
        if conn is not None:
            yield conn
            return
        with self.engine.connect() as own:
            if self.dialect == "postgresql" and not streamed:
                own.execution_options(isolation_level="AUTOCOMMIT")
            elif self.dialect == "sqlite":
                own.execution_options(**{READ_ONLY: True})
            yield own

    @contextmanager
    def writing(self, conn: Connection | None = None) -> Iterator[Connection]:
        """``conn`` if given (its caller commits), else a new transaction committed on exit."""
        if conn is not None:
            yield conn
            return
        with self.engine.begin() as own:
            yield own
