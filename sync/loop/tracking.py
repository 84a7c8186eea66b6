"""Ticket status tracking: which of our Zendesk tickets were solved, and which were reopened.

``track_tickets`` follows Zendesk's cursor-based incremental ticket export. Every ticket we
created carries its action key as ``external_id``, and a ticket we commented on is the
``external_id`` of the commenting action, so the export's tickets map back to our actions
without a lookup per ticket. The status of each ticket action lands in ``nps_ticket_status``
together with the export cursor (source ``zendesk:tickets``) in one transaction: a crash re-reads
at most one page, and re-reading a page changes nothing.

:class:`sync.state.TicketLedger` (``store.tickets``) holds the queries over our own ticket actions
that tracking, escalation and the Zendesk executor share.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial

from connectors.zendesk.records import ExportPage, TicketState
from sync.core.ports import TicketExport
from sync.loop.export_pause import exports_paused, reading_exports
from sync.loop.states import outcome_code
from sync.state import StateStore, TicketStatus

log = logging.getLogger(__name__)

CURSOR_SOURCE = "zendesk:tickets"
#: The first export starts this long before our first ticket action was routed.
START_MARGIN = timedelta(minutes=5)
#: Zendesk refuses a ``start_time`` less than a minute old.
MIN_START_AGE = timedelta(seconds=61)
SOLVED = frozenset({"solved", "closed"})


@dataclass
class TrackingStats:
    pages: int = 0
    #: Tickets in the pages read (everyone's), and those that belong to our actions.
    seen: int = 0
    tracked: int = 0
    #: Ticket actions whose ticket became solved (or closed), or was reopened after that.
    solved: int = 0
    reopened: int = 0
    #: True when the export had nothing more to give this pass.
    caught_up: bool = False


def record_page(
    store: StateStore,
    page: ExportPage,
    now: datetime,
    stats: TrackingStats,
    outcome_field_id: int | None = None,
) -> None:
    """Store the statuses of our tickets on ``page`` and the cursor after it, atomically."""
    tickets = {ticket.id: ticket for ticket in page.tickets}
    with store.transaction() as tx:
        owners = store.tickets.owners(((t.id, t.external_id) for t in tickets.values()), tx)
        keys = [key for ticket_keys in owners.values() for key in ticket_keys]
        before = store.tickets.statuses(keys, tx)
        statuses: list[TicketStatus] = []
        for ticket_id, ticket_keys in owners.items():
            ticket = tickets[ticket_id]
            stats.tracked += 1
            for key in ticket_keys:
                status = _next_status(key, ticket, before.get(key), now, stats)
                statuses.append(_with_loop_facts(status, ticket, outcome_field_id))
        store.tickets.save_statuses(statuses, now, tx)
        if page.after_cursor:
            store.cursors.set(CURSOR_SOURCE, page.after_cursor, now, tx)


def track_tickets(
    store: StateStore,
    helpdesk: TicketExport,
    now: datetime,
    *,
    max_pages: int = 5,
    loop_facts: bool = False,
    outcome_field_id: int | None = None,
) -> TrackingStats:
    """Read the incremental export from the stored cursor; record our tickets' statuses.

    Without a cursor, the export starts shortly before our first ticket action; with no ticket
    action yet there is nothing to follow and no request is made. With ``loop_facts`` the pages
    sideload the tickets' metric sets, and the first public agent reply and the loop outcome
    field (``outcome_field_id``) are recorded too, for the loop state of their responses.
    """
    stats = TrackingStats()
    cursor = store.cursors.get(CURSOR_SOURCE)
    start_time: int | None = None
    if cursor is None:
        first = store.tickets.first_ticket_action_at()
        if first is None:
            stats.caught_up = True
            return stats
        start_time = int(min(first - START_MARGIN, now - MIN_START_AGE).timestamp())
    while stats.pages < max_pages:
        if exports_paused(store, now):
            return stats  # told to wait: the next pass reads on
        if cursor is not None:
            read = partial(helpdesk.export_tickets, cursor=cursor, metrics=loop_facts)
        else:
            read = partial(helpdesk.export_tickets, start_time=start_time, metrics=loop_facts)
        page = reading_exports(store, now, read)
        stats.pages += 1
        stats.seen += len(page.tickets)
        record_page(store, page, now, stats, outcome_field_id)
        cursor = page.after_cursor or cursor
        if page.end_of_stream or not page.after_cursor:
            stats.caught_up = True
            break
    log.debug(  # the solved and reopened ones are in the run's own line
        "ticket tracking: %d pages, %d of our tickets, %d solved, %d reopened",
        stats.pages,
        stats.tracked,
        stats.solved,
        stats.reopened,
    )
    return stats


def _with_loop_facts(
    status: TicketStatus, ticket: TicketState, outcome_field_id: int | None
) -> TicketStatus:
    """The status with the ticket's first public agent reply, loop outcome field and, from its
    metric set, when it was solved."""
    outcome = None
    if outcome_field_id is not None:
        written = next((v for i, v in ticket.text_fields if i == outcome_field_id), None)
        outcome = outcome_code(written)
    # The metric set knows when the ticket was solved; the ticket's updated_at moves on with
    # every later comment or edit.
    solved_at = ticket.solved_at if status.solved_at and ticket.solved_at else status.solved_at
    return replace(
        status, first_reply_at=ticket.first_reply_at, outcome=outcome, solved_at=solved_at
    )


def _next_status(
    key: str, ticket: TicketState, before: TicketStatus | None, now: datetime, stats: TrackingStats
) -> TicketStatus:
    solved = ticket.status in SOLVED
    was_solved = before is not None and before.status in SOLVED
    solved_at = before.solved_at if before is not None else None
    reopened = before.reopened if before is not None else 0
    if solved and not was_solved:
        solved_at = ticket.updated_at or now
        stats.solved += 1
    elif not solved and was_solved:
        solved_at = None
        reopened += 1
        stats.reopened += 1
    return TicketStatus(
        action_key=key,
        ticket_id=ticket.id,
        status=ticket.status,
        ticket_updated_at=ticket.updated_at,
        solved_at=solved_at,
        reopened=reopened,
    )
