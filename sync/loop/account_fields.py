"""Loop figures per account, for the Account fields the ``write_back`` mapping names (pure).

They are ``nps-sync loop report``'s figures (:mod:`sync.loop.metrics`) over one account's
responses answered within ``loop.follow_for``, so an owner sees on the Account what the report
says about it:

- ``loop_open``: loops not ended yet (``open`` or ``contacted``);
- ``loop_past_sla``: those past a deadline they have not met (the report's "past SLA" list);
- ``loop_contacted_within_sla``: detractors first contacted within their SLA over detractors, in
  percent with one decimal (empty without detractors);
- ``loop_median_hours_to_contact``: median hours from a detractor's answer to its first contact,
  one decimal (empty when nobody was contacted);
- ``loop_last_outcome``: how the loop that ended last ended: ``Resolved``, ``Churn risk``,
  ``Not reachable``, ``No action needed`` or ``Closed without contact`` (empty before any end);
- ``loop_answered_again`` and ``loop_score_recovery``: the score recovery's count (detractors
  who answered again) and the mean of their next scores minus the mean of their scores, one
  decimal (empty without any).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sync.loop.metrics import LoopRecord, loop_metrics, overdue

#: How an ended loop ended, as the Account field shows it.
ENDINGS = {
    "resolved": "Resolved",
    "churn_risk": "Churn risk",
    "not_reachable": "Not reachable",
    "no_action_needed": "No action needed",
    "closed_without_contact": "Closed without contact",
}


def _one_decimal(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def loop_values(records: Sequence[LoopRecord], now: datetime) -> dict[str, Any]:
    """Metric key -> value of one account's responses (see the module docstring)."""
    m = loop_metrics(records, now)
    within = m.share(m.contacted_within_sla)
    ended = [r for r in records if r.ending is not None and r.ended_at is not None]
    last = max(ended, key=lambda r: (r.ended_at, r.source, r.response_id), default=None)
    recovery = m.recovery
    change = (
        recovery.mean_after - recovery.mean_before
        if recovery.mean_after is not None and recovery.mean_before is not None
        else None
    )
    return {
        "loop_open": sum(r.state in ("open", "contacted") for r in records),
        "loop_past_sla": len(overdue(records, now)),
        "loop_contacted_within_sla": None if within is None else round(100 * within, 1),
        "loop_median_hours_to_contact": _one_decimal(m.contact_hours_median),
        "loop_last_outcome": ENDINGS.get(last.ending or "", last.ending) if last else None,
        "loop_answered_again": recovery.pairs,
        "loop_score_recovery": _one_decimal(change),
    }


def loop_values_by_account(
    records: Sequence[LoopRecord], now: datetime
) -> dict[str, dict[str, Any]]:
    """:func:`loop_values` of each account the records were matched to."""
    by_account: dict[str, list[LoopRecord]] = defaultdict(list)
    for r in records:
        if r.account_id:
            by_account[r.account_id].append(r)
    return {account: loop_values(rows, now) for account, rows in by_account.items()}
