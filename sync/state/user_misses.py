"""Emails Zendesk had no user for: a search's negative answer, remembered for a while.

Most respondents unknown to Zendesk stay unknown, and an exact email search costs one request
each. Remembering the "no such user" answer lets the next passes skip the search until it
expires (``zendesk.matching.remember_unknown_users_days``); creating the user forgets it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sync.state import schema as t
from sync.state.database import Database
from sync.state.dialect import chunks, upsert


class UserMisses:
    """The ``nps_zendesk_user_misses`` table; emails are stored lower-case."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def recent(
        self, emails: Iterable[str], since: datetime, conn: Connection | None = None
    ) -> set[str]:
        """The emails among these that Zendesk had no user for at ``since`` or later."""
        wanted = sorted({e.lower() for e in emails if e})
        m = t.zendesk_user_misses
        found: set[str] = set()
        with self._db.reading(conn) as db:
            for chunk in chunks(wanted):
                rows = db.execute(
                    sa.select(m.c.email).where(m.c.email.in_(chunk), m.c.checked_at >= since)
                ).all()
                found.update(row.email for row in rows)
        return found

    def remember(
        self, emails: Iterable[str], now: datetime, conn: Connection | None = None
    ) -> None:
        """Record that Zendesk has no user with these emails as of ``now``."""
        rows = [{"email": e, "checked_at": now} for e in sorted({e.lower() for e in emails if e})]
        if not rows:
            return
        with self._db.writing(conn) as db:
            for chunk in chunks(rows):
                db.execute(upsert(db, t.zendesk_user_misses, ["email"]), chunk)

    def forget(self, emails: Iterable[str], conn: Connection | None = None) -> None:
        """These emails have a user now (we created it): search them again when needed."""
        wanted = sorted({e.lower() for e in emails if e})
        m = t.zendesk_user_misses
        with self._db.writing(conn) as db:
            for chunk in chunks(wanted):
                db.execute(m.delete().where(m.c.email.in_(chunk)))

    def prune(self, before: datetime, conn: Connection | None = None) -> int:
        """Drop answers older than ``before`` (expired); returns how many."""
        m = t.zendesk_user_misses
        with self._db.writing(conn) as db:
            return int(db.execute(m.delete().where(m.c.checked_at < before)).rowcount or 0)
