"""What the insight commands read from the store: the respondents of a period and of the one
before it, each person once (see :mod:`sync.fields.respondents`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from insights.segments import Respondent
from sync.fields.respondents import latest_in_period, respondents
from sync.state import StateStore, StoredResponse


@dataclass(frozen=True, slots=True)
class Periods:
    """The respondents of ``(start, end]`` and of the period of the same length before it."""

    start: datetime
    end: datetime
    now: list[Respondent]
    before: list[Respondent]


def routed_rows(store: StateStore) -> list[StoredResponse]:
    """Every matched, routed response of an account, with its match."""
    _, accounts = store.inbox.routed_record_ids()
    return store.inbox.routed(account_ids=accounts)


def open_ticket_counts(store: StateStore, rows: list[StoredResponse]) -> dict[int, int] | None:
    """Unsolved tickets per respondent from the Zendesk mirror; None when the mirror never
    reached the end of its export (a partial mirror would read as "no ticket")."""
    if store.open_tickets.caught_up_at() is None:
        return None
    users = {r.zendesk_user_id for r in rows if r.zendesk_user_id is not None}
    return {user: len(t) for user, t in store.open_tickets.of_requesters(users).items()}


def periods(store: StateStore, *, start: datetime, end: datetime) -> Periods:
    """The respondents of the period and of the one before it."""
    rows = routed_rows(store)
    earlier = start - (end - start)
    wanted = latest_in_period(rows, start=earlier, end=end)
    tickets = open_ticket_counts(store, wanted)
    return Periods(
        start=start,
        end=end,
        now=respondents(rows, start=start, end=end, open_tickets=tickets),
        before=respondents(rows, start=earlier, end=start, open_tickets=tickets),
    )
