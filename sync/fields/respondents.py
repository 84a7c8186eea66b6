"""Stored responses as the insight analyses take them: one respondent per person and period.

Each person counts once per period, with their latest answer in it, so a contact who answered
three times does not weigh three times. The attributes are those of the account as matched for
that answer; support history is the person's tickets in the Zendesk mirror that were open when
they answered or created shortly before; Account fields an admin names
(``insights.segments.account_fields``) are read from Salesforce when the figures are made; the
themes are those the comment analysis stored for the response (``text`` in the config).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from insights.segments import Respondent, support_band, tenure_band, tickets_around
from sync.core.config.model import BUILT_IN_SEGMENTS
from sync.state import StoredResponse, TicketSpan

#: The attributes every respondent carries, in the order the command lists them.
ATTRIBUTES = BUILT_IN_SEGMENTS
#: Tickets created this long before an answer count in its support history even when solved.
RECENT_TICKETS = timedelta(days=30)
#: Account field values by account (the first 15 characters of its id), then by field name.
AccountValues = Mapping[str, Mapping[str, str]]
#: The stored comment themes of each analysed response, by (source, response id).
Themes = Mapping[tuple[str, str], Sequence[str]]


def _created(account: Mapping[str, Any]) -> date | None:
    value = account.get("created_date")
    return date.fromisoformat(str(value)[:10]) if value else None


def _person(row: StoredResponse) -> str:
    return row.contact_id or row.response.email.lower()


def latest_in_period(
    rows: Sequence[StoredResponse], *, start: datetime, end: datetime
) -> list[StoredResponse]:
    """Each person's latest response with ``start <= submitted < end``: calendar periods hold
    their first moment, so an answer given at midnight on the 1st is in that month."""
    latest: dict[str, StoredResponse] = {}
    for row in rows:
        at = row.response.created_at
        if not start <= at < end:
            continue
        seen = latest.get(_person(row))
        if seen is None or (at, row.response.response_id) > (
            seen.response.created_at,
            seen.response.response_id,
        ):
            latest[_person(row)] = row
    return [latest[key] for key in sorted(latest)]


def support_at(
    row: StoredResponse,
    history: Mapping[int, Sequence[TicketSpan]] | None,
    recent: timedelta = RECENT_TICKETS,
) -> int | None:
    """The respondent's tickets open when they answered or created ``recent`` before; None
    when support history is unknown (no mirror, or no Zendesk user)."""
    user = row.zendesk_user_id
    if history is None or user is None:
        return None
    spans = ((s.created_at, s.solved_at) for s in history.get(user, ()))
    return tickets_around(spans, row.response.created_at, recent)


def respondent(
    row: StoredResponse,
    *,
    at: date,
    tickets: int | None,
    account_values: AccountValues | None = None,
    themes: Themes | None = None,
) -> Respondent:
    """One stored response with its account's segment attributes as of ``at``, its support
    history (``tickets``, see :func:`support_at`), the named Account fields' values and its
    comment's themes (none when the comment was not analysed)."""
    account: Mapping[str, Any] = (row.match or {}).get("account") or {}
    created = _created(account)
    owner = account.get("owner_name") or account.get("owner_email") or ""
    fields = (account_values or {}).get((row.account_id or "")[:15], {})
    return Respondent(
        score=row.response.score,
        account_id=row.account_id or "",
        arr=float(account.get("arr") or 0.0),
        attributes={
            **fields,
            "tier": str(account.get("tier") or ""),
            "industry": str(account.get("industry") or ""),
            "region": str(account.get("region") or ""),
            "tenure": tenure_band((at - created).days if created else None),
            "support": support_band(tickets),
            "owner": str(owner),
        },
        themes=frozenset((themes or {}).get((row.response.source, row.response.response_id), ())),
    )


def respondents(
    rows: Sequence[StoredResponse],
    *,
    start: datetime,
    end: datetime,
    history: Mapping[int, Sequence[TicketSpan]] | None = None,
    recent: timedelta = RECENT_TICKETS,
    account_values: AccountValues | None = None,
    themes: Themes | None = None,
) -> list[Respondent]:
    """The respondents of the period ``[start, end)``; ``history`` maps Zendesk user ids to
    their mirrored tickets (None: support history unknown)."""
    return [
        respondent(
            row,
            at=end.date(),
            tickets=support_at(row, history, recent),
            account_values=account_values,
            themes=themes,
        )
        for row in latest_in_period(rows, start=start, end=end)
    ]
