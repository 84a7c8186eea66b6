"""Metric values per record, from stored responses (pure): the account and contact maths that
write-back plans with and ``explain`` shows.

:mod:`sync.fields.metrics` computes metrics from scored responses; this module turns stored
responses into those inputs (:func:`scored`, :func:`group_by`, :func:`account_settings`) and the
metrics into values per metric key (:func:`contact_values`, :func:`account_values`), which the
field map then names.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sync.core.config import MetricsConfig
from sync.fields.metrics import (
    AccountMetrics,
    AccountSettings,
    ContactMetrics,
    ScoredResponse,
)
from sync.state import StoredResponse


def account_settings(metrics: MetricsConfig) -> AccountSettings:
    half_life = metrics.decay_half_life_days
    return AccountSettings(
        window=timedelta(days=metrics.window_days),
        half_life=timedelta(days=half_life) if half_life else None,
        revenue_formula=metrics.revenue_at_risk,
        at_risk_below=metrics.at_risk_below,
        small_sample_below=metrics.small_sample_below,
        stale_after=timedelta(days=metrics.stale_after_days),
        revenue_at_risk_small_sample=metrics.revenue_at_risk_small_sample,
    )


def scored(rows: Sequence[StoredResponse]) -> list[ScoredResponse]:
    """The responses the metrics count, each keyed by its respondent: the contact, or the email
    of an answer matched to an account without a contact (by its domain or an alias), which
    counts for that account as the Tasks and the insights attribute it."""
    return [
        ScoredResponse(
            contact_id=respondent_key(row),
            created_at=row.response.created_at,
            score=row.response.score,
            comment=row.response.comment,
            response_id=f"{row.response.source}:{row.response.response_id}",
            survey_type=row.response.survey_type,
            channel=row.response.channel,
            link=row.response.permalink,
        )
        for row in rows
        if row.contact_id or row.account_id
    ]


def respondent_key(row: StoredResponse) -> str:
    """Whom an answer counts as: its contact's id, else its email (a Salesforce id never
    holds an @, so the two cannot collide)."""
    return row.contact_id or row.response.email.lower()


def truncate(text: str, length: int) -> str:
    """``text`` cut to ``length`` UTF-16 code units (Salesforce's measure), ending in an ellipsis
    when cut, never splitting a surrogate pair."""
    if len(text.encode("utf-16-le")) // 2 <= length:
        return text
    units = 0
    out: list[str] = []
    for char in text:
        size = 2 if ord(char) > 0xFFFF else 1
        if units + size > length - 1:
            break
        out.append(char)
        units += size
    return "".join(out) + "…"


def contact_values(m: ContactMetrics) -> dict[str, Any]:
    """Metric key -> value of one contact."""
    return {
        "last_score": m.last_score,
        "category": m.category,
        "comment": m.last_comment,
        "response_date": m.last_response_date.isoformat(),
        "previous_score": m.previous_score,
        "change": m.change,
        "responses": m.responses,
        "survey_type": m.survey_type,
        "channel": m.channel,
        "link": m.link,
    }


def account_values(m: AccountMetrics) -> dict[str, Any]:
    """Metric key -> value of one account."""
    return {
        "nps": m.nps,
        "respondents": m.respondents,
        "coverage": m.coverage,
        "key_contact_coverage": m.key_contact_coverage,
        "trend": m.trend,
        "last_response_date": m.last_response_date.isoformat() if m.last_response_date else None,
        "detractors": m.detractors,
        "small_sample": m.small_sample,
        "stale": m.stale,
        "revenue_at_risk": m.revenue_at_risk,
        "days_to_renewal": m.days_to_renewal,
    }


def group_by(rows: Sequence[StoredResponse], attribute: str) -> dict[str, list[StoredResponse]]:
    grouped: dict[str, list[StoredResponse]] = defaultdict(list)
    for row in rows:
        key = getattr(row, attribute)
        if key:
            grouped[key].append(row)
    return grouped
