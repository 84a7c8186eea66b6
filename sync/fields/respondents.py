"""Stored responses as the insight analyses take them: one respondent per person and period.

Each person counts once per period, with their latest answer in it, so a contact who answered
three times does not weigh three times. The attributes are those of the account as matched for
that answer; support history is the person's unsolved tickets in the Zendesk mirror today.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from insights.segments import Respondent, support_band, tenure_band
from sync.state import StoredResponse

#: The attributes every respondent carries, in the order the command lists them.
ATTRIBUTES = ("tier", "industry", "region", "tenure", "support", "owner")


def _created(account: Mapping[str, Any]) -> date | None:
    value = account.get("created_date")
    return date.fromisoformat(str(value)[:10]) if value else None


def _person(row: StoredResponse) -> str:
    return row.contact_id or row.response.email.lower()


def latest_in_period(
    rows: Sequence[StoredResponse], *, start: datetime, end: datetime
) -> list[StoredResponse]:
    """Each person's latest response with ``start < submitted <= end``."""
    latest: dict[str, StoredResponse] = {}
    for row in rows:
        at = row.response.created_at
        if not start < at <= end:
            continue
        seen = latest.get(_person(row))
        if seen is None or (at, row.response.response_id) > (
            seen.response.created_at,
            seen.response.response_id,
        ):
            latest[_person(row)] = row
    return [latest[key] for key in sorted(latest)]


def respondent(row: StoredResponse, *, at: date, open_tickets: int | None) -> Respondent:
    """One stored response with its account's segment attributes as of ``at``."""
    account: Mapping[str, Any] = (row.match or {}).get("account") or {}
    created = _created(account)
    owner = account.get("owner_name") or account.get("owner_email") or ""
    return Respondent(
        score=row.response.score,
        account_id=row.account_id or "",
        arr=float(account.get("arr") or 0.0),
        attributes={
            "tier": str(account.get("tier") or ""),
            "industry": str(account.get("industry") or ""),
            "region": str(account.get("region") or ""),
            "tenure": tenure_band((at - created).days if created else None),
            "support": support_band(open_tickets),
            "owner": str(owner),
        },
    )


def respondents(
    rows: Sequence[StoredResponse],
    *,
    start: datetime,
    end: datetime,
    open_tickets: Mapping[int, int] | None = None,
) -> list[Respondent]:
    """The respondents of the period ``(start, end]``; ``open_tickets`` maps Zendesk user ids to
    their unsolved tickets (None: support history unknown)."""
    out = []
    for row in latest_in_period(rows, start=start, end=end):
        tickets = None
        if open_tickets is not None:
            user = row.zendesk_user_id
            tickets = open_tickets.get(user, 0) if user is not None else None
        out.append(respondent(row, at=end.date(), open_tickets=tickets))
    return out
