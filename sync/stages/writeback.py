"""Write-back stage: NPS fields on Salesforce contacts/accounts and Zendesk users/organizations,
and the optional per-response history object.

Values are computed by the pure functions of :mod:`sync.fields.metrics` from the state store (what
goes into which field comes from :mod:`sync.fields.fieldmap`), compared with what we last wrote, and
only the differences are sent, batched (200 records per Salesforce collection, 100 per Zendesk
``update_many`` job). A record the system rejects is reported and the rest land.

:func:`reconcile` is the nightly repair: it recomputes every contact and account we manage, reads
the Salesforce and Zendesk fields back and rewrites whatever differs, so a hand edit (or a value
that changed with time, like days to renewal) does not stay wrong until the next response.
"""

from __future__ import annotations

import logging
import weakref
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Protocol, runtime_checkable

from connectors.errors import ConnectorError
from connectors.models import FieldUpdate, WriteResult
from connectors.salesforce.describe import ObjectInfo
from sync.core.config import Config, MetricsConfig
from sync.core.ports import CrmPort, HelpdeskPort
from sync.core.retry import RetryPolicy
from sync.fields.facts import QueriesSoql, account_facts, snapshot_facts
from sync.fields.fieldmap import FieldMap, HistoryMap, MappedField, field_map
from sync.fields.history import history_records
from sync.fields.metrics import (
    AccountFacts,
    AccountMetrics,
    AccountSettings,
    ContactMetrics,
    ScoredResponse,
    account_summary,
    contact_metrics,
)
from sync.fields.readback import ReadsHelpdeskFields, drifted, read_current, read_helpdesk
from sync.state import StateStore, StoredResponse

log = logging.getLogger(__name__)

#: Kept for callers of the first release; the length now comes from describe or the config.
COMMENT_FIELD_LENGTH = 1000
#: Records per chunk in the nightly reconciliation: bounds memory on any book size.
RECONCILE_CHUNK = 1000

Key = tuple[str, str]  # (system, object)
Values = dict[str, dict[str, Any]]  # record id -> field -> value


@runtime_checkable
class Describes(Protocol):
    def describe(self, sobject: str) -> ObjectInfo: ...


#: Comment field lengths per connector, from one describe per connector's lifetime.
_described: weakref.WeakKeyDictionary[object, dict[str, int]] = weakref.WeakKeyDictionary()


@runtime_checkable
class UpsertsRecords(Protocol):
    def upsert_records(
        self,
        object_type: str,
        external_id_field: str,
        records: Sequence[Mapping[str, Any]],
        *,
        bulk_threshold: int | None = None,
    ) -> list[WriteResult]: ...


@dataclass
class WriteBackStats:
    updated: dict[str, int] = field(default_factory=dict)
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)
    #: Records rewritten because Salesforce or Zendesk held something else than what we had written.
    drift: int = 0

    def total(self) -> int:
        return sum(self.updated.values())

    def add(self, other: WriteBackStats) -> None:
        for key, count in other.updated.items():
            self.updated[key] = self.updated.get(key, 0) + count
        self.unchanged += other.unchanged
        self.errors.extend(other.errors)
        self.drift += other.drift


@dataclass(frozen=True)
class Plan:
    """Field values per record, per (system, object)."""

    values: Mapping[Key, Mapping[str, Mapping[str, Any]]]


# -- pure: from responses to field values --------------------------------------------------------
def account_settings(metrics: MetricsConfig) -> AccountSettings:
    half_life = metrics.decay_half_life_days
    return AccountSettings(
        window=timedelta(days=metrics.window_days),
        half_life=timedelta(days=half_life) if half_life else None,
        revenue_formula=metrics.revenue_at_risk,
        at_risk_below=metrics.at_risk_below,
        small_sample_below=metrics.small_sample_below,
        stale_after=timedelta(days=metrics.stale_after_days),
    )


def scored(rows: Sequence[StoredResponse]) -> list[ScoredResponse]:
    return [
        ScoredResponse(
            contact_id=row.contact_id or "",
            created_at=row.response.created_at,
            score=row.response.score,
            comment=row.response.comment,
            response_id=f"{row.response.source}:{row.response.response_id}",
            survey_type=row.response.survey_type,
            channel=row.response.channel,
            link=row.response.permalink,
        )
        for row in rows
        if row.contact_id
    ]


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


def _mapped(
    group: Sequence[MappedField], values: Mapping[str, Any], lengths: Mapping[str, int]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for mapped in group:
        value = values[mapped.metric.key]
        if mapped.metric.key == "comment" and isinstance(value, str):
            value = truncate(value, lengths[mapped.name])
        out[mapped.name] = value
    return out


def group_by(rows: Sequence[StoredResponse], attribute: str) -> dict[str, list[StoredResponse]]:
    grouped: dict[str, list[StoredResponse]] = defaultdict(list)
    for row in rows:
        key = getattr(row, attribute)
        if key:
            grouped[key].append(row)
    return grouped


def plan_values(
    config: Config,
    contact_rows: Sequence[StoredResponse],
    account_rows: Sequence[StoredResponse],
    now: datetime,
    *,
    facts: Mapping[str, AccountFacts] | None = None,
    comment_lengths: Mapping[str, int] | None = None,
) -> Plan:
    """Every field value to write for these contacts' and accounts' responses (pure).

    ``facts`` are what Salesforce knows about each account (ARR, contacts, ...); without them,
    the ARR and renewal date of the latest match are used. ``comment_lengths`` maps a Salesforce
    comment field to its length from describe; the configured length applies otherwise.
    """
    fmap = field_map(config)
    settings = account_settings(config.metrics)
    lengths: dict[str, int] = defaultdict(lambda: fmap.comment_length)
    lengths.update(comment_lengths or {})
    zd_lengths: dict[str, int] = defaultdict(lambda: fmap.comment_length)
    values: dict[Key, Values] = defaultdict(dict)

    for contact_id, rows in group_by(contact_rows, "contact_id").items():
        metrics = contact_metrics(scored(rows))
        if metrics is None:
            continue
        by_metric = contact_values(metrics)
        if fmap.contact:
            values[("salesforce", "Contact")][contact_id] = _mapped(
                fmap.contact, by_metric, lengths
            )
        latest = max(rows, key=lambda r: (r.response.created_at, r.response.response_id))
        if latest.zendesk_user_id and fmap.user:
            values[("zendesk", "user")][str(latest.zendesk_user_id)] = _mapped(
                fmap.user, by_metric, zd_lengths
            )
    if fmap.history is not None:
        records = history_records(contact_rows, fmap.history)
        if records:
            values[("salesforce", fmap.history.object)] = records

    for account_id, rows in group_by(account_rows, "account_id").items():
        account_fact = (facts or {}).get(account_id) or snapshot_facts(rows)
        summary = account_summary(scored(rows), now=now, settings=settings, facts=account_fact)
        by_metric = account_values(summary)
        if fmap.account:
            values[("salesforce", "Account")][account_id] = _mapped(fmap.account, by_metric, {})
        if fmap.organization:
            for org_id in sorted({r.zendesk_org_id for r in rows if r.zendesk_org_id}):
                values[("zendesk", "organization")][str(org_id)] = _mapped(
                    fmap.organization, by_metric, {}
                )
    return Plan(dict(values))


def changes(
    plan: Plan, written: Callable[[str, str, Sequence[str]], dict[str, dict[str, Any]]]
) -> tuple[dict[Key, Values], int]:
    """Only the field values that differ from what we last wrote; and how many were unchanged."""
    out: dict[Key, Values] = {}
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


# -- I/O: gather, write, remember ---------------------------------------------------------------
Writer = Callable[[Sequence[FieldUpdate]], list[WriteResult]]


def _history_writer(crm: UpsertsRecords, history: HistoryMap) -> Writer:
    """Upserts by external id; Bulk API 2.0 above the connector's bulk threshold."""

    def write(updates: Sequence[FieldUpdate]) -> list[WriteResult]:
        by_external = {str(u.values[history.external_id]): u.record_id for u in updates}
        results = crm.upsert_records(
            history.object, history.external_id, [u.values for u in updates]
        )
        return [replace(r, record_id=by_external.get(r.record_id, r.record_id)) for r in results]

    return write


def _writers(
    config: Config, fmap: FieldMap, crm: CrmPort, helpdesk: HelpdeskPort | None
) -> dict[Key, Writer]:
    writers: dict[Key, Writer] = {
        ("salesforce", "Contact"): crm.update_records,
        ("salesforce", "Account"): crm.update_records,
    }
    if fmap.history is not None and isinstance(crm, UpsertsRecords):
        writers[("salesforce", fmap.history.object)] = _history_writer(crm, fmap.history)
    if helpdesk is not None:
        writers[("zendesk", "user")] = helpdesk.update_users
        writers[("zendesk", "organization")] = helpdesk.update_organizations
    return writers


def _comment_lengths(fmap: FieldMap, crm: CrmPort, retry: RetryPolicy) -> dict[str, int]:
    """Length of each mapped Salesforce comment field, from describe when the connector can."""
    names = [m.name for m in fmap.contact if m.metric.key == "comment"]
    if not names or not isinstance(crm, Describes):
        return {}
    lengths = _described.get(crm)
    if lengths is None:
        try:
            info = retry.call(partial(crm.describe, "Contact"))
        except ConnectorError as exc:
            log.warning("describe Contact failed, using the configured comment length: %s", exc)
            return {}
        lengths = {key: f.length for key, f in info.fields.items() if f.length}
        _described[crm] = lengths
    return {name: lengths[name.lower()] for name in names if name.lower() in lengths}


def _plan_for(
    store: StateStore,
    config: Config,
    crm: CrmPort,
    retry: RetryPolicy,
    *,
    contact_ids: Sequence[str],
    account_ids: Sequence[str],
    now: datetime,
    fresh: bool,
) -> Plan:
    fmap = field_map(config)
    contact_rows = store.routed_responses(contact_ids=contact_ids) if contact_ids else []
    account_rows = store.routed_responses(account_ids=account_ids) if account_ids else []
    facts = account_facts(
        group_by(account_rows, "account_id"),
        crm=crm,
        fmap=fmap,
        metrics=config.metrics,
        retry=retry,
        fresh=fresh,
    )
    lengths = _comment_lengths(fmap, crm, retry) if contact_rows else {}
    return plan_values(
        config, contact_rows, account_rows, now, facts=facts, comment_lengths=lengths
    )


def _send_system(
    pending: Mapping[Key, Values],
    writers: Mapping[Key, Writer],
    store: StateStore,
    retry: RetryPolicy,
    now: datetime,
) -> WriteBackStats:
    stats = WriteBackStats()
    for (system, obj), records in sorted(pending.items()):
        writer = writers.get((system, obj))
        if writer is None or not records:
            continue
        updates = [FieldUpdate(obj, rid, dict(values)) for rid, values in sorted(records.items())]
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


def _send(
    pending: Mapping[Key, Values],
    writers: Mapping[Key, Writer],
    store: StateStore,
    retry: RetryPolicy,
    stats: WriteBackStats,
    now: datetime,
) -> None:
    """Write every pending record; Salesforce and Zendesk side by side (each system's objects
    in order), since neither waits for the other."""
    systems: dict[str, dict[Key, Values]] = defaultdict(dict)
    for key, records in pending.items():
        systems[key[0]][key] = records
    if len(systems) < 2:
        for part in systems.values():
            stats.add(_send_system(part, writers, store, retry, now))
        return
    with ThreadPoolExecutor(max_workers=len(systems), thread_name_prefix="write-back") as pool:
        futures = [
            pool.submit(_send_system, part, writers, store, retry, now)
            for _, part in sorted(systems.items())
        ]
        for future in futures:
            stats.add(future.result())


def _whole_upserts(pending: dict[Key, Values], plan: Plan, fmap: FieldMap) -> dict[Key, Values]:
    """History records go out whole: an upsert needs its external id, whatever changed."""
    if fmap.history is None:
        return pending
    key = ("salesforce", fmap.history.object)
    if key in pending:
        planned = plan.values[key]
        pending[key] = {rid: dict(planned[rid]) for rid in pending[key]}
    return pending


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
    fresh: bool = False,
) -> WriteBackStats:
    """Recompute and write the fields of these contacts and accounts (only what changed).

    ``fresh`` reads ARR and renewal dates from Salesforce instead of the latest match.
    """
    stats = WriteBackStats()
    plan = _plan_for(
        store,
        config,
        crm,
        retry,
        contact_ids=contact_ids,
        account_ids=account_ids,
        now=now,
        fresh=fresh,
    )
    pending, stats.unchanged = changes(plan, store.written)
    pending = _whole_upserts(pending, plan, field_map(config))
    _send(pending, _writers(config, field_map(config), crm, helpdesk), store, retry, stats, now)
    return stats


# -- the nightly reconciliation ------------------------------------------------------------------
def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


Reader = Callable[[Mapping[str, Mapping[str, Any]]], dict[str, dict[str, Any]]]


def _reader(
    system: str, obj: str, crm: CrmPort, helpdesk: HelpdeskPort | None, retry: RetryPolicy
) -> Reader | None:
    """How to read the current values of these records back, or None when we cannot."""
    if system == "salesforce" and obj in ("Contact", "Account") and isinstance(crm, QueriesSoql):

        def soql(records: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
            names = {name for values in records.values() for name in values}
            return read_current(crm, obj, list(records), names, retry)

        return soql
    # mypy cannot narrow an Optional protocol by isinstance: rule None out first.
    reads = helpdesk if helpdesk is not None and isinstance(helpdesk, ReadsHelpdeskFields) else None
    if system == "zendesk" and obj in ("user", "organization") and reads is not None:
        return lambda records: read_helpdesk(reads, obj, list(records), retry)
    return None


def _repair(
    plan: Plan,
    store: StateStore,
    crm: CrmPort,
    helpdesk: HelpdeskPort | None,
    retry: RetryPolicy,
    stats: WriteBackStats,
    now: datetime,
) -> dict[Key, Values]:
    """What to write so every record holds its planned values.

    Salesforce contacts and accounts and Zendesk users and organizations are compared with what
    the system holds now (hand edits show up); everything else with what we last wrote. The
    store's memory is brought in line with records that already hold the right values.
    """
    remembered, stats.unchanged = changes(plan, store.written)
    pending: dict[Key, Values] = {}
    for (system, obj), records in plan.values.items():
        read = _reader(system, obj, crm, helpdesk, retry)
        if read is None:
            if (system, obj) in remembered:
                pending[(system, obj)] = {
                    rid: dict(records[rid]) for rid in remembered[(system, obj)]
                }
            continue
        try:
            current = read(records)
        except ConnectorError as exc:
            stats.errors.append(f"{system} {obj}: reading back failed: {exc}")
            continue
        to_write = drifted(records, current, shown_only=system == "zendesk")
        known_stale = remembered.get((system, obj), {})
        stats.drift += sum(1 for record_id in to_write if record_id not in known_stale)
        in_line = {
            record_id: dict(records[record_id])
            for record_id in known_stale
            if record_id not in to_write and record_id in current
        }
        store.record_written(system, obj, in_line, now)
        if to_write:
            pending[(system, obj)] = {rid: dict(records[rid]) for rid in to_write}
    return pending


def reconcile(
    store: StateStore,
    config: Config,
    crm: CrmPort,
    helpdesk: HelpdeskPort | None,
    retry: RetryPolicy,
    now: datetime,
) -> WriteBackStats:
    """Recompute every managed contact and account and repair what differs (the nightly job).

    Salesforce contacts and accounts (one SOQL per 200 ids) and Zendesk users and organizations
    (one ``show_many`` per 100 ids) are read back so hand edits are found; history records are
    compared with what we last wrote. Work goes in chunks
    of :data:`RECONCILE_CHUNK` records, so memory stays flat on any book size.
    """
    stats = WriteBackStats()
    writers = _writers(config, field_map(config), crm, helpdesk)
    contact_ids, account_ids = store.routed_record_ids()
    none: Sequence[str] = ()
    batches = [(chunk, none) for chunk in _chunks(contact_ids, RECONCILE_CHUNK)]
    batches += [(none, chunk) for chunk in _chunks(account_ids, RECONCILE_CHUNK)]
    for contacts, accounts in batches:
        part = WriteBackStats()
        try:
            plan = _plan_for(
                store,
                config,
                crm,
                retry,
                contact_ids=contacts,
                account_ids=accounts,
                now=now,
                fresh=True,
            )
        except ConnectorError as exc:
            stats.errors.append(f"reconcile: {exc}")
            continue
        pending = _repair(plan, store, crm, helpdesk, retry, part, now)
        _send(pending, writers, store, retry, part, now)
        stats.add(part)
    return stats
