"""Throttles on routing: per-rule cooldowns and settle delays.

A **cooldown** (``cooldown: {key: account.id, period: 14d}``) lets a rule act at most once per
value of its key within the period. Each response that acts under a cooldown *claims* its key
value in ``nps_cooldowns`` (only when the rule produced an action for it: a response whose
ticket could not be made, say for want of a Zendesk requester, does not hold the account back);
another response of the same rule and key value submitted within the period of a claim is
skipped, with a note in its decision. The period is measured between
submission times, not routing times, so a backfill of last year's responses and a replay give the
same answer as live routing did. A response that holds a claim keeps it: when it is routed again
(an edited version) it acts again, and its actions' idempotency keys keep that from repeating
anything. Claims are written before the routing decision, so a crash in between leaves a claim
its own response will hold, never a lost one.

A **settle** delay (``settle: 15m``) waits for the comment that often follows the score: a
response younger than the delay of a rule it matches is deferred until then instead of routed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from rules import Decision, format_duration
from rules.throttle import Claim, CooldownKey, CooldownLedger, cooldown_key, cooldown_value
from sync.state import CooldownClaim, StateStore

__all__ = [
    "Claim",
    "CooldownKey",
    "CooldownLedger",
    "cooldown_key",
    "cooldown_value",
    "describe_block",
    "load_ledger",
    "save_ledger",
    "settle_until",
]


def settle_until(decision: Decision, submitted_at: datetime, now: datetime) -> datetime | None:
    """When a response that is still settling may be routed; None if it may be routed now.

    The longest settle delay among the matched rules counts, from the submission time.
    """
    delays = [match.settle for match in decision.matches if match.settle is not None]
    if not delays:
        return None
    until = submitted_at + max(delays)
    return until if until > now else None


def load_ledger(
    store: StateStore,
    wanted: Iterable[tuple[str, str]],
    between: tuple[datetime, datetime] | None = None,
) -> CooldownLedger:
    """A ledger holding the stored claims of these (rule, key value) pairs (with ``between``,
    those of answers given strictly inside that span)."""
    ledger = CooldownLedger()
    for stored in store.cooldowns.claims(wanted, between=between):
        claim = Claim(stored.source, stored.response_id, stored.at)
        ledger.claims.setdefault((stored.rule, stored.value), []).append(claim)
    return ledger


def save_ledger(ledger: CooldownLedger, store: StateStore, now: datetime) -> None:
    """Write the claims made since :func:`load_ledger` (before the decisions that rely on them)."""
    if not ledger.new:
        return
    store.cooldowns.add(
        [
            CooldownClaim(rule, value, claim.source, claim.response_id, claim.at)
            for rule, value, claim in ledger.new
        ],
        now,
    )
    ledger.new.clear()


def describe_block(key: CooldownKey, claim: Claim) -> str:
    """The decision note of a response a cooldown held back."""
    return (
        f"cooldown: {key.cooldown.field}={key.value} acted on for response "
        f"{claim.source}/{claim.response_id} of {claim.at.isoformat()} "
        f"(one per {format_duration(key.cooldown.period)})"
    )
