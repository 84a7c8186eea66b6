"""A mirror of Zendesk's unsolved tickets: each requester's open tickets, kept from the export.

The customer context of a Task or ticket lists the respondent's unsolved tickets. Zendesk lists
them one requester per request (``users/{id}/tickets/requested``, after a ``show_many`` of their
counts), so a backlog could afford them for few respondents. The incremental ticket export lists
1,000 tickets a request: a mirror of the unsolved ones answers the context of a whole pass
locally (see :mod:`sync.loop.ticket_mirror`). Each page is stored with the export cursor after
it, so a crash re-reads at most one page, and re-reading a page changes nothing.

The cursor lives in ``nps_cursors`` (source ``zendesk:open-tickets``), and so does the time the
export last had nothing more to give (``zendesk:open-tickets:caught-up``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa

from connectors.zendesk.records import OpenTicket, TicketState
from sync.state import schema as t
from sync.state.database import Database
from sync.state.dialect import chunks, upsert
from sync.state.runs import Cursors

CURSOR_SOURCE = "zendesk:open-tickets"
CAUGHT_UP_SOURCE = "zendesk:open-tickets:caught-up"
#: Tickets per requester the context may list (``tickets/requested`` answers 100 a page).
PER_REQUESTER = 100
SUBJECT_CHARS = 255


class OpenTicketMirror:
    """The ``nps_zendesk_open_tickets`` table: unsolved tickets by requester."""

    def __init__(self, db: Database, cursors: Cursors) -> None:
        self._db = db
        self._cursors = cursors

    def cursor(self) -> str | None:
        """Where the export resumes (None: it never started)."""
        return self._cursors.get(CURSOR_SOURCE)

    def caught_up_at(self) -> datetime | None:
        """When the export last reached its end (None: it never did, the mirror is partial)."""
        value = self._cursors.get(CAUGHT_UP_SOURCE)
        return datetime.fromisoformat(value) if value else None

    def save_page(
        self,
        tickets: Iterable[TicketState],
        after_cursor: str | None,
        now: datetime,
        *,
        caught_up: bool,
    ) -> None:
        """Store one export page and the cursor after it, atomically: unsolved tickets are
        added or replaced, the others (solved, closed, deleted) removed."""
        page = {ticket.id: ticket for ticket in tickets}  # the latest state of each
        open_ = [x for x in page.values() if x.unsolved and x.requester_id is not None]
        gone = sorted(page.keys() - {x.id for x in open_})
        rows = [
            {"id": x.id, "requester_id": x.requester_id, "subject": x.subject[:SUBJECT_CHARS]}
            for x in open_
        ]
        o = t.zendesk_open_tickets
        with self._db.writing() as db:
            for chunk in chunks(gone):
                db.execute(o.delete().where(o.c.id.in_(chunk)))
            for rows_chunk in chunks(rows):
                db.execute(upsert(db, o, ["id"]), rows_chunk)
            if after_cursor:
                self._cursors.set(CURSOR_SOURCE, after_cursor, now, db)
            if caught_up:
                self._cursors.set(CAUGHT_UP_SOURCE, now.isoformat(), now, db)

    def of_requesters(self, user_ids: Iterable[int]) -> dict[int, list[OpenTicket]]:
        """Each of these users' unsolved tickets, oldest first (at most 100 each); every user
        is in the answer, with an empty list when they have none."""
        wanted = sorted({int(u) for u in user_ids})
        found: dict[int, list[OpenTicket]] = {u: [] for u in wanted}
        o = t.zendesk_open_tickets
        with self._db.reading() as db:
            for chunk in chunks(wanted):
                rows = db.execute(
                    sa.select(o.c.id, o.c.requester_id, o.c.subject)
                    .where(o.c.requester_id.in_(chunk))
                    .order_by(o.c.requester_id, o.c.id)
                ).all()
                for row in rows:
                    listed = found[int(row.requester_id)]
                    if len(listed) < PER_REQUESTER:
                        listed.append(OpenTicket(int(row.id), row.subject))
        return found
