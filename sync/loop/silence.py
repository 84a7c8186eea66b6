"""Silence is a signal: key accounts nobody has answered for, or fewer and fewer people answer
for, get a Task for their owner.

Key accounts are those ``loop.silence`` names (a tier, an ARR floor or an Account checkbox). One
that has had no response from anyone for ``after`` (or never had one) gets a "lack of response"
Task for its owner. So does one whose **coverage fell** (with ``coverage_drop`` set): its
coverage in a window is the number of distinct people (by email) of the account who answered in
it; the last ``coverage_window`` up to now is compared with the window before it, and coverage
fell when it dropped by ``coverage_drop`` (a share) or more from at least
``coverage_min_previous`` respondents. Either way an account gets at most one such Task per
``period``: the Task's key names the account and the period (counted from the Unix epoch), so a
second look in the same period queues nothing new, and the Task is created once like any other
(by its key). Planned by the nightly reconcile.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

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


@dataclass(frozen=True, slots=True)
class Coverage:
    """Distinct respondents of an account in the window before and in the last one."""

    previous: int
    current: int

    @property
    def drop(self) -> float | None:
        """The share coverage fell by (negative: it grew); None without earlier respondents."""
        return (self.previous - self.current) / self.previous if self.previous else None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def coverage_by_account(
    answers: Iterable[tuple[str, str, datetime]], now: datetime, window: timedelta
) -> dict[str, Coverage]:
    """Each account's distinct respondents (by email) answering in ``(now - window, now]`` and
    in ``(now - 2 * window, now - window]``, from (account id, email, answered at)."""
    current: dict[str, set[str]] = defaultdict(set)
    previous: dict[str, set[str]] = defaultdict(set)
    for account_id, email, at in answers:
        age = now - _aware(at)
        if timedelta(0) <= age < window:
            current[account_id].add(email.lower())
        elif window <= age < 2 * window:
            previous[account_id].add(email.lower())
    return {
        account_id: Coverage(len(previous[account_id]), len(current[account_id]))
        for account_id in sorted(set(current) | set(previous))
    }


def coverage_fell(coverage: Coverage | None, silence: LoopSilence) -> bool:
    """Whether coverage fell by ``coverage_drop`` or more from enough respondents."""
    if silence.coverage_drop is None or coverage is None or coverage.drop is None:
        return False
    enough = coverage.previous >= silence.coverage_min_previous
    # a small tolerance: 10 down to 7 is a drop of 0.3 however the float rounds
    return enough and coverage.drop >= silence.coverage_drop - 1e-9


def _account_facts(account: Account) -> str:
    facts = [f"tier {account.tier}" if account.tier else "", f"ARR {account.arr:,.0f}"]
    return ", ".join(f for f in facts if f)


def _silent(account: Account, last: datetime | None, silence: LoopSilence) -> tuple[str, str]:
    since = f"since {last:%Y-%m-%d}" if last is not None else "yet"
    return (
        f"No NPS answer from {account.name} in {silence.after.days}+ days",
        f"Nobody at {account.name} has answered an NPS survey {since} "
        f"({_account_facts(account)}). A key account that stops answering is a "
        "risk of its own: check in with them and ask how things are going.",
    )


def _falling(account: Account, coverage: Coverage, silence: LoopSilence) -> tuple[str, str]:
    days = silence.coverage_window.days
    share = f"{coverage.drop or 0:.0%}"
    return (
        f"Fewer NPS answers from {account.name}: down {share} in {days} days",
        f"{coverage.current} people at {account.name} answered an NPS survey in the last "
        f"{days} days, against {coverage.previous} in the {days} days before ({share} fewer; "
        f"{_account_facts(account)}). A key account that stops answering is a risk of its "
        "own: check in with them and ask how things are going.",
    )


def silence_intents(
    accounts: Sequence[Account],
    last_answers: Mapping[str, datetime],
    silence: LoopSilence,
    now: datetime,
    coverage: Mapping[str, Coverage] | None = None,
) -> list[ActionIntent]:
    """One Task per silent key account, or one whose coverage fell, with an owner; keyed by
    account and period (one Task per account and period, for either reason)."""
    period = period_of(now, silence)
    intents: list[ActionIntent] = []
    for account in accounts:
        if not account.owner_id:
            continue
        last = last_answers.get(account.id) or last_answers.get(account.id[:15])
        covered = (coverage or {}).get(account.id) or (coverage or {}).get(account.id[:15])
        if last is None or now - _aware(last) >= silence.after:
            subject, description = _silent(account, last, silence)
        elif covered is not None and coverage_fell(covered, silence):
            subject, description = _falling(account, covered, silence)
        else:
            continue
        intents.append(
            ActionIntent(
                key=silence_key(account.id, period),
                source=SOURCE,
                response_id=account.id,
                rule="loop.silence",
                action="lack_of_response",
                kind=KIND,
                payload={
                    "subject": subject,
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
    ids = [a.id for a in accounts] + [a.id[:15] for a in accounts]
    last = store.loops.last_answers(ids)
    coverage = None
    if silence.coverage_drop is not None:
        window = silence.coverage_window
        answers = store.loops.respondents(ids, now - 2 * window)
        coverage = coverage_by_account(answers, now, window)
    intents = silence_intents(accounts, last, silence, now, coverage)
    queued = store.outbox.enqueue(intents, now) if intents else 0
    return SilenceStats(len(accounts), len(intents), queued)
