"""Write-back sending: the planned values go out in batches, Salesforce and Zendesk side by
side, and what landed is remembered as written.

A record the system rejects is reported (its tier is in its result) and the rest land.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial

from connectors.errors import ConnectorError, DeferError
from connectors.models import FieldUpdate, WriteResult
from sync.core.config import Config
from sync.core.ports import WriteBackCrm, WriteBackHelpdesk
from sync.core.retry import RetryPolicy
from sync.fields.fieldmap import FieldMap, HistoryMap, field_map
from sync.stages.writeback.plan import Key, Values, changes, plans, whole_upserts
from sync.state import StateStore

log = logging.getLogger(__name__)


@dataclass
class WriteBackStats:
    updated: dict[str, int] = field(default_factory=dict)
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)
    #: Records rewritten because Salesforce or Zendesk held something else than what we had written.
    drift: int = 0
    #: Systems that asked us to wait (a rate limit, a spent API allowance), with the time they
    #: gave: what was not written to them stays queued, without counting as a failed attempt.
    deferred: list[DeferError] = field(default_factory=list)

    def total(self) -> int:
        return sum(self.updated.values())

    def add(self, other: WriteBackStats) -> None:
        for key, count in other.updated.items():
            self.updated[key] = self.updated.get(key, 0) + count
        self.unchanged += other.unchanged
        self.errors.extend(other.errors)
        self.drift += other.drift
        self.deferred.extend(other.deferred)


Writer = Callable[[Sequence[FieldUpdate]], list[WriteResult]]


def _history_writer(crm: WriteBackCrm, history: HistoryMap) -> Writer:
    """Upserts by external id; Bulk API 2.0 above the connector's bulk threshold."""

    def write(updates: Sequence[FieldUpdate]) -> list[WriteResult]:
        by_external = {str(u.values[history.external_id]): u.record_id for u in updates}
        results = crm.upsert_records(
            history.object, history.external_id, [u.values for u in updates]
        )
        return [replace(r, record_id=by_external.get(r.record_id, r.record_id)) for r in results]

    return write


def writers_for(
    config: Config, fmap: FieldMap, crm: WriteBackCrm, helpdesk: WriteBackHelpdesk | None
) -> dict[Key, Writer]:
    writers: dict[Key, Writer] = {
        ("salesforce", "Contact"): crm.update_records,
        ("salesforce", "Account"): crm.update_records,
    }
    if fmap.history is not None:
        writers[("salesforce", fmap.history.object)] = _history_writer(crm, fmap.history)
    if helpdesk is not None:
        writers[("zendesk", "user")] = helpdesk.update_users
        writers[("zendesk", "organization")] = helpdesk.update_organizations
    return writers


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
        store.written.forget(system, obj, records)  # in doubt until the system answers
        try:
            results = retry.call(partial(writer, updates))
        except DeferError as exc:  # this system's remaining objects wait for the time it gave
            stats.deferred.append(exc)
            log.warning("write-back to %s deferred: %s", system, exc, extra={"system": system})
            break
        except ConnectorError as exc:
            stats.errors.append(f"{system} {obj}: {exc}")
            log.error("write-back of %s %s failed: %s", system, obj, exc, extra={"system": system})
            continue
        landed = {r.record_id: records[r.record_id] for r in results if r.ok}
        for r in results:
            if not r.ok:
                stats.errors.append(f"{system} {obj} {r.record_id}: {r.error}")
        store.written.record(system, obj, landed, now)
        stats.updated[f"{system}.{obj}"] = stats.updated.get(f"{system}.{obj}", 0) + len(landed)
    return stats


def send(
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


#: Pending records (field changes, history records) that are sent before planning goes on:
#: a multiple of both systems' batch sizes, and above the default Bulk API threshold.
FLUSH_RECORDS = 5000


def _merge(into: dict[Key, Values], part: Mapping[Key, Values]) -> int:
    """Add ``part`` to ``into`` (a record planned again wins); how many records ``into`` holds."""
    for key, records in part.items():
        into.setdefault(key, {}).update(records)
    return sum(len(records) for records in into.values())


def write_back(
    store: StateStore,
    config: Config,
    crm: WriteBackCrm,
    helpdesk: WriteBackHelpdesk | None,
    retry: RetryPolicy,
    *,
    contact_ids: Sequence[str],
    account_ids: Sequence[str],
    now: datetime,
    fresh: bool = False,
) -> WriteBackStats:
    """Recompute and write the fields of these contacts and accounts (only what changed).

    ``fresh`` reads ARR and renewal dates from Salesforce instead of the latest match. Planning
    goes chunk by chunk (:func:`~sync.stages.writeback.plan.plans`) and what changed is sent
    every :data:`FLUSH_RECORDS` records, so memory stays flat however many responses are behind
    the records, while batches stay full. A system that defers stops the rest: it stays queued.
    """
    stats = WriteBackStats()
    fmap = field_map(config)
    writers = writers_for(config, fmap, crm, helpdesk)
    pending: dict[Key, Values] = {}
    for plan in plans(
        store,
        config,
        crm,
        retry,
        contact_ids=contact_ids,
        account_ids=account_ids,
        now=now,
        fresh=fresh,
    ):
        part, unchanged = changes(plan, store.written.get)
        stats.unchanged += unchanged
        if _merge(pending, whole_upserts(part, plan, fmap)) >= FLUSH_RECORDS:
            send(pending, writers, store, retry, stats, now)
            pending = {}
            if stats.deferred:
                return stats
    send(pending, writers, store, retry, stats, now)
    return stats
