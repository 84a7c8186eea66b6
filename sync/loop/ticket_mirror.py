"""Keeping the mirror of Zendesk's unsolved tickets current, once a pass, from the export.

``refresh_open_tickets`` reads Zendesk's cursor-based incremental ticket export on from the
stored cursor (from the very first ticket on the first run), at most ``max_pages`` requests of
1,000 tickets, and stores each page with the cursor after it
(:class:`sync.state.OpenTicketMirror`). A usual pass reads one page: the tickets changed since
the last one. Until the export reached its end once, and whenever it has not recently
(``zendesk.tickets.context_max_age_minutes``), :class:`OpenTicketDirectory` is not ready and the
context asks Zendesk per requester as before.

The mirror is as fresh as the pass's start: a ticket solved since then still shows in a
context written in this pass, one opened since does not yet.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from connectors.zendesk.records import OpenTicket, TicketState
from sync.core.ports import TicketExport
from sync.loop.export_mirror import MirrorStats, Page, follow_export
from sync.state import StateStore

log = logging.getLogger(__name__)


def refresh_open_tickets(
    store: StateStore, helpdesk: TicketExport, now: datetime, *, max_pages: int = 3
) -> MirrorStats:
    """Read the export on from the stored cursor, ``max_pages`` requests at most (none while
    the exports were told to wait, :mod:`sync.loop.export_pause`)."""

    def read(cursor: str | None) -> Page[TicketState]:
        # The metric sets tell when each solved ticket was solved, for support history.
        if cursor is not None:
            page = helpdesk.export_tickets(cursor=cursor, metrics=True)
        else:  # every ticket there is
            page = helpdesk.export_tickets(start_time=0, metrics=True)
        return Page(page.tickets, page.after_cursor, page.end_of_stream)

    stats = follow_export(store, store.open_tickets, read, now, max_pages=max_pages)
    log.debug("open-ticket mirror: %d pages, %d tickets", stats.pages, stats.seen)
    return stats


class OpenTicketDirectory:
    """Requesters' unsolved tickets from the mirror, as the customer context asks for them."""

    def __init__(self, store: StateStore) -> None:
        self.store = store

    def ready(self, now: datetime, max_age: timedelta) -> bool:
        """Whether the export reached its end within ``max_age``."""
        caught_up = self.store.open_tickets.caught_up_at()
        return caught_up is not None and now - caught_up <= max_age

    def open_tickets(
        self, user_ids: Iterable[int], *, until: float | None = None
    ) -> dict[int, list[OpenTicket]]:
        """Every user's unsolved tickets (an empty list for none); no request, so ``until``
        never cuts the answer short."""
        return self.store.open_tickets.of_requesters(user_ids)
