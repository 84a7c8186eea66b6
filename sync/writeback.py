"""Write-back stage: NPS fields on Salesforce contacts/accounts and Zendesk users/organizations.

Values are computed by the pure functions of :mod:`sync.metrics` from the state store, compared
with what we last wrote, and only the differences are sent, batched (200 records per Salesforce
collection, 100 per Zendesk ``update_many`` job). A record the system rejects is reported and the
rest land.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from connectors.errors import ConnectorError
from connectors.models import FieldUpdate, WriteResult
from sync.config import Config
from sync.metrics import ScoredResponse, account_metrics, contact_metrics
from sync.ports import CrmPort, HelpdeskPort
from sync.retry import RetryPolicy
from sync.state import StateStore, StoredResponse

log = logging.getLogger(__name__)

COMMENT_FIELD_LENGTH = 1000


@dataclass
class WriteBackStats:
    updated: dict[str, int] = field(default_factory=dict)
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)

    def total(self) -> int:
        return sum(self.updated.values())


@dataclass(frozen=True)
class Plan:
    """Field values per record, per (system, object)."""

    values: Mapping[tuple[str, str], Mapping[str, Mapping[str, Any]]]


def _scored(rows: Iterable[StoredResponse]) -> list[ScoredResponse]:
    return [
        ScoredResponse(
            contact_id=row.contact_id or "",
            created_at=row.response.created_at,
            score=row.response.score,
            comment=row.response.comment,
        )
        for row in rows
        if row.contact_id
    ]


def plan_values(
    config: Config,
    contact_rows: Sequence[StoredResponse],
    account_rows: Sequence[StoredResponse],
    now: datetime,
) -> Plan:
    """Compute every field value to write for these contacts' and accounts' responses (pure)."""
    sf = config.salesforce.fields
    zd = config.zendesk.fields
    window = timedelta(days=config.metrics.window_days)
    values: dict[tuple[str, str], dict[str, dict[str, Any]]] = defaultdict(dict)

    by_contact: dict[str, list[StoredResponse]] = defaultdict(list)
    for row in contact_rows:
        if row.contact_id:
            by_contact[row.contact_id].append(row)
    for contact_id, rows in by_contact.items():
        metrics = contact_metrics(_scored(rows))
        if metrics is None:
            continue
        fields: dict[str, Any] = {
            sf.contact_last_score: metrics.last_score,
            sf.contact_category: metrics.category,
            sf.contact_last_comment: metrics.last_comment[:COMMENT_FIELD_LENGTH],
            sf.contact_last_response_date: metrics.last_response_date.isoformat(),
        }
        values[("salesforce", "Contact")][contact_id] = {k: v for k, v in fields.items() if k}
        latest = max(rows, key=lambda r: r.response.created_at)
        if latest.zendesk_user_id:
            user_fields = {
                zd.user_score: metrics.last_score,
                zd.user_category: metrics.category,
                zd.user_date: metrics.last_response_date.isoformat(),
            }
            values[("zendesk", "user")][str(latest.zendesk_user_id)] = {
                k: v for k, v in user_fields.items() if k
            }

    by_account: dict[str, list[StoredResponse]] = defaultdict(list)
    for row in account_rows:
        if row.account_id:
            by_account[row.account_id].append(row)
    for account_id, rows in by_account.items():
        latest = max(rows, key=lambda r: r.response.created_at)
        account = (latest.match or {}).get("account") or {}
        result = account_metrics(
            _scored(rows),
            now=now,
            window=window,
            arr=float(account.get("arr") or 0.0),
            at_risk_below=config.metrics.at_risk_below,
        )
        fields = {
            sf.account_nps: result.nps,
            sf.account_responses: result.respondents,
            sf.account_revenue_at_risk: result.revenue_at_risk,
        }
        values[("salesforce", "Account")][account_id] = {k: v for k, v in fields.items() if k}
        org_ids = {r.zendesk_org_id for r in rows if r.zendesk_org_id}
        for org_id in org_ids:
            if zd.organization_nps:
                values[("zendesk", "organization")][str(org_id)] = {zd.organization_nps: result.nps}
    return Plan(values)


def changes(
    plan: Plan, written: Callable[[str, str, Sequence[str]], dict[str, dict[str, Any]]]
) -> tuple[dict[tuple[str, str], dict[str, dict[str, Any]]], int]:
    """Only the field values that differ from what we last wrote; and how many were unchanged."""
    out: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    unchanged = 0
    for (system, obj), records in plan.values.items():
        before = written(system, obj, list(records))
        for record_id, fields in records.items():
            old = before.get(record_id, {})
            diff = {k: v for k, v in fields.items() if k not in old or old[k] != v}
            if diff:
                out.setdefault((system, obj), {})[record_id] = diff
            else:
                unchanged += 1
    return out, unchanged


def write_back(
    store: StateStore,
    config: Config,
    crm: CrmPort,
    helpdesk: HelpdeskPort | None,
    retry: RetryPolicy,
    *,
    contact_ids: Sequence[str],
    account_ids: Sequence[str],
    now: datetime,
) -> WriteBackStats:
    """Recompute and write the fields of these contacts and accounts."""
    stats = WriteBackStats()
    plan = plan_values(
        config,
        store.routed_responses(contact_ids=contact_ids),
        store.routed_responses(account_ids=account_ids),
        now,
    )
    pending, stats.unchanged = changes(plan, store.written)
    writers: dict[tuple[str, str], Callable[[Sequence[FieldUpdate]], list[WriteResult]]] = {
        ("salesforce", "Contact"): crm.update_records,
        ("salesforce", "Account"): crm.update_records,
    }
    if helpdesk is not None:
        writers[("zendesk", "user")] = helpdesk.update_users
        writers[("zendesk", "organization")] = helpdesk.update_organizations
    for (system, obj), records in sorted(pending.items()):
        writer = writers.get((system, obj))
        if writer is None:
            continue
        updates = [FieldUpdate(obj, rid, values) for rid, values in sorted(records.items())]
        try:
            results = retry.call(partial(writer, updates))
        except ConnectorError as exc:
            stats.errors.append(f"{system} {obj}: {exc}")
            log.error("write-back of %s %s failed: %s", system, obj, exc)
            continue
        landed = {r.record_id: records[r.record_id] for r in results if r.ok}
        for r in results:
            if not r.ok:
                stats.errors.append(f"{system} {obj} {r.record_id}: {r.error}")
        store.record_written(system, obj, landed, now)
        stats.updated[f"{system}.{obj}"] = stats.updated.get(f"{system}.{obj}", 0) + len(landed)
    return stats
