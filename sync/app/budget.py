"""The Salesforce API budget of a run: how much of the org's daily allowance we may use.

The line itself is drawn in the connector (:class:`connectors.salesforce.limits.ApiReserve`):
before every call or Bulk job it compares the usage Salesforce last reported in
``Sforce-Limit-Info`` with ``(1 - reserve) * allowance`` and refuses with a
:class:`~connectors.errors.DeferError` once it is reached. The stages treat that like any
"not now": responses not yet matched stay pending, claimed actions are parked until the next run,
contacts and accounts due for write-back stay due. This module says so in the run report: the
usage, the reserve and what was left for the next run.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sync.core.ports import BudgetedCrm
from sync.state import StateStore


@dataclass(frozen=True, slots=True)
class BudgetReport:
    """The API budget of one run, as the run report stores it."""

    reserve: float
    used: int | None
    allowance: int | None
    stopped: bool
    #: What waits for the next run, when the run stopped at the reserve.
    deferred_responses: int = 0
    deferred_actions: int = 0
    deferred_write_backs: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        usage = (
            f"{self.used:,} of {self.allowance:,} daily API calls used"
            if self.used is not None and self.allowance is not None
            else "API usage unknown"
        )
        if not self.stopped:
            return f"{usage}; {self.reserve:.0%} kept in reserve"
        return (
            f"stopped at the API reserve ({usage}, {self.reserve:.0%} kept for other "
            f"integrations); left for the next run: {self.deferred_responses} responses to "
            f"match, {self.deferred_actions} Salesforce actions, {self.deferred_write_backs} "
            "records to write back"
        )


def budget_report(crm: BudgetedCrm, store: StateStore, now: datetime) -> BudgetReport:
    """The run's budget; what it deferred is counted from the store only when it stopped.

    Call it once at the end of each run: it takes the connector's stop, so the next run on the
    same connector starts clean.
    """
    usage = crm.usage
    stopped = crm.reserve.consume_stop() is not None
    report = BudgetReport(
        reserve=crm.reserve.reserve,
        used=usage.used if usage else None,
        allowance=usage.allowance if usage else None,
        stopped=stopped,
    )
    if not stopped:
        return report
    queued = store.write_backs.queued()
    pending = store.outbox.pending_counts()
    return BudgetReport(
        reserve=report.reserve,
        used=report.used,
        allowance=report.allowance,
        stopped=True,
        deferred_responses=store.inbox.pending_count(now),
        deferred_actions=sum(
            n for (kind, _), n in pending.items() if kind.startswith("salesforce")
        ),
        deferred_write_backs=len(queued.contacts) + len(queued.accounts),
    )
