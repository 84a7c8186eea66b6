"""A mirror of Zendesk's tickets: each requester's open tickets and when each ticket was open.

The customer context of a Task or ticket lists the respondent's unsolved tickets. Zendesk lists
them one requester per request (``users/{id}/tickets/requested``, after a ``show_many`` of their
counts), so a backlog could afford them for few respondents. The incremental ticket export lists
1,000 tickets a request: a mirror of the unsolved ones answers the context of a whole pass
locally (see :mod:`sync.loop.ticket_mirror`). Each page is stored with the export cursor after
it, so a crash re-reads at most one page, and re-reading a page changes nothing.

Solved and closed tickets stay with the time they were solved (their metric set's
``solved_at``, else their last update), so :meth:`OpenTicketMirror.history` can tell which
tickets a respondent had open, or had opened lately, when they answered. Those solved more than
:data:`HISTORY_DAYS` ago are dropped; deleted tickets go at once.

The cursor lives in ``nps_cursors`` (source ``zendesk:open-tickets``), and so does the time the
export last had nothing more to give (``zendesk:open-tickets:caught-up``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

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
#: Solved tickets are kept this long after they were solved: the insight commands look back a
#: year, and a year-old answer's support history reaches some weeks before it.
HISTORY_DAYS = 400


@dataclass(frozen=True, slots=True)
class TicketSpan:
    """When a ticket was created and solved (None: still unsolved)."""

    created_at: datetime
    solved_at: datetime | None


class OpenTicketMirror:
    """The ``nps_zendesk_open_tickets`` table: tickets by requester, unsolved ones without a
    ``solved_at``."""

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
        """Store one export page and the cursor after it, atomically: tickets are added or
        replaced, solved ones with when they were solved, deleted ones removed, and those solved
        before the history's horizon dropped."""
        page = {ticket.id: ticket for ticket in tickets}  # the latest state of each
        horizon = now - timedelta(days=HISTORY_DAYS)
        kept = [x for x in page.values() if _kept(x, horizon)]
        gone = sorted(page.keys() - {x.id for x in kept})
        rows = [
            {
                "id": x.id,
                "requester_id": x.requester_id,
                "subject": x.subject[:SUBJECT_CHARS] if x.unsolved else "",
                "created_at": x.created_at,
                "solved_at": None if x.unsolved else _solved_at(x, now),
            }
            for x in kept
        ]
        o = t.zendesk_open_tickets
        with self._db.writing() as db:
            for chunk in chunks(gone):
                db.execute(o.delete().where(o.c.id.in_(chunk)))
            for rows_chunk in chunks(rows):
                db.execute(upsert(db, o, ["id"]), rows_chunk)
            db.execute(o.delete().where(o.c.solved_at < horizon))
            if after_cursor:
                self._cursors.set(CURSOR_SOURCE, after_cursor, now, db)
            if caught_up:
                self._cursors.set(CAUGHT_UP_SOURCE, now.isoformat(), now, db)

    def history(
        self, user_ids: Iterable[int], *, without_ours: bool = False
    ) -> dict[int, list[TicketSpan]]:
        """Each of these users' mirrored tickets with a creation time, oldest first; every user
        is in the answer, with an empty list when they have none. ``without_ours`` leaves out
        the NPS tickets nps-sync made or commented on (those status tracking follows): a
        detractor's ticket from an earlier answer is no support ticket of theirs."""
        wanted = sorted({int(u) for u in user_ids})
        found: dict[int, list[TicketSpan]] = {u: [] for u in wanted}
        o, ours = t.zendesk_open_tickets, t.ticket_status
        with self._db.reading() as db:
            for chunk in chunks(wanted):
                query = (
                    sa.select(o.c.requester_id, o.c.created_at, o.c.solved_at)
                    .where(o.c.requester_id.in_(chunk), o.c.created_at.is_not(None))
                    .order_by(o.c.requester_id, o.c.created_at, o.c.id)
                )
                if without_ours:
                    query = query.where(~sa.exists().where(ours.c.ticket_id == o.c.id))
                rows = db.execute(query).all()
                for row in rows:
                    found[int(row.requester_id)].append(TicketSpan(row.created_at, row.solved_at))
        return found

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
                    .where(o.c.requester_id.in_(chunk), o.c.solved_at.is_(None))
                    .order_by(o.c.requester_id, o.c.id)
                ).all()
                for row in rows:
                    listed = found[int(row.requester_id)]
                    if len(listed) < PER_REQUESTER:
                        listed.append(OpenTicket(int(row.id), row.subject))
        return found


def _kept(ticket: TicketState, horizon: datetime) -> bool:
    """Whether the mirror keeps this ticket: it has a requester, is not deleted, and is unsolved
    or was solved after ``horizon``."""
    if ticket.requester_id is None or ticket.status == "deleted":
        return False
    solved = ticket.solved_at or ticket.updated_at
    return ticket.unsolved or solved is None or solved >= horizon


def _solved_at(ticket: TicketState, now: datetime) -> datetime:
    """When a solved ticket was solved: its metric set's time, else its last update (no earlier
    than the solve), else now."""
    return ticket.solved_at or ticket.updated_at or now
