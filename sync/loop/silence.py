"""Silence is a signal: key accounts nobody has answered for get a Task for their owner.

Key accounts are those ``loop.silence`` names (a tier, an ARR floor or an Account checkbox). One
that has had no response from anyone for ``after`` (or never had one) gets a "lack of response"
Task for its owner, at most once per ``period``: the Task's key names the account and the period
(counted from the Unix epoch), so a second look in the same period queues nothing new, and the
Task is created once like any other (by its key). Planned by the nightly reconcile.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from connectors.models import Account
from sync.core.config import LoopSilence
from sync.core.ports import KeyAccounts
from sync.core.retry import RetryPolicy
from sync.state import ActionIntent, StateStore
from sync.state.outbox import ORDINARY

#: The outbox kind of these Tasks: Salesforce Tasks without a response's context.
KIND = "silence_task"
SOURCE = "silence"


@dataclass(frozen=True, slots=True)
class SilenceStats:
    key_accounts: int = 0
    silent: int = 0
    queued: int = 0


def period_of(now: datetime, silence: LoopSilence) -> int:
    return math.floor(now.timestamp() / silence.period.total_seconds())


def silence_key(account_id: str, period: int) -> str:
    return hashlib.sha256(f"silence\x1f{account_id}\x1f{period}".encode()).hexdigest()[:40]


def silence_intents(
    accounts: Sequence[Account],
    last_answers: Mapping[str, datetime],
    silence: LoopSilence,
    now: datetime,
) -> list[ActionIntent]:
    """One Task per silent key account with an owner, keyed by account and period."""
    period = period_of(now, silence)
    days = silence.after.days
    intents: list[ActionIntent] = []
    for account in accounts:
        last = last_answers.get(account.id) or last_answers.get(account.id[:15])
        if (
            last is not None and now - last.astimezone(UTC) < silence.after
        ) or not account.owner_id:
            continue
        since = f"since {last:%Y-%m-%d}" if last is not None else "yet"
        facts = [f"tier {account.tier}" if account.tier else "", f"ARR {account.arr:,.0f}"]
        description = (
            f"Nobody at {account.name} has answered an NPS survey {since} "
            f"({', '.join(f for f in facts if f)}). A key account that stops answering is a "
            "risk of its own: check in with them and ask how things are going."
        )
        intents.append(
            ActionIntent(
                key=silence_key(account.id, period),
                source=SOURCE,
                response_id=account.id,
                rule="loop.silence",
                action="lack_of_response",
                kind=KIND,
                payload={
                    "subject": f"No NPS answer from {account.name} in {days}+ days",
                    "description": description,
                    "owner_id": account.owner_id,
                    "what_id": account.id,
                    "who_id": None,
                    "due_in_seconds": int(silence.due_in.total_seconds()),
                    "priority": silence.priority,
                },
                ruleset_hash="",
                priority=ORDINARY,
            )
        )
    return intents


def plan_silence(
    store: StateStore, crm: KeyAccounts, retry: RetryPolicy, silence: LoopSilence, now: datetime
) -> SilenceStats:
    """Queue this period's Tasks for the silent key accounts."""
    if not silence.enabled:
        return SilenceStats()
    accounts = retry.call(
        lambda: crm.key_accounts(
            tiers=silence.tiers, min_arr=silence.min_arr, flag_field=silence.flag_field
        )
    )
    last = store.loops.last_answers([a.id for a in accounts] + [a.id[:15] for a in accounts])
    intents = silence_intents(accounts, last, silence, now)
    queued = store.outbox.enqueue(intents, now) if intents else 0
    return SilenceStats(len(accounts), len(intents), queued)
