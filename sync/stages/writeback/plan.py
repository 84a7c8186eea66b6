"""Write-back planning: every field value to write for some contacts and accounts, and only
what differs from what we last wrote.

:func:`plan_values` is pure: the values of :mod:`sync.fields.values` (and the loop figures of
:mod:`sync.loop.account_fields`) named by the field map (:mod:`sync.fields.fieldmap`).
:func:`plan_for` gathers its inputs: the routed responses and, when the map names a loop figure,
the accounts' loops from the store; the account facts and the comment field lengths from
Salesforce.
"""

from __future__ import annotations

import logging
import weakref
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from more_itertools import chunked

from connectors.errors import ConnectorError
from sync.core.catalogue import LOOP_METRIC_KEYS, TEXT_HISTORY_FIELDS
from sync.core.config import Config
from sync.core.ports import WriteBackCrm
from sync.core.retry import RetryPolicy
from sync.fields.facts import CrmFacts, account_facts, crm_facts, snapshot_facts
from sync.fields.fieldmap import FieldMap, MappedField, field_map
from sync.fields.history import CommentFields, history_records
from sync.fields.metrics import AccountFacts, account_summary, contact_metrics
from sync.fields.values import (
    account_settings,
    account_values,
    contact_values,
    group_by,
    respondent_key,
    scored,
    truncate,
)
from sync.loop.account_fields import loop_values, loop_values_by_account
from sync.loop.calendar import BusinessHours
from sync.loop.sla import records as loop_records
from sync.stages.comment_text import stored_fields
from sync.stages.writeback import chunks
from sync.state import StateStore, StoredResponse

log = logging.getLogger(__name__)

#: Kept for callers of the first release; the length now comes from describe or the config.
COMMENT_FIELD_LENGTH = 1000

Key = tuple[str, str]  # (system, object)
Values = dict[str, dict[str, Any]]  # record id -> field -> value

#: Comment field lengths per connector, from one describe per connector's lifetime.
_described: weakref.WeakKeyDictionary[object, dict[str, int]] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Plan:
    """Field values per record, per (system, object)."""

    values: Mapping[Key, Mapping[str, Mapping[str, Any]]]


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


def plan_values(
    config: Config,
    contact_rows: Sequence[StoredResponse],
    account_rows: Sequence[StoredResponse],
    now: datetime,
    *,
    facts: Mapping[str, AccountFacts] | None = None,
    comment_lengths: Mapping[str, int] | None = None,
    loops: Mapping[str, Mapping[str, Any]] | None = None,
    comments: CommentFields | None = None,
) -> Plan:
    """Every field value to write for these contacts' and accounts' responses (pure).

    ``facts`` are what Salesforce knows about each account (ARR, contacts, ...); without them,
    the ARR and renewal date of the latest match are used. ``comment_lengths`` maps a Salesforce
    comment field to its length from describe; the configured length applies otherwise.
    ``loops`` are the loop figures of each account (:func:`account_loops`); an account without
    them has no loop (nothing open, nothing measured). ``comments`` are the stored sentiment
    and themes of the responses, for the history records.
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
        records = history_records(contact_rows, fmap.history, comments)
        if records:
            values[("salesforce", fmap.history.object)] = records

    for account_id, rows in group_by(account_rows, "account_id").items():
        account_fact = (facts or {}).get(account_id) or snapshot_facts(rows)
        summary = account_summary(scored(rows), now=now, settings=settings, facts=account_fact)
        by_metric = account_values(summary)
        by_metric |= (loops or {}).get(account_id) or loop_values([], now)
        if fmap.account:
            values[("salesforce", "Account")][account_id] = _mapped(fmap.account, by_metric, {})
        org_id = organization_of(rows) if fmap.organization else None
        if org_id is not None:
            values[("zendesk", "organization")][str(org_id)] = _mapped(
                fmap.organization, by_metric, {}
            )
    return Plan(dict(values))


def organization_of(rows: Sequence[StoredResponse]) -> int | None:
    """The Zendesk organization that stands for an account: the one most of its respondents
    belong to, each by their latest answer (a tie: the latest answer's). A respondent whose
    Zendesk user still sits in the organization of the account they left must not put this
    account's NPS on that other account's organization."""
    latest: dict[str, StoredResponse] = {}
    for row in sorted(rows, key=_answered):
        latest[respondent_key(row)] = row
    votes: dict[int, int] = defaultdict(int)
    last: dict[int, tuple[datetime, str]] = {}
    for row in sorted(latest.values(), key=_answered):
        if row.zendesk_org_id:
            votes[row.zendesk_org_id] += 1
            last[row.zendesk_org_id] = _answered(row)
    return max(votes, key=lambda org: (votes[org], last[org])) if votes else None


def uses_loop_figures(fmap: FieldMap) -> bool:
    return any(m.metric.key in LOOP_METRIC_KEYS for m in fmap.account)


def account_loops(
    store: StateStore, config: Config, account_ids: Sequence[str], now: datetime
) -> dict[str, dict[str, Any]]:
    """The loop figures of these accounts, over the responses answered within
    ``loop.follow_for``."""
    bh = config.business_hours
    hours = BusinessHours(ZoneInfo(bh.timezone), bh.start_hour, bh.end_hour)
    facts = store.loops.facts(now - config.loop.follow_for, account_ids=account_ids)
    return loop_values_by_account(loop_records(facts, config.loop.sla, hours), now)


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


def _comment_lengths(fmap: FieldMap, crm: WriteBackCrm, retry: RetryPolicy) -> dict[str, int]:
    """Length of each mapped Salesforce comment field, from describe (the configured length
    when describe fails)."""
    names = [m.name for m in fmap.contact if m.metric.key == "comment"]
    if not names:
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


def _with_latest_matches(store: StateStore, rows: Sequence[StoredResponse]) -> list[StoredResponse]:
    """``rows`` with the match details of each account's latest answer (what
    :func:`~sync.fields.facts.snapshot_account` reads) loaded, in one query per chunk."""
    latest: dict[str, int] = {}  # account id -> index of its latest row
    for index, row in enumerate(rows):
        known = latest.get(str(row.account_id))
        if known is None or _answered(row) > _answered(rows[known]):
            latest[str(row.account_id)] = index
    found = store.inbox.matches(
        (rows[i].response.source, rows[i].response.response_id) for i in latest.values()
    )
    out = list(rows)
    for index in latest.values():
        row = rows[index]
        out[index] = replace(row, match=found.get((row.response.source, row.response.response_id)))
    return out


def _answered(row: StoredResponse) -> tuple[datetime, str]:
    return row.response.created_at, row.response.response_id


def plan_for(
    store: StateStore,
    config: Config,
    crm: WriteBackCrm,
    retry: RetryPolicy,
    *,
    contact_ids: Sequence[str],
    account_ids: Sequence[str],
    now: datetime,
    fresh: bool,
    known: CrmFacts | None = None,
) -> Plan:
    """The plan of these contacts and accounts, from every routed response they have.

    ``known`` are Salesforce facts already looked up for the accounts (:func:`plans`).
    """
    fmap = field_map(config)
    # A contact's values come from its answers alone; an account's facts read the match of its
    # latest answer only, so the others are loaded without theirs (a large account has many).
    contact_rows = (
        store.inbox.routed(contact_ids=contact_ids, with_match=False) if contact_ids else []
    )
    account_rows = (
        _with_latest_matches(store, store.inbox.routed(account_ids=account_ids, with_match=False))
        if account_ids
        else []
    )
    facts = account_facts(
        group_by(account_rows, "account_id"),
        crm=crm,
        fmap=fmap,
        metrics=config.metrics,
        retry=retry,
        fresh=fresh,
        known=known,
    )
    lengths = _comment_lengths(fmap, crm, retry) if contact_rows else {}
    loops = (
        account_loops(store, config, account_ids, now)
        if account_rows and uses_loop_figures(fmap)
        else None
    )
    comments = (
        stored_fields(store, contact_rows)
        if contact_rows and fmap.history and set(TEXT_HISTORY_FIELDS) & set(fmap.history.fields)
        else None
    )
    return plan_values(
        config,
        contact_rows,
        account_rows,
        now,
        facts=facts,
        comment_lengths=lengths,
        loops=loops,
        comments=comments,
    )


def plans(
    store: StateStore,
    config: Config,
    crm: WriteBackCrm,
    retry: RetryPolicy,
    *,
    contact_ids: Sequence[str],
    account_ids: Sequence[str],
    now: datetime,
    fresh: bool,
    on_error: Callable[[ConnectorError], None] | None = None,
) -> Iterator[Plan]:
    """The plans of these contacts, then of these accounts, one bounded chunk at a time
    (:mod:`.chunks`), so memory does not grow with the responses behind them.

    Salesforce facts are looked up for :data:`~.chunks.ACCOUNTS_PER_LOOKUP` accounts at a time,
    not per chunk, so small chunks cost no extra calls. A lookup that fails is raised, or, with
    ``on_error``, handed to it and its chunk left out (the nightly repair goes on).
    """
    fmap = field_map(config)
    work: list[tuple[Sequence[str], bool]] = [(contact_ids, False)] if contact_ids else []
    work += [(group, True) for group in chunked(account_ids, chunks.ACCOUNTS_PER_LOOKUP)]
    for ids, accounts in work:
        known: CrmFacts | None = None
        try:
            if accounts:
                sizes = store.inbox.routed_counts(account_ids=ids)
                present = [account_id for account_id in ids if sizes.get(account_id)]
                known = crm_facts(
                    present, crm=crm, fmap=fmap, metrics=config.metrics, retry=retry, fresh=fresh
                )
            else:
                sizes = store.inbox.routed_counts(contact_ids=ids)
        except ConnectorError as exc:
            if on_error is None:
                raise
            on_error(exc)
            continue
        for part in chunks.bounded(
            ids, sizes, max_responses=chunks.RESPONSES_PER_PLAN, max_records=chunks.RECORDS_PER_PLAN
        ):
            try:
                plan = plan_for(
                    store,
                    config,
                    crm,
                    retry,
                    contact_ids=() if accounts else part,
                    account_ids=part if accounts else (),
                    now=now,
                    fresh=fresh,
                    known=known,
                )
            except ConnectorError as exc:
                if on_error is None:
                    raise
                on_error(exc)
                continue
            yield plan


def whole_upserts(pending: dict[Key, Values], plan: Plan, fmap: FieldMap) -> dict[Key, Values]:
    """History records go out whole: an upsert needs its external id, whatever changed."""
    if fmap.history is None:
        return pending
    key = ("salesforce", fmap.history.object)
    if key in pending:
        planned = plan.values[key]
        pending[key] = {rid: dict(planned[rid]) for rid in pending[key]}
    return pending
