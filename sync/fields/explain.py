"""How each account field value was computed, from which responses: the data behind
``nps-sync explain account`` and ``nps-sync explain segments`` (pure; the command renders it).

An account manager who doubts a number sees every response of the account with what happened to
it (counted with its weight, superseded by a later answer of the same respondent, outside the
window), the window, and each field with its formula filled in with the actual numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connectors.models import category_of
from sync.core.catalogue import LOOP_METRIC_KEYS
from sync.core.config import Config
from sync.fields.facts import snapshot_account, snapshot_facts
from sync.fields.fieldmap import ACCOUNT_METRICS, field_map
from sync.fields.metrics import (
    AccountFacts,
    AccountMetrics,
    AccountSettings,
    SegmentAccount,
    SegmentScore,
    WindowScore,
    account_summary,
    segment_scores,
)
from sync.fields.values import account_settings, account_values, group_by, scored
from sync.state import StoredResponse

SEGMENTS = ("tier", "region", "industry")


@dataclass(frozen=True, slots=True)
class ResponseLine:
    """One response of the account and what the metrics did with it."""

    contact_id: str
    contact_name: str
    response_id: str
    submitted: datetime
    score: int
    category: str
    status: str
    weight: float | None


@dataclass(frozen=True, slots=True)
class FieldLine:
    """One account metric: its value, the formula with the numbers, where it is written."""

    metric: str
    label: str
    value: Any
    formula: str
    written_to: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AccountExplanation:
    account_id: str
    account_name: str
    now: datetime
    settings: AccountSettings
    facts: AccountFacts
    metrics: AccountMetrics
    responses: tuple[ResponseLine, ...]
    fields: tuple[FieldLine, ...]


def _status(row: StoredResponse, current: WindowScore, previous: WindowScore) -> str:
    key = f"{row.response.source}:{row.response.response_id}"
    at = row.response.created_at
    if any(c.response.response_id == key for c in current.counted):
        return "counted"
    if current.start < at <= current.end:
        return "superseded by a later response of the same respondent"
    if any(c.response.response_id == key for c in previous.counted):
        return "previous window (trend)"
    if at > current.end:
        return "after now"
    return "outside the window"


def _weights(window: WindowScore) -> dict[str, float]:
    return {c.response.response_id: c.weight for c in window.counted}


def _fmt(value: float | None, unit: str = "") -> str:
    return "none" if value is None else f"{value:g}{unit}"


def _formulas(
    m: AccountMetrics, s: AccountSettings, f: AccountFacts, now: datetime
) -> dict[str, str]:
    cur = m.current
    assert cur is not None
    window = f"({cur.start:%Y-%m-%d %H:%M}, {cur.end:%Y-%m-%d %H:%M}]"
    if s.half_life is not None:
        total = sum(c.weight for c in cur.counted)
        promo = sum(c.weight for c in cur.counted if c.response.score >= 9)
        detr = sum(c.weight for c in cur.counted if c.response.score <= 6)
        nps_text = (
            f"100 x (weighted promoters - weighted detractors) / total weight = "
            f"100 x ({promo:.3f} - {detr:.3f}) / {total:.3f} = {_fmt(m.nps)} "
            f"(weight 0.5^(age / {s.half_life.days} days))"
        )
    else:
        nps_text = (
            f"100 x (promoters - detractors) / respondents = 100 x ({m.promoters} - "
            f"{m.detractors}) / {m.respondents} = {_fmt(m.nps)}"
        )
    if m.respondents == 0:
        nps_text = f"no respondent in the window {window}: no NPS"
    share = cur.detractor_share
    if m.revenue_at_risk is None:
        risk = (
            f"not reported: respondents {m.respondents} < {s.small_sample_below} "
            "(metrics.revenue_at_risk_small_sample is off)"
        )
    elif s.revenue_formula == "detractor_share":
        risk = f"ARR x detractor share = {f.arr:,.2f} x {_fmt(share)} = {m.revenue_at_risk:,.2f}"
    else:
        below = m.nps is not None and m.nps < s.at_risk_below
        risk = (
            f"whole ARR when NPS < {s.at_risk_below:g}: NPS {_fmt(m.nps)} -> "
            f"{'yes' if below else 'no'} -> {m.revenue_at_risk:,.2f} (ARR {f.arr:,.2f})"
        )
    key_text = "no key-contact field configured"
    if f.key_contacts is not None:
        answered = {c.response.contact_id for c in cur.counted} & f.key_contacts
        key_text = (
            f"key contacts who responded / key contacts = {len(answered)} / "
            f"{len(f.key_contacts)} = {_fmt(m.key_contact_coverage, ' %')}"
        )
    last = m.last_response_date
    age = f"{(now.date() - last).days} days ago" if last else "never"
    stale_days = s.stale_after.days
    return {
        "nps": nps_text,
        "respondents": f"contacts with a response in {window}, each counted once = {m.respondents}",
        "coverage": (
            f"respondents / contacts = {m.respondents} / {f.contacts} = {_fmt(m.coverage, ' %')}"
            if f.contacts is not None
            else "contacts not counted (coverage is not mapped or Salesforce was not asked)"
        ),
        "key_contact_coverage": key_text,
        "trend": (
            f"NPS now - NPS of the previous window = {_fmt(m.nps)} - {_fmt(m.previous_nps)} = "
            f"{_fmt(m.trend)}"
        ),
        "last_response_date": f"latest response of any contact: {last or 'none'}",
        "detractors": f"counted responses scoring 0-6 = {m.detractors}",
        "small_sample": (
            f"respondents {m.respondents} < {s.small_sample_below} -> "
            f"{'yes' if m.small_sample else 'no'}"
        ),
        "stale": (
            f"last response {age}; stale after {stale_days} days -> {'yes' if m.stale else 'no'}"
        ),
        "revenue_at_risk": f"{s.revenue_formula}: {risk}",
        "days_to_renewal": (
            f"renewal {f.renewal_date} - today {now.date()} = {m.days_to_renewal}"
            if f.renewal_date
            else "no renewal date"
        ),
    }


def explain_account(
    config: Config,
    account_id: str,
    rows: Sequence[StoredResponse],
    *,
    now: datetime,
    facts: AccountFacts | None = None,
) -> AccountExplanation:
    """Every response of the account, the window and each field with its worked formula."""
    settings = account_settings(config.metrics)
    account_facts = facts or snapshot_facts(rows)
    metrics = account_summary(scored(rows), now=now, settings=settings, facts=account_facts)
    assert metrics.current is not None
    assert metrics.previous is not None
    current_weights = _weights(metrics.current)
    lines = []
    for row in sorted(rows, key=lambda r: (r.response.created_at, r.response.response_id)):
        key = f"{row.response.source}:{row.response.response_id}"
        contact = (row.match or {}).get("contact") or {}
        lines.append(
            ResponseLine(
                contact_id=row.contact_id or "",
                contact_name=str(contact.get("name") or contact.get("email") or ""),
                response_id=key,
                submitted=row.response.created_at,
                score=row.response.score,
                category=category_of(row.response.score),
                status=_status(row, metrics.current, metrics.previous),
                weight=current_weights.get(key),
            )
        )
    fmap = field_map(config)
    targets: dict[str, list[str]] = {}
    for mapped in fmap.account:
        targets.setdefault(mapped.metric.key, []).append(f"Account.{mapped.name}")
    for mapped in fmap.organization:
        targets.setdefault(mapped.metric.key, []).append(f"organization.{mapped.name}")
    formulas = _formulas(metrics, settings, account_facts, now)
    values = account_values(metrics)
    fields = tuple(
        FieldLine(m.key, m.label, values[m.key], formulas[m.key], tuple(targets.get(m.key, ())))
        for m in ACCOUNT_METRICS
        if m.key not in LOOP_METRIC_KEYS  # loop figures: `nps-sync loop report`
    )
    name = str(snapshot_account(rows).get("name") or "")
    return AccountExplanation(
        account_id, name, now, settings, account_facts, metrics, tuple(lines), fields
    )


def segment_report(
    config: Config,
    rows: Sequence[StoredResponse],
    *,
    by: str,
    now: datetime,
    facts: Mapping[str, AccountFacts] | None = None,
) -> list[SegmentScore]:
    """Revenue-weighted NPS per segment (``tier``, ``region`` or ``industry``) of all accounts."""
    settings = account_settings(config.metrics)
    accounts: list[SegmentAccount] = []
    for account_id, account_rows in group_by(rows, "account_id").items():
        account_facts = (facts or {}).get(account_id) or snapshot_facts(account_rows)
        summary = account_summary(
            scored(account_rows), now=now, settings=settings, facts=account_facts
        )
        segment = str(snapshot_account(account_rows).get(by) or "(none)")
        accounts.append(SegmentAccount(segment, account_facts.arr, summary.nps))
    return segment_scores(accounts)
