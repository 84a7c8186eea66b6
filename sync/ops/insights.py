"""What the insight commands read: from the store, the respondents of a period and of the one
before it, each person once (see :mod:`sync.fields.respondents`) with their support history as
of their answer, and every account's dated answers; from Salesforce, those accounts'
opportunities and the values of the Account fields an admin segments by."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from connectors.models import Opportunity
from insights.loops import FollowUp, follow_ups
from insights.revenue import Answer, Deal, DealKind
from insights.segments import Respondent
from insights.trend import Every, Period, periods_between
from sync.core.ports import AccountValues, OpportunityCrm
from sync.core.retry import RetryPolicy
from sync.fields.respondents import (
    RECENT_TICKETS,
    latest_in_period,
    respondents,
)
from sync.fields.respondents import (
    AccountValues as ValuesByAccount,
)
from sync.state import StateStore, StoredResponse, TicketSpan


@dataclass(frozen=True, slots=True)
class Periods:
    """The respondents of ``[start, end)`` and of the period of the same length before it."""

    start: datetime
    end: datetime
    now: list[Respondent]
    before: list[Respondent]
    #: Some comment of either period was analysed for themes (``text`` in the config).
    themes: bool = False


def routed_rows(store: StateStore) -> list[StoredResponse]:
    """Every matched, routed response of an account, with its match."""
    _, accounts = store.inbox.routed_record_ids()
    return store.inbox.routed(account_ids=accounts)


def support_history(
    store: StateStore, rows: Sequence[StoredResponse]
) -> dict[int, list[TicketSpan]] | None:
    """The mirrored tickets of each respondent's Zendesk user; None when the mirror never
    reached the end of its export (a partial mirror would read as "no ticket")."""
    if store.open_tickets.caught_up_at() is None:
        return None
    return store.open_tickets.history(
        r.zendesk_user_id for r in rows if r.zendesk_user_id is not None
    )


def account_values(
    crm: AccountValues,
    retry: RetryPolicy,
    account_ids: Iterable[str],
    fields: Sequence[str],
) -> ValuesByAccount:
    """The values of Account ``fields`` of these accounts (none asked: none read)."""
    accounts = sorted(set(account_ids))
    if not fields or not accounts:
        return {}
    return retry.call(partial(crm.account_values, accounts, list(fields)))


def periods(
    store: StateStore,
    *,
    start: datetime,
    end: datetime,
    recent: timedelta = RECENT_TICKETS,
    values: Callable[[list[str]], ValuesByAccount] | None = None,
) -> Periods:
    """The respondents of the period and of the one before it; ``values`` reads the Account
    field values of the respondents' accounts (None: no Account field is segmented by)."""
    rows = routed_rows(store)
    earlier = start - (end - start)
    wanted = latest_in_period(rows, start=earlier, end=end)
    history = support_history(store, wanted)
    found = values([r.account_id for r in wanted if r.account_id]) if values else None
    themes = comment_themes(store, since=earlier)

    def between(a: datetime, b: datetime) -> list[Respondent]:
        return respondents(
            rows,
            start=a,
            end=b,
            history=history,
            recent=recent,
            account_values=found,
            themes=themes,
        )

    return Periods(
        start=start,
        end=end,
        now=between(start, end),
        before=between(earlier, start),
        themes=bool(themes),
    )


def comment_themes(store: StateStore, *, since: datetime) -> dict[tuple[str, str], tuple[str, ...]]:
    """The stored themes of each response submitted since ``since`` whose comment was analysed
    (its latest analysed version); empty when none was."""
    return {(c.source, c.response_id): c.themes for c in store.comment_text.since(since)}


#: Opportunity types counted as renewals and as expansions unless the command says otherwise.
RENEWAL_TYPES = ("Renewal", "Existing Customer - Replacement")
EXPANSION_TYPES = ("Upsell", "Existing Customer - Upgrade")


@dataclass(frozen=True, slots=True)
class RevenueInputs:
    """Every answer of the accounts with a routed response, and their opportunities."""

    answers: list[Answer]
    deals: list[Deal]


def answers(rows: list[StoredResponse]) -> list[Answer]:
    """Each routed response of an account as a dated score of that account."""
    return [
        Answer(
            account_id=row.account_id,
            person=row.contact_id or row.response.email.lower(),
            score=row.response.score,
            at=row.response.created_at,
        )
        for row in rows
        if row.account_id
    ]


def deal(
    opportunity: Opportunity, *, renewal_types: Sequence[str], expansion_types: Sequence[str]
) -> Deal:
    """An opportunity as the revenue analysis reads it; its Type says what kind of deal."""
    kind: DealKind = (
        "renewal"
        if opportunity.type in renewal_types
        else "expansion"
        if opportunity.type in expansion_types
        else "other"
    )
    return Deal(
        id=opportunity.id,
        account_id=opportunity.account_id,
        kind=kind,
        amount=opportunity.amount,
        close_date=opportunity.close_date,
        closed=opportunity.is_closed,
        won=opportunity.is_won,
    )


def revenue_inputs(
    store: StateStore,
    crm: OpportunityCrm,
    retry: RetryPolicy,
    *,
    renewal_types: Sequence[str] = RENEWAL_TYPES,
    expansion_types: Sequence[str] = EXPANSION_TYPES,
) -> RevenueInputs:
    """The stored answers and, from Salesforce, the opportunities of the same accounts."""
    rows = routed_rows(store)
    scored = answers(rows)
    accounts = sorted({a.account_id for a in scored})
    found = retry.call(partial(crm.find_opportunities, accounts)) if accounts else []
    return RevenueInputs(
        answers=scored,
        deals=[
            deal(o, renewal_types=renewal_types, expansion_types=expansion_types) for o in found
        ],
    )


def loop_follow_ups(store: StateStore, *, since: datetime) -> list[FollowUp]:
    """Each detractor answered since ``since`` with the same person's next answer, and whether
    the detractor's loop was resolved."""
    return follow_ups(
        (f.email, f.answered_at, f.score, f.loop.state if f.loop else None)
        for f in store.loops.facts(since)
    )


def trend_periods(
    store: StateStore, *, start: datetime, end: datetime, every: Every
) -> list[Period]:
    """The respondents of each calendar period between ``start`` and ``end``."""
    rows = routed_rows(store)
    return [
        Period(a, b, respondents(rows, start=a, end=b))
        for a, b in periods_between(start, end, every)
    ]
