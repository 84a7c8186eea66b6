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

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from rules import Cooldown, Decision, RuleMatch, format_duration
from sync.state import CooldownClaim, StateStore


def settle_until(decision: Decision, submitted_at: datetime, now: datetime) -> datetime | None:
    """When a response that is still settling may be routed; None if it may be routed now.

    The longest settle delay among the matched rules counts, from the submission time.
    """
    delays = [match.settle for match in decision.matches if match.settle is not None]
    if not delays:
        return None
    until = submitted_at + max(delays)
    return until if until > now else None


def cooldown_value(value: object) -> str | None:
    """The text a cooldown key is stored as; None when the response has no value for it."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)[:300]


@dataclass(frozen=True, slots=True)
class CooldownKey:
    """A rule's cooldown and the value of its key for one response."""

    rule: str
    cooldown: Cooldown
    value: str


def cooldown_key(rule_match: RuleMatch, fields: Mapping[str, object]) -> CooldownKey | None:
    """The cooldown ``rule_match`` puts on this response; None: no cooldown, or no key value."""
    cooldown = rule_match.cooldown
    if cooldown is None:
        return None
    value = cooldown_value(fields.get(cooldown.field))
    return CooldownKey(rule_match.rule, cooldown, value) if value is not None else None


@dataclass(frozen=True, slots=True)
class Claim:
    """A response that acted under a rule's cooldown for one key value."""

    source: str
    response_id: str
    at: datetime


@dataclass
class CooldownLedger:
    """Claims for the (rule, key value) pairs of one batch, extended as the batch is routed."""

    claims: dict[tuple[str, str], list[Claim]] = field(default_factory=dict)
    new: list[tuple[str, str, Claim]] = field(default_factory=list)

    @classmethod
    def load(cls, store: StateStore, wanted: Iterable[tuple[str, str]]) -> CooldownLedger:
        """Read the stored claims of these (rule, key value) pairs."""
        ledger = cls()
        for stored in store.cooldowns.claims(wanted):
            claim = Claim(stored.source, stored.response_id, stored.at)
            ledger.claims.setdefault((stored.rule, stored.value), []).append(claim)
        return ledger

    def blocker(
        self, key: CooldownKey, source: str, response_id: str, at: datetime
    ) -> Claim | None:
        """The claim that keeps this response from acting under ``key``; None: it may act.

        A response never blocks itself: one that holds a claim may act again.
        """
        held = self.claims.get((key.rule, key.value), [])
        if any((c.source, c.response_id) == (source, response_id) for c in held):
            return None
        return next((c for c in held if abs(c.at - at) < key.cooldown.period), None)

    def claim(self, key: CooldownKey, source: str, response_id: str, at: datetime) -> None:
        """Record that this response acted under ``key`` (once)."""
        held = self.claims.setdefault((key.rule, key.value), [])
        if any((c.source, c.response_id) == (source, response_id) for c in held):
            return
        claim = Claim(source, response_id, at)
        held.append(claim)
        self.new.append((key.rule, key.value, claim))

    def save(self, store: StateStore, now: datetime) -> None:
        """Write the claims made since :meth:`load` (before the decisions that rely on them)."""
        if not self.new:
            return
        store.cooldowns.add(
            [
                CooldownClaim(rule, value, claim.source, claim.response_id, claim.at)
                for rule, value, claim in self.new
            ],
            now,
        )
        self.new.clear()


def describe_block(key: CooldownKey, claim: Claim) -> str:
    """The decision note of a response a cooldown held back."""
    return (
        f"cooldown: {key.cooldown.field}={key.value} acted on for response "
        f"{claim.source}/{claim.response_id} of {claim.at.isoformat()} "
        f"(one per {format_duration(key.cooldown.period)})"
    )
