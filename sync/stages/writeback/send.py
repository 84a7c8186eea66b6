"""Write-back sending: the planned values go out in batches, Salesforce and Zendesk side by
side, and what landed is remembered as written.

A record the system rejects is reported (its tier is in its result) and the rest land. A call
that fails part way (one bulk job or collection of several) keeps what its other parts wrote:
that is remembered as written at once, and the retry, honouring any ``Retry-After``, or the next
pass sends only the records still unanswered.
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
#: The object name of a system's writer that takes the updates of all its objects at once (by
#: each update's ``object_type``) and answers one result per update, in order.
JOINT = "*"


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
        writers[("zendesk", JOINT)] = helpdesk.update_fields
    return writers


def _send_system(
    pending: Mapping[Key, Values],
    writers: Mapping[Key, Writer],
    store: StateStore,
    retry: RetryPolicy,
    now: datetime,
) -> WriteBackStats:
    """One system's records, object by object; or, when the system has a :data:`JOINT` writer,
    all its objects in one call (their bulk jobs waited for together)."""
    stats = WriteBackStats()
    rounds: list[tuple[Writer, dict[Key, Values]]] = []
    for (system, obj), records in sorted(pending.items()):
        writer = writers.get((system, obj))
        if writer is None or not records:
            continue
        joint = writers.get((system, JOINT))
        if joint is not None and rounds and rounds[-1][0] is joint:
            rounds[-1][1][(system, obj)] = records
        else:
            rounds.append((joint or writer, {(system, obj): records}))
    for writer, part in rounds:
        system = next(iter(part))[0]
        updates = [
            FieldUpdate(obj, rid, dict(values))
            for (_, obj), records in part.items()
            for rid, values in sorted(records.items())
        ]
        for (_, obj), records in part.items():
            store.written.forget(system, obj, records)  # in doubt until the system answers

        def land(answered: Sequence[tuple[FieldUpdate, WriteResult]], system: str = system) -> None:
            """Remember what landed at once (a later failure or a kill does not send it again)
            and report what the system refused."""
            landed: dict[str, Values] = defaultdict(dict)
            for update, result in answered:
                if result.ok:
                    landed[update.object_type][update.record_id] = dict(update.values)
                else:
                    stats.errors.append(
                        f"{system} {update.object_type} {update.record_id}: {result.error}"
                    )
            for obj, values in landed.items():
                store.written.record(system, obj, values, now)
                key = f"{system}.{obj}"
                stats.updated[key] = stats.updated.get(key, 0) + len(values)

        label = " and ".join(obj for _, obj in part)
        try:
            retry.call(partial(_write_rest, writer, updates, [None] * len(updates), land))
        except DeferError as exc:  # this system's remaining objects wait for the time it gave
            stats.deferred.append(exc)
            log.warning("write-back to %s deferred: %s", system, exc, extra={"system": system})
            break
        except ConnectorError as exc:
            stats.errors.append(f"{system} {label}: {exc}")
            log.error(
                "write-back of %s %s failed: %s", system, label, exc, extra={"system": system}
            )
            continue
    return stats


def _write_rest(
    writer: Writer,
    updates: Sequence[FieldUpdate],
    answers: list[WriteResult | None],
    land: Callable[[Sequence[tuple[FieldUpdate, WriteResult]]], None],
) -> None:
    """One try of a write: the ``updates`` not answered yet go out, and their answers are
    filled in and handed to ``land`` as soon as they are known, also those of a call an error
    stopped part way (:attr:`~connectors.errors.ConnectorError.results`): a retry, or the next
    pass, sends only the rest."""
    todo = [i for i, answer in enumerate(answers) if answer is None]
    if not todo:
        return

    def settle(results: Sequence[WriteResult | None]) -> None:
        if not results:
            return
        settled = [(i, r) for i, r in zip(todo, results, strict=True) if r is not None]
        for i, result in settled:
            answers[i] = result
        land([(updates[i], result) for i, result in settled])

    try:
        results = writer([updates[i] for i in todo])
    except ConnectorError as exc:
        settle(exc.results)
        raise
    settle(results)


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
