"""A mirror of Zendesk's users: who has which email and external id, kept from the export.

Zendesk finds users by email only one search request per address, and most respondents are
not in Zendesk at all. The incremental user export lists 1,000 users a request, so a mirror
of it answers every email and external id lookup of a pass locally (see
:mod:`sync.loop.user_mirror`). Each page is stored together with the export cursor after it:
a crash re-reads at most one page, and re-reading a page changes nothing.

The cursor lives in ``nps_cursors`` (source ``zendesk:users``), and so does the time the export
last had nothing more to give (``zendesk:users:caught-up``): lookups trust the mirror only
while that time is recent.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from connectors.models import MAX_EMAIL_CHARS, ZendeskUser
from connectors.zendesk.records import ExportedUser
from sync.state import schema as t
from sync.state.database import Database
from sync.state.dialect import chunks, upsert
from sync.state.runs import Cursors

CURSOR_SOURCE = "zendesk:users"
CAUGHT_UP_SOURCE = "zendesk:users:caught-up"


class ZendeskUsers:
    """The ``nps_zendesk_users`` table; emails and external ids are stored lower-case."""

    def __init__(self, db: Database, cursors: Cursors) -> None:
        self._db = db
        self._cursors = cursors

    # -- the export's position -----------------------------------------------------------------
    def cursor(self) -> str | None:
        """Where the export resumes (None: it never started)."""
        return self._cursors.get(CURSOR_SOURCE)

    def caught_up_at(self) -> datetime | None:
        """When the export last reached its end (None: it never did, the mirror is partial)."""
        value = self._cursors.get(CAUGHT_UP_SOURCE)
        return datetime.fromisoformat(value) if value else None

    def save_page(
        self,
        users: Iterable[ExportedUser],
        after_cursor: str | None,
        now: datetime,
        *,
        caught_up: bool,
    ) -> None:
        """Store one export page and the cursor after it, atomically: active users are
        added or replaced, deleted ones removed."""
        page = list(users)
        # An address longer than any respondent's can match none of them.
        active = {u.id: u for u in page if u.active and 0 < len(u.email) <= MAX_EMAIL_CHARS}
        gone = sorted({u.id for u in page} - active.keys())
        rows = [
            {
                "id": u.id,
                "email": u.email.lower(),
                "external_id": u.external_id.lower() if len(u.external_id) <= 255 else "",
                "organization_id": u.organization_id,
                "name": u.name[:255],
            }
            for u in active.values()
        ]
        z = t.zendesk_users
        with self._db.writing() as db:
            for chunk in chunks(gone):
                db.execute(z.delete().where(z.c.id.in_(chunk)))
            for rows_chunk in chunks(rows):
                db.execute(upsert(db, z, ["id"]), rows_chunk)
            if after_cursor:
                self._cursors.set(CURSOR_SOURCE, after_cursor, now, db)
            if caught_up:
                self._cursors.set(CAUGHT_UP_SOURCE, now.isoformat(), now, db)

    # -- lookups -------------------------------------------------------------------------------
    def by_emails(
        self, emails: Iterable[str], conn: Connection | None = None
    ) -> dict[str, ZendeskUser]:
        """The users with these emails (lower case); the oldest when several share one."""
        wanted = sorted({e.lower() for e in emails if e})
        return self._find(t.zendesk_users.c.email, wanted, conn)

    def by_external_ids(
        self, external_ids: Iterable[str], conn: Connection | None = None
    ) -> dict[str, ZendeskUser]:
        """The users with these external ids, keyed by the lower-case external id."""
        wanted = sorted({x.lower() for x in external_ids if x})
        return self._find(t.zendesk_users.c.external_id, wanted, conn)

    def _find(
        self, column: sa.Column[str], wanted: list[str], conn: Connection | None
    ) -> dict[str, ZendeskUser]:
        z = t.zendesk_users
        found: dict[str, ZendeskUser] = {}
        with self._db.reading(conn) as db:
            for chunk in chunks(wanted):
                rows = db.execute(
                    sa.select(z.c.id, column.label("key"), z.c.email, z.c.organization_id, z.c.name)
                    .where(column.in_(chunk))
                    .order_by(z.c.id.desc())
                ).all()
                for row in rows:  # newest first: the oldest user of a key is written last
                    found[row.key] = ZendeskUser(
                        id=int(row.id),
                        email=row.email,
                        name=row.name,
                        organization_id=int(row.organization_id) if row.organization_id else None,
                    )
        return found

    def count(self) -> int:
        with self._db.reading() as db:
            total = db.execute(sa.select(sa.func.count()).select_from(t.zendesk_users)).scalar()
        return int(total or 0)
