"""Cooldown bookkeeping, pure: which response holds a rule's cooldown for one key value.

A cooldown (``cooldown: {key: account.id, period: 14d}``) lets a rule act at most once per value
of its key within the period, measured between submission times. The engine keeps the claims in
its state store (:mod:`sync.loop.throttle` loads and saves a :class:`CooldownLedger`); ``rules
test`` keeps them in memory for the ``earlier`` responses of a case. Both decide with the same
:meth:`CooldownLedger.blocker`, so a case predicts what live routing does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from rules.router import Cooldown, RuleMatch


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
    """Claims per (rule, key value), extended as responses are routed; ``new`` lists the claims
    made since the ledger was filled, for the caller to store."""

    claims: dict[tuple[str, str], list[Claim]] = field(default_factory=dict)
    new: list[tuple[str, str, Claim]] = field(default_factory=list)

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
