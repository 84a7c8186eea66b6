"""Loop deadlines (``loop.sla`` in the config) and the report's records built from the store.

An SLA entry applies to a response when all of its filters match: a ``rule`` the response
matched, its account ``tier``, its score ``category``. The first entry that applies counts. Its
deadlines run from when the customer answered, in business hours when it says so
(:mod:`sync.loop.calendar`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from connectors.models import category_of
from sync.core.config import LoopSla
from sync.loop.calendar import BusinessHours, deadline
from sync.loop.metrics import LoopRecord
from sync.state.loops import Loop, LoopFacts


@dataclass(frozen=True, slots=True)
class Deadlines:
    first_contact: datetime | None
    resolution: datetime | None


def applies(sla: LoopSla, rules: Sequence[str], tier: str | None, score: int) -> bool:
    if sla.rule is not None and sla.rule not in rules:
        return False
    if sla.tier is not None and (tier or "").casefold() != sla.tier.casefold():
        return False
    return sla.category is None or sla.category == category_of(score)


def deadlines(
    slas: Sequence[LoopSla],
    hours: BusinessHours,
    answered_at: datetime,
    rules: Sequence[str],
    tier: str | None,
    score: int,
) -> Deadlines | None:
    """The deadlines of the first SLA entry that applies; None when none does."""
    for sla in slas:
        if applies(sla, rules, tier, score):
            return Deadlines(
                _due(answered_at, sla.first_contact, sla.business_hours, hours),
                _due(answered_at, sla.resolution, sla.business_hours, hours),
            )
    return None


def escalation_moment(sla: LoopSla, due: datetime, hours: BusinessHours) -> datetime:
    """When a missed deadline ``due`` of ``sla`` escalates: ``escalate_before`` ahead of it,
    counted in business hours when the SLA counts them (an hour before Monday 09:30 is Friday
    16:30, not Monday 08:30 before anyone is in)."""
    if sla.business_hours:
        return hours.subtract(due, sla.escalate_before)
    return due - sla.escalate_before


def _due(
    answered_at: datetime, after: timedelta | None, business: bool, hours: BusinessHours
) -> datetime | None:
    return None if after is None else deadline(answered_at, after, business, hours)


def records(
    facts: Sequence[LoopFacts],
    slas: Sequence[LoopSla],
    hours: BusinessHours,
    teams: Mapping[tuple[str, str], str] | None = None,
) -> list[LoopRecord]:
    """The report's records: each response with its loop, owner, team (``teams``: the Zendesk
    group of its ticket), tier and deadlines."""
    out: list[LoopRecord] = []
    for f in facts:
        due = deadlines(slas, hours, f.answered_at, f.rules, f.tier, f.score)
        loop = f.loop
        out.append(
            LoopRecord(
                source=f.source,
                response_id=f.response_id,
                email=f.email,
                score=f.score,
                answered_at=f.answered_at,
                owner=f.owner or (loop.owner_id if loop and loop.owner_id else "(none)"),
                team=(teams or {}).get((f.source, f.response_id)) or "(none)",
                tier=f.tier or "(none)",
                rule=f.rules[0] if f.rules else "(none)",
                state=loop.state if loop else None,
                contacted_at=loop.contacted_at if loop else None,
                ended_at=loop.ended_at if loop else None,
                contact_due=due.first_contact if due else None,
                resolution_due=due.resolution if due else None,
                resurveyed=f.resurveyed,
                follows=f.follows,
                account_id=f.account_id,
                ending=_ending(loop),
            )
        )
    return out


def _ending(loop: Loop | None) -> str | None:
    """How an ended loop ended: ``resolved`` (or ``churn_risk``, resolved with that outcome), or
    why it closed without contact; None while it goes on."""
    if loop is None or loop.ended_at is None:
        return None
    if loop.state == "resolved":
        return "churn_risk" if loop.outcome == "churn_risk" else "resolved"
    return loop.reason or loop.state
