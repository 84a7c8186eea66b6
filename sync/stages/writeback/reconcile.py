"""The nightly reconciliation: recompute every contact and account we manage, read the
Salesforce and Zendesk fields back and rewrite whatever differs, so a hand edit (or a value that
changed with time, like days to renewal) does not stay wrong until the next response.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from connectors.errors import ConnectorError
from sync.core.config import Config
from sync.core.ports import WriteBackCrm, WriteBackHelpdesk
from sync.core.retry import RetryPolicy
from sync.fields.fieldmap import field_map
from sync.fields.readback import drifted, read_current, read_helpdesk
from sync.stages.writeback.chunks import RECORDS_PER_PLAN
from sync.stages.writeback.plan import Key, Plan, Values, changes, plans
from sync.stages.writeback.send import WriteBackStats, send, writers_for
from sync.state import StateStore

log = logging.getLogger(__name__)

#: Records per chunk in the nightly reconciliation (at most; fewer when they have many
#: responses).
RECONCILE_CHUNK = RECORDS_PER_PLAN

Reader = Callable[[Mapping[str, Mapping[str, Any]]], dict[str, dict[str, Any]]]


def _reader(
    system: str, obj: str, crm: WriteBackCrm, helpdesk: WriteBackHelpdesk | None, retry: RetryPolicy
) -> Reader | None:
    """How to read the current values of these records back, or None when we cannot."""
    if system == "salesforce" and obj in ("Contact", "Account"):

        def salesforce(records: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
            names = {name for values in records.values() for name in values}
            return read_current(crm, obj, list(records), names, retry)

        return salesforce
    if system == "zendesk" and obj in ("user", "organization") and helpdesk is not None:
        reads = helpdesk
        return lambda records: read_helpdesk(reads, obj, list(records), retry)
    return None


def _repair(
    plan: Plan,
    store: StateStore,
    crm: WriteBackCrm,
    helpdesk: WriteBackHelpdesk | None,
    retry: RetryPolicy,
    stats: WriteBackStats,
    now: datetime,
) -> dict[Key, Values]:
    """What to write so every record holds its planned values.

    Salesforce contacts and accounts and Zendesk users and organizations are compared with what
    the system holds now (hand edits show up); everything else with what we last wrote. The
    store's memory is brought in line with records that already hold the right values.
    """
    remembered, stats.unchanged = changes(plan, store.written.get)
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
        store.written.record(system, obj, in_line, now)
        if to_write:
            pending[(system, obj)] = {rid: dict(records[rid]) for rid in to_write}
    return pending


def reconcile(
    store: StateStore,
    config: Config,
    crm: WriteBackCrm,
    helpdesk: WriteBackHelpdesk | None,
    retry: RetryPolicy,
    now: datetime,
) -> WriteBackStats:
    """Recompute every managed contact and account and repair what differs (the nightly job).

    Salesforce contacts and accounts (one SOQL per 200 ids) and Zendesk users and organizations
    (one ``show_many`` per 100 ids) are read back so hand edits are found; history records are
    compared with what we last wrote. Work goes in chunks bounded by records and by the responses
    behind them (:mod:`.chunks`), so memory stays flat on any book size; a chunk whose lookups
    fail is reported and the others go on.
    """
    stats = WriteBackStats()
    writers = writers_for(config, field_map(config), crm, helpdesk)
    contact_ids, account_ids = store.inbox.routed_record_ids()
    for plan in plans(
        store,
        config,
        crm,
        retry,
        contact_ids=contact_ids,
        account_ids=account_ids,
        now=now,
        fresh=True,
        on_error=lambda exc: stats.errors.append(f"reconcile: {exc}"),
    ):
        part = WriteBackStats()
        pending = _repair(plan, store, crm, helpdesk, retry, part, now)
        send(pending, writers, store, retry, part, now)
        stats.add(part)
    return stats
