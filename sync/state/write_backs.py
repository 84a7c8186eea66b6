"""The write-back queue: contacts and accounts whose NPS fields must be recomputed and written.

Each entry carries a generation that queueing it again bumps, so a write-back that ran on older
data never clears newer work.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sync.state import schema as t
from sync.state.batched import BatchStatement
from sync.state.database import Database
from sync.state.dialect import insert_for


@dataclass(frozen=True, slots=True)
class QueuedWriteBacks:
    """Contacts and accounts waiting for a write-back: record id -> queue generation."""

    contacts: Mapping[str, int] = field(default_factory=dict)
    accounts: Mapping[str, int] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.contacts or self.accounts)

    def rows(self) -> list[dict[str, object]]:
        """Bind parameters of the entries, as the generation-guarded statements take them."""
        # In (kind, record id) order, as routing queues them: two transactions that lock the
        # same entries in one order cannot deadlock on PostgreSQL.
        return [
            {"b_kind": kind, "b_record_id": rid, "b_generation": gen}
            for kind, records in (("account", self.accounts), ("contact", self.contacts))
            for rid, gen in sorted(records.items())
        ]


class WriteBackQueue:
    """The ``nps_write_back_queue`` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def queue_records(
        self, records: Sequence[tuple[str, str]], now: datetime, conn: Connection | None = None
    ) -> None:
        """Queue (kind, record id) pairs; one queued already gets a new generation."""
        if not records:
            return
        rows = [
            {"kind": kind, "record_id": rid, "generation": 1, "attempts": 0, "marked_at": now}
            for kind, rid in sorted(set(records))  # one lock order (see QueuedWriteBacks.rows)
        ]
        with self._db.writing(conn) as db:
            _QUEUE.execute(db, rows)

    def queue(
        self, *, contact_ids: Iterable[str] = (), account_ids: Iterable[str] = (), now: datetime
    ) -> None:
        """Ask for these contacts' and accounts' fields to be recomputed and written."""
        records = [("contact", c) for c in sorted(set(contact_ids))]
        records += [("account", a) for a in sorted(set(account_ids))]
        with self._db.writing() as conn:
            self.queue_records(records, now, conn)

    def queued(self) -> QueuedWriteBacks:
        """Everything waiting for a write-back, with the generation each was queued at."""
        q = t.write_back_queue
        with self._db.reading() as conn:
            rows = conn.execute(sa.select(q.c.kind, q.c.record_id, q.c.generation)).all()
        contacts = {r.record_id: r.generation for r in rows if r.kind == "contact"}
        accounts = {r.record_id: r.generation for r in rows if r.kind == "account"}
        return QueuedWriteBacks(contacts, accounts)

    def clear(self, done: QueuedWriteBacks) -> int:
        """Drop queue entries that were written; an entry queued again meanwhile stays."""
        rows = done.rows()
        if not rows:
            return 0
        with self._db.writing() as conn:
            result = conn.execute(t.write_back_queue.delete().where(_same_generation()), rows)
        return int(result.rowcount)

    def fail(self, failed: QueuedWriteBacks, *, max_attempts: int) -> int:
        """Count a failed write-back; entries failing ``max_attempts`` times are dropped.

        Returns how many were dropped (nightly reconciliation recomputes them). Entries queued
        again meanwhile are left alone: that new work deserves its own attempts.
        """
        q = t.write_back_queue
        rows = failed.rows()
        if not rows:
            return 0
        with self._db.writing() as conn:
            conn.execute(
                q.update().where(_same_generation()).values(attempts=q.c.attempts + 1), rows
            )
            dropped = conn.execute(q.delete().where(q.c.attempts >= max_attempts))
        return int(dropped.rowcount)


def _queue(backend: str) -> Any:
    """Queue a record, or give one queued already a new generation, for executemany."""
    q = t.write_back_queue
    stmt = insert_for(backend, q)
    return stmt.on_conflict_do_update(
        index_elements=["kind", "record_id"],
        set_={
            "generation": q.c.generation + 1,
            "attempts": 0,
            "marked_at": stmt.excluded.marked_at,
        },
    )


_QUEUE = BatchStatement(_queue)


def _same_generation() -> sa.ColumnElement[bool]:
    q = t.write_back_queue
    return sa.and_(
        q.c.kind == sa.bindparam("b_kind"),
        q.c.record_id == sa.bindparam("b_record_id"),
        q.c.generation == sa.bindparam("b_generation"),
    )
