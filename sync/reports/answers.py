"""The answers the views are made of: each response with its account, owner and loop.

One read of the store per view: the responses answered in a window, as routing matched them
(account, owner, tier, ARR, renewal date), with their loop and the SLA deadlines that apply.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from connectors.models import category_of
from sync.core.config import Config
from sync.loop.calendar import BusinessHours
from sync.loop.metrics import LoopRecord
from sync.loop.sla import records
from sync.state import StateStore


@dataclass(frozen=True, slots=True)
class Answer:
    """One survey response with what the views say about it. ``comment`` is survey text
    (PII): it may be shown to the account's owner, never logged."""

    source: str
    response_id: str
    email: str
    person_name: str
    score: int
    comment: str
    answered_at: datetime
    account_id: str | None = None
    account_name: str = ""
    tier: str = ""
    industry: str = ""
    region: str = ""
    arr: float | None = None
    renewal_date: date | None = None
    #: The account owner's email (the key of the frontline list) and display name.
    owner_email: str = ""
    owner_name: str = ""
    #: The loop and its deadlines (as ``nps-sync loop report`` reads them).
    loop: LoopRecord | None = None
    #: The comment's themes (None: the comment was not analysed; ``text`` in the config).
    themes: tuple[str, ...] | None = None
    #: Values of the Account fields segmented by (``insights.segments.account_fields``), read
    #: from Salesforce when the view is made.
    fields: Mapping[str, str] = field(default_factory=dict)

    @property
    def category(self) -> str:
        return category_of(self.score)

    @property
    def owner(self) -> str:
        return self.owner_email or self.owner_name or "(none)"


def latest_each(answers: Sequence[Answer]) -> list[Answer]:
    """Each person's latest answer among ``answers``: someone who answered three times in a
    month is one respondent of that month, as the NPS of a relationship survey counts them."""
    latest: dict[str, Answer] = {}
    for a in answers:
        key = a.email.lower()
        kept = latest.get(key)
        if kept is None or (a.answered_at, a.response_id) > (kept.answered_at, kept.response_id):
            latest[key] = a
    return list(latest.values())


def gather(store: StateStore, config: Config, since: datetime) -> list[Answer]:
    """Every response answered since ``since``, matched or not, oldest first."""
    from zoneinfo import ZoneInfo

    bh = config.business_hours
    hours = BusinessHours(ZoneInfo(bh.timezone), bh.start_hour, bh.end_hour)
    loops = {
        (r.source, r.response_id): r
        for r in records(store.loops.facts(since), config.loop.sla, hours)
    }
    themes = {(c.source, c.response_id): c.themes for c in store.comment_text.since(since)}
    answers: list[Answer] = []
    for stored in store.inbox.since(since):
        r = stored.response
        account = _mapping(_mapping(stored.match).get("account"))
        answers.append(
            Answer(
                source=r.source,
                response_id=r.response_id,
                email=r.email.lower(),
                person_name=r.person_name,
                score=r.score,
                comment=r.comment,
                answered_at=_utc(r.created_at),
                account_id=stored.account_id,
                account_name=str(account.get("name") or ""),
                tier=str(account.get("tier") or ""),
                industry=str(account.get("industry") or ""),
                region=str(account.get("region") or ""),
                arr=float(account["arr"]) if account.get("arr") is not None else None,
                renewal_date=_date(account.get("renewal_date")),
                owner_email=str(account.get("owner_email") or "").lower(),
                owner_name=str(account.get("owner_name") or ""),
                loop=loops.get((r.source, r.response_id)),
                themes=themes.get((r.source, r.response_id)),
            )
        )
    return answers


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def with_account_values(
    answers: Sequence[Answer], values: Mapping[str, Mapping[str, str]]
) -> list[Answer]:
    """The answers with their account's field values (``values`` by 15-character account key)."""
    from dataclasses import replace

    return [replace(a, fields=values.get((a.account_id or "")[:15], {})) for a in answers]


def analysed(answers: Sequence[Answer]) -> bool:
    """Some of the answers' comments were analysed for themes."""
    return any(a.themes is not None for a in answers)


def owners(answers: Sequence[Answer]) -> list[str]:
    """The owners with at least one answer, sorted."""
    return sorted({a.owner_email for a in answers if a.owner_email})
