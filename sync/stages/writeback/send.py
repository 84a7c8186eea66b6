"""Write-back sending: the planned values go out in batches, Salesforce and Zendesk side by
side, and what landed is remembered as written.

A record the system rejects is reported (its tier is in its result) and the rest land. A call
that fails part way (one bulk job or collection of several) keeps what its other parts wrote:
that is remembered as written at once, and the retry, honouring any ``Retry-After``, or the next
pass sends only the records still unanswered. The retries start over for as long as they get
more of the call answered, so a steady fault rate fails a part at a time, not the whole call.
"""

from __future__ import annotations

import hashlib
import logging
import marshal
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from typing import Any

from connectors.errors import ConnectorError, DeferError, RetryableError, UnreachableError
from connectors.models import FieldUpdate, WriteResult
from sync.core.config import Config
from sync.core.ports import WriteBackCrm, WriteBackHelpdesk
from sync.core.retry import RetryPolicy
from sync.core.throttle import OUTAGE_LINES
from sync.fields.fieldmap import FieldMap, HistoryMap, field_map
from sync.stages.writeback.plan import Key, Plan, Values, changes, plans, whole_upserts
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
    #: Systems found down as a whole (:class:`UnreachableError`): what was not written to them
    #: stays queued, without counting as a failed attempt, however long the outage.
    unreachable: list[UnreachableError] = field(default_factory=list)

    def total(self) -> int:
        return sum(self.updated.values())

    def add(self, other: WriteBackStats) -> None:
        for key, count in other.updated.items():
            self.updated[key] = self.updated.get(key, 0) + count
        self.unchanged += other.unchanged
        self.errors.extend(other.errors)
        self.drift += other.drift
        self.deferred.extend(other.deferred)
        self.unreachable.extend(other.unreachable)


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


class Landed:
    """Whole records that landed in this process, as digests of their values, by (system,
    object) and record id: a plan that computes the same values for them again has nothing to
    send, known without reading back every value that was written."""

    def __init__(self) -> None:
        self._digests: dict[Key, dict[str, bytes]] = defaultdict(dict)

    def add(self, key: Key, records: Mapping[str, Mapping[str, Any]]) -> None:
        digests = self._digests[key]
        for record_id, values in records.items():
            digests[record_id] = _digest(values)

    def unchanged(self, plan: Plan) -> tuple[Plan, int]:
        """``plan`` without the records that landed with these very values; how many those are."""
        values: dict[Key, Mapping[str, Mapping[str, Any]]] = {}
        same = 0
        for key, records in plan.values.items():
            digests = self._digests.get(key)
            if not digests:
                values[key] = records
                continue
            kept = {rid: v for rid, v in records.items() if digests.get(rid) != _digest(v)}
            same += len(records) - len(kept)
            values[key] = kept
        return Plan(values), same


def _digest(values: Mapping[str, Any]) -> bytes:
    """The values, field names and types, in their planned order (one field map plans them the
    same way each time), hashed. ``marshal`` version 2 writes no back-references, so equal values
    give the same bytes, and it is over twice as fast as ``repr`` of the sorted items."""
    try:
        data = marshal.dumps(tuple(values.items()), 2)
    except ValueError:  # a value marshal does not know (a date): its text instead
        data = repr(sorted(values.items())).encode()
    return hashlib.blake2b(data, digest_size=16).digest()


def _send_system(
    pending: Mapping[Key, Values],
    writers: Mapping[Key, Writer],
    store: StateStore,
    retry: RetryPolicy,
    now: datetime,
    remember: Landed | None = None,
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
                if remember is not None:
                    remember.add((system, obj), values)
                key = f"{system}.{obj}"
                stats.updated[key] = stats.updated.get(key, 0) + len(values)

        label = " and ".join(obj for _, obj in part)
        try:
            _write_all(retry, writer, updates, land)
        except DeferError as exc:  # this system's remaining objects wait for the time it gave
            stats.deferred.append(exc)
            log.warning("write-back to %s deferred: %s", system, exc, extra={"system": system})
            break
        except UnreachableError as exc:  # this system's remaining objects wait for it
            stats.unreachable.append(exc)
            message = "write-back to %s waits for it: %s"
            OUTAGE_LINES.log(
                log,
                logging.ERROR,
                f"write-back:{system}",
                message,
                system,
                exc,
                extra={"system": system},
            )
            break
        except ConnectorError as exc:
            stats.errors.append(f"{system} {label}: {exc}")
            log.error(
                "write-back of %s %s failed: %s", system, label, exc, extra={"system": system}
            )
            continue
    return stats


def _write_all(
    retry: RetryPolicy,
    writer: Writer,
    updates: Sequence[FieldUpdate],
    land: Callable[[Sequence[tuple[FieldUpdate, WriteResult]]], None],
) -> None:
    """Write ``updates`` with the retry policy's tries, and its tries again for as long as the
    tries before got more of them answered.

    A write of many collections or jobs stops at the first that fails and its retry sends the
    rest: under a steady fault rate, the write as a whole fails far more often than any of its
    parts, so a budget of tries shared by all of them runs out with collections unsent. Every
    update is a plain write of values, harmless to send again; a system that answers nothing
    more still ends the write after one budget, and a policy of one try is kept to one."""
    answers: list[WriteResult | None] = [None] * len(updates)
    while True:
        before = answers.count(None)
        try:
            retry.call(partial(_write_rest, writer, updates, answers, land))
            return
        except RetryableError:
            if retry.attempts <= 1 or answers.count(None) == before:
                raise


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

    again: list[str] = []

    def settle(results: Sequence[WriteResult | None]) -> None:
        if not results:
            return
        settled: list[tuple[int, WriteResult]] = []
        for i, result in zip(todo, results, strict=True):
            if result is None:
                continue
            if not result.ok and result.tier == "retry":  # a locked row: asked again, not failed
                again.append(f"{updates[i].object_type} {updates[i].record_id}: {result.error}")
                continue
            answers[i] = result
            settled.append((i, result))
        land([(updates[i], result) for i, result in settled])

    try:
        results = writer([updates[i] for i in todo])
    except ConnectorError as exc:
        settle(exc.results)
        raise
    settle(results)
    if again:
        more = f" (and {len(again) - 1} more)" if len(again) > 1 else ""
        raise RetryableError(f"{again[0]}{more}")


def send(
    pending: Mapping[Key, Values],
    writers: Mapping[Key, Writer],
    store: StateStore,
    retry: RetryPolicy,
    stats: WriteBackStats,
    now: datetime,
    remember: Landed | None = None,
) -> None:
    """Write every pending record; Salesforce and Zendesk side by side (each system's objects
    in order), since neither waits for the other. ``remember`` keeps what landed."""
    systems: dict[str, dict[Key, Values]] = defaultdict(dict)
    for key, records in pending.items():
        systems[key[0]][key] = records
    if len(systems) < 2:
        for part in systems.values():
            stats.add(_send_system(part, writers, store, retry, now, remember))
        return
    with ThreadPoolExecutor(max_workers=len(systems), thread_name_prefix="write-back") as pool:
        futures = [
            pool.submit(_send_system, part, writers, store, retry, now, remember)
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


class BatchSender:
    """Sends pending records in batches of :data:`FLUSH_RECORDS`, each in the background while
    the caller plans the next.

    Batches go out one at a time and in order, so a record planned twice ends with its later
    values. A record of the batch in flight has no known written value yet (its values were
    forgotten, or are about to be), so :meth:`written` reports none for it and a later plan sends
    it whole rather than skipping it as unchanged. Once a system defers, nothing more is sent.
    """

    def __init__(
        self,
        writers: Mapping[Key, Writer],
        store: StateStore,
        retry: RetryPolicy,
        now: datetime,
        remember: Landed | None = None,
    ) -> None:
        self.stats = WriteBackStats()
        self._remember = remember
        self._writers = writers
        self._store = store
        self._retry = retry
        self._now = now
        self._pending: dict[Key, Values] = {}
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="write-back-batch")
        self._flight: Future[WriteBackStats] | None = None
        self._in_flight: dict[Key, frozenset[str]] = {}

    def written(
        self, system: str, obj: str, record_ids: Sequence[str]
    ) -> dict[str, dict[str, Any]]:
        """What was last written to these records, as far as it is known now."""
        found = self._store.written.get(system, obj, record_ids)
        flying = self._in_flight.get((system, obj), frozenset())
        return {rid: fields for rid, fields in found.items() if rid not in flying}

    def deferred(self) -> bool:
        """A system asked us to wait (the batch in flight counts once it has finished)."""
        if self._flight is not None and self._flight.done():
            self.wait()
        return bool(self.stats.deferred)

    def add(self, part: Mapping[Key, Values]) -> None:
        """Add planned changes (a record planned again wins); a full batch goes out."""
        if _merge(self._pending, part) >= FLUSH_RECORDS:
            self._submit()

    def flush(self) -> None:
        """Send what is pending and wait until everything has been sent."""
        self._submit()
        self.wait()

    def wait(self) -> None:
        """Wait for the batch in flight and count it."""
        flight, self._flight = self._flight, None
        if flight is None:
            return
        try:
            self.stats.add(flight.result())
        finally:
            self._in_flight = {}

    def close(self) -> None:
        """Wait for the batch in flight (what is still pending is not sent) and stop."""
        try:
            self.wait()
        finally:
            self._pool.shutdown()

    def _submit(self) -> None:
        pending, self._pending = self._pending, {}
        self.wait()
        if self.stats.deferred or not pending:
            return
        self._in_flight = {key: frozenset(records) for key, records in pending.items()}
        self._flight = self._pool.submit(self._send, pending)

    def _send(self, pending: Mapping[Key, Values]) -> WriteBackStats:
        stats = WriteBackStats()
        send(pending, self._writers, self._store, self._retry, stats, self._now, self._remember)
        return stats


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
    landed: Landed | None = None,
) -> WriteBackStats:
    """Recompute and write the fields of these contacts and accounts (only what changed).

    ``fresh`` reads ARR and renewal dates from Salesforce instead of the latest match. Planning
    goes chunk by chunk (:func:`~sync.stages.writeback.plan.plans`) and what changed is sent
    every :data:`FLUSH_RECORDS` records, so memory stays flat however many responses are behind
    the records, while batches stay full. Each batch is sent while the next one is planned
    (:class:`BatchSender`). A system that defers stops the rest: it stays queued. Records
    ``landed`` holds with the values planned now are unchanged without being compared.
    """
    fmap = field_map(config)
    sender = BatchSender(writers_for(config, fmap, crm, helpdesk), store, retry, now)
    planned = plans(
        store,
        config,
        crm,
        retry,
        contact_ids=contact_ids,
        account_ids=account_ids,
        now=now,
        fresh=fresh,
    )
    try:
        while not sender.deferred():
            try:
                plan = next(planned, None)
            except ConnectorError:
                sender.wait()  # had the batch in flight been deferred, planning stopped there
                if sender.stats.deferred:
                    break
                raise
            if plan is None:
                break
            if landed is not None:
                plan, same = landed.unchanged(plan)
                sender.stats.unchanged += same
            part, unchanged = changes(plan, sender.written)
            sender.stats.unchanged += unchanged
            sender.add(whole_upserts(part, plan, fmap))
        sender.flush()
    finally:
        sender.close()
    return sender.stats
