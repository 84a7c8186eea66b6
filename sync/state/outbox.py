"""The outbox: action intents, their leases, results and the dead-letter list.

Intents are written before any external call. ``claim`` hands them out under a lease
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so several workers never run the same intent at once
and a crashed worker's lease simply expires. A live worker keeps its lease with ``renew``, which
also tells it whether it still owns the intents before it acts on them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sync.state import schema as t
from sync.state.batched import BatchStatement
from sync.state.database import Database
from sync.state.dialect import chunks, insert_ignore

#: The claim priority of a detractor's actions: they go first when only part of the outbox can.
DETRACTOR_FIRST = 0
#: The claim priority of every other action.
ORDINARY = 1


@dataclass(frozen=True, slots=True)
class ActionIntent:
    """An action the router asked for, keyed so that it happens at most once."""

    key: str
    source: str
    response_id: str
    rule: str
    action: str
    kind: str
    payload: Mapping[str, Any]
    ruleset_hash: str
    #: Claimed lowest first (:data:`DETRACTOR_FIRST` for a detractor's actions).
    priority: int = ORDINARY
    #: Looked up by its key before its first create (:mod:`sync.state.restored`): its record
    #: may exist although the outbox never saw it made.
    verify_first: bool = False


@dataclass(frozen=True, slots=True)
class ClaimedAction:
    key: str
    kind: str
    payload: Mapping[str, Any]
    attempts: int
    failures: int
    source: str
    response_id: str
    rule: str
    external_id: str | None
    #: The Zendesk bulk job an earlier attempt submitted it in (:meth:`Outbox.note_job`).
    job_id: str | None = None
    #: When an earlier attempt sent its create and learnt nothing of what became of it
    #: (:meth:`Outbox.note_sent`); None: no create of it is in doubt.
    in_doubt_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class ActionResult:
    """How one claimed action ended: done, back in the queue (retry, defer) or dead."""

    key: str
    status: Literal["done", "pending", "dead"]
    external_id: str | None = None
    error: str | None = None
    next_attempt_at: datetime | None = None
    #: Counts towards the dead-letter limit (a retry does; a deferral the system asked for not).
    failed: bool = False
    #: When its create was sent unanswered, while the system may still carry it out: stored
    #: unless the outbox holds a later one (:meth:`Outbox.note_sent`).
    in_doubt_since: datetime | None = None
    #: The unanswered creates sent at or before this time are resolved (answered after all, or
    #: not found once they could no longer land): their doubt is cleared. Any other result
    #: keeps the doubt it found, as it learnt nothing of it; a ``done`` result clears every one.
    settles_sent_by: datetime | None = None

    @classmethod
    def done(cls, key: str, external_id: str) -> ActionResult:
        return cls(key, "done", external_id=external_id)

    @classmethod
    def retry(
        cls, key: str, error: str, at: datetime, *, settles_sent_by: datetime | None = None
    ) -> ActionResult:
        return cls(
            key,
            "pending",
            error=error,
            next_attempt_at=at,
            failed=True,
            settles_sent_by=settles_sent_by,
        )

    @classmethod
    def defer(
        cls,
        key: str,
        reason: str,
        until: datetime,
        in_doubt_since: datetime | None = None,
        *,
        failed: bool = False,
        settles_sent_by: datetime | None = None,
    ) -> ActionResult:
        """Back in the queue at ``until``; ``failed``: counted towards the dead-letter limit
        all the same (an unanswered create that lapsed, held again after it was sent anew)."""
        return cls(
            key,
            "pending",
            error=reason,
            next_attempt_at=until,
            failed=failed,
            in_doubt_since=in_doubt_since,
            settles_sent_by=settles_sent_by,
        )

    @classmethod
    def dead(cls, key: str, error: str, *, settles_sent_by: datetime | None = None) -> ActionResult:
        return cls(key, "dead", error=error, failed=True, settles_sent_by=settles_sent_by)


@dataclass
class OutboxCounts:
    """Actions of one kind by state, for ``nps-sync status``."""

    due: int = 0
    waiting: int = 0
    next_attempt_at: datetime | None = None
    in_flight: int = 0
    done: int = 0
    dead: int = 0


@dataclass(frozen=True, slots=True)
class ActionRow:
    key: str
    kind: str
    status: str
    attempts: int
    failures: int
    rule: str
    action: str
    source: str
    response_id: str
    external_id: str | None
    last_error: str | None
    next_attempt_at: datetime
    payload: Mapping[str, Any]
    priority: int = ORDINARY
    created_at: datetime | None = None

    @property
    def unresolved(self) -> bool:
        """Still to run, running, or waiting for another attempt: neither done nor dead."""
        return self.status in ("pending", "claimed")


class Outbox:
    """The ``nps_actions`` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # -- enqueueing ----------------------------------------------------------------------------
    def add(self, intents: Iterable[ActionIntent], now: datetime, conn: Connection) -> int:
        """Enqueue the intents whose key is not in the outbox yet (in the caller's transaction);
        returns how many were new. Used by routing, whose decision commits with them."""
        by_key = {i.key: i for i in intents}
        existing = self.existing(by_key, conn)
        fresh = [_intent_row(i, now) for key, i in by_key.items() if key not in existing]
        _INSERT_ACTIONS.execute(conn, fresh)
        return len(fresh)

    def existing(self, keys: Iterable[str], conn: Connection | None = None) -> set[str]:
        """The keys among ``keys`` that are in the outbox, whatever their state."""
        found: set[str] = set()
        with self._db.reading(conn) as db:
            for chunk in chunks(sorted(set(keys))):
                found.update(
                    db.execute(sa.select(t.actions.c.key).where(t.actions.c.key.in_(chunk)))
                    .scalars()
                    .all()
                )
        return found

    def enqueue(self, intents: Sequence[ActionIntent], now: datetime) -> int:
        """Add intents outside a routing decision (escalations); returns how many were new.
        An intent whose key exists already is left alone, as in routing."""
        first: dict[str, ActionIntent] = {}
        for intent in intents:
            first.setdefault(intent.key, intent)
        rows = [_intent_row(i, now) for i in first.values()]
        if not rows:
            return 0
        with self._db.writing() as conn:
            result = conn.execute(insert_ignore(conn, t.actions).returning(t.actions.c.key), rows)
            return len(result.all())

    def reopen_done(self, keys: Sequence[str], now: datetime) -> int:
        """Queue finished actions again (their executors must be safe to run twice); returns
        how many were done. For an action whose outcome depended on one that failed and was
        then put back in the queue: a Task's link to a ticket that reached the failed list."""
        a = t.actions
        reopened = 0
        with self._db.writing() as conn:
            for chunk in chunks(sorted(set(keys))):
                result = conn.execute(
                    a.update()
                    .where(a.c.key.in_(chunk), a.c.status == "done")
                    .values(
                        status="pending",
                        failures=0,
                        external_id=None,
                        last_error=None,
                        next_attempt_at=now,
                        updated_at=now,
                    )
                )
                reopened += int(result.rowcount or 0)
        return reopened

    def verify_unfinished(self, now: datetime) -> int:
        """Mark every action not yet carried out to be looked up by its key before its first
        create (:mod:`sync.state.restored`); returns how many were marked."""
        a = t.actions
        with self._db.writing() as conn:
            result = conn.execute(
                a.update()
                .where(a.c.status == "pending", a.c.attempts == 0)
                .values(attempts=1, updated_at=now)
            )
            return int(result.rowcount or 0)

    # -- leases and results --------------------------------------------------------------------
    def claim(
        self,
        owner: str,
        *,
        limit: int,
        lease: timedelta,
        now: datetime,
        kinds: Sequence[str] | None = None,
    ) -> list[ClaimedAction]:
        """Lease up to ``limit`` due actions to ``owner``; expired leases are reclaimable.

        Detractors' actions are claimed first (``priority``), then the longest due: when a rate
        limit or the API allowance stops a pass part-way, what it did create is what matters most.
        Claiming counts an attempt, *before* any external call: an action claimed with
        ``attempts > 1`` may already have had an effect, so its executor looks for its marker
        before creating anything.
        """
        a = t.actions
        # Pending and expired actions are read apart, each in claim order from the index of
        # that order per status and kind, and merged: one query over both sorted every
        # pending action at each claim.
        due = (
            sa.and_(a.c.status == "pending", a.c.next_attempt_at <= now),
            sa.and_(a.c.status == "claimed", a.c.lease_until < now),
        )
        order = (a.c.priority, a.c.next_attempt_at, a.c.key)
        candidates: list[Any] = []
        with self._db.writing() as conn:
            for status in due:
                query = sa.select(*order).where(status).order_by(*order).limit(limit)
                if kinds:
                    # One kind (as the drain asks) by equality, which keeps the index's order.
                    kind = a.c.kind == kinds[0] if len(kinds) == 1 else a.c.kind.in_(list(kinds))
                    query = query.where(kind)
                if self._db.dialect == "postgresql":
                    query = query.with_for_update(skip_locked=True)
                candidates.extend(conn.execute(query).all())
            keys = [row.key for row in sorted(candidates, key=tuple)[:limit]]
            if not keys:
                return []
            conn.execute(
                a.update()
                .where(a.c.key.in_(keys))
                .values(
                    status="claimed",
                    lease_owner=owner,
                    lease_until=now + lease,
                    attempts=a.c.attempts + 1,
                    updated_at=now,
                )
            )
            rows = conn.execute(sa.select(a).where(a.c.key.in_(keys)).order_by(a.c.key)).all()
        return [
            ClaimedAction(
                key=row.key,
                kind=row.kind,
                payload=row.payload,
                attempts=row.attempts,
                failures=row.failures,
                source=row.source,
                response_id=row.response_id,
                rule=row.rule,
                external_id=row.external_id,
                job_id=row.job_id,
                in_doubt_since=row.in_doubt_since,
            )
            for row in rows
        ]

    def kinds_due(self, kinds: Sequence[str], now: datetime) -> set[str]:
        """Which of ``kinds`` have an action :meth:`claim` would take now, in one statement: a
        drain skips the claims of the others (most kinds have nothing to do in most passes)."""
        a = t.actions
        due = (
            sa.and_(a.c.status == "pending", a.c.next_attempt_at <= now),
            sa.and_(a.c.status == "claimed", a.c.lease_until < now),
        )
        probes = [
            sa.select(sa.literal(kind).label("kind")).where(
                sa.exists().where(a.c.kind == kind, status)
            )
            for kind in dict.fromkeys(kinds)
            for status in due
        ]
        if not probes:
            return set()
        with self._db.reading() as conn:
            return {str(row.kind) for row in conn.execute(sa.union(*probes))}

    def record_results(self, owner: str, results: Sequence[ActionResult], now: datetime) -> int:
        """Record how claimed actions ended, in one transaction; returns how many were recorded.

        A result counts only while ``owner`` still holds the action's lease: a worker whose lease
        expired (and whose action another worker may have taken over) cannot overwrite it.
        A create in doubt stays in doubt until a result resolves it (:func:`_doubt_after`).
        """
        # Results of one shape (which columns they change) share one executemany statement.
        shapes: dict[tuple[bool, bool, bool], list[dict[str, Any]]] = {}
        for res in results:
            shape = (res.status == "done", res.next_attempt_at is not None, res.failed)
            shapes.setdefault(shape, []).append(
                {
                    "b_key": res.key,
                    "b_status": res.status,
                    "b_last_error": res.error[:2000] if res.error else None,
                    "b_external_id": res.external_id,
                    "b_next_attempt_at": res.next_attempt_at,
                    "b_in_doubt_since": res.in_doubt_since,
                    "b_settles_sent_by": res.settles_sent_by,
                }
            )
        applied = 0
        with self._db.writing() as conn:
            for shape, rows in shapes.items():
                result = conn.execute(_result_update(owner, now, *shape), rows)
                applied += int(result.rowcount)
        return applied

    def complete(self, key: str, owner: str, external_id: str, now: datetime) -> bool:
        return self.record_results(owner, [ActionResult.done(key, external_id)], now) == 1

    def retry(
        self, key: str, owner: str, error: str, next_attempt_at: datetime, now: datetime
    ) -> bool:
        """Record a failure; the action becomes due again at ``next_attempt_at``."""
        result = ActionResult.retry(key, error, next_attempt_at)
        return self.record_results(owner, [result], now) == 1

    def defer(self, key: str, owner: str, reason: str, not_before: datetime, now: datetime) -> bool:
        """Park an action without counting a failure: the system asked us to wait (quota, 429)."""
        result = ActionResult.defer(key, reason, not_before)
        return self.record_results(owner, [result], now) == 1

    def kill(self, key: str, owner: str, error: str, now: datetime) -> bool:
        """Move an action to the dead-letter list with its last error."""
        return self.record_results(owner, [ActionResult.dead(key, error)], now) == 1

    def renew(
        self, owner: str, keys: Sequence[str], *, lease: timedelta, now: datetime
    ) -> set[str]:
        """Extend ``owner``'s leases on ``keys`` to ``now + lease``; returns the keys it still
        held. A lease that ran out is not renewed even if no one took it over: its action is
        due for any worker, so its owner must treat it as lost."""
        a = t.actions
        held: set[str] = set()
        with self._db.writing() as conn:
            for chunk in chunks(sorted(set(keys))):
                result = conn.execute(
                    a.update()
                    .where(
                        a.c.key.in_(chunk),
                        a.c.lease_owner == owner,
                        a.c.status == "claimed",
                        a.c.lease_until > now,
                    )
                    .values(lease_until=now + lease)
                    .returning(a.c.key)
                )
                held.update(result.scalars())
        return held

    def note_job(self, keys: Sequence[str], job_id: str, now: datetime) -> None:
        """Remember that a bulk job carrying these actions was accepted, whoever holds them: a
        later attempt waits for that job to end before it looks for what the job created."""
        a = t.actions
        with self._db.writing() as conn:
            for chunk in chunks(sorted(set(keys))):
                conn.execute(
                    a.update().where(a.c.key.in_(chunk)).values(job_id=job_id, updated_at=now)
                )

    def note_sent(self, keys: Sequence[str], at: datetime) -> None:
        """Remember, before the request leaves, that a create carrying these actions is sent at
        ``at``: should the process die before the answer is recorded, a later attempt knows it
        may land until the system stops running it. Only a result that resolves it clears it
        (:func:`_doubt_after`)."""
        a = t.actions
        with self._db.writing() as conn:
            for chunk in chunks(sorted(set(keys))):
                conn.execute(a.update().where(a.c.key.in_(chunk)).values(in_doubt_since=at))

    def release_leases(self, owner: str, now: datetime) -> int:
        """Give back every lease ``owner`` holds (clean shutdown)."""
        return self._release(owner, None, now)

    def release(self, owner: str, keys: Sequence[str], now: datetime) -> int:
        """Give back ``owner``'s leases on ``keys``: their actions are due again at once."""
        return self._release(owner, keys, now) if keys else 0

    def _release(self, owner: str, keys: Sequence[str] | None, now: datetime) -> int:
        a = t.actions
        stmt = a.update().where(a.c.lease_owner == owner, a.c.status == "claimed")
        if keys is not None:
            stmt = stmt.where(a.c.key.in_(list(keys)))
        with self._db.writing() as conn:
            result = conn.execute(
                stmt.values(status="pending", lease_owner=None, lease_until=None, updated_at=now)
            )
        return result.rowcount

    def lease_owners(self) -> list[str]:
        """Owners currently holding leases."""
        a = t.actions
        with self._db.reading() as conn:
            rows = conn.execute(
                sa.select(a.c.lease_owner).where(a.c.status == "claimed").distinct()
            ).scalars()
            return sorted(owner for owner in rows if owner)

    # -- inspection and the dead-letter list ---------------------------------------------------
    def actions(
        self, *, status: str | None = None, keys: Sequence[str] | None = None
    ) -> list[ActionRow]:
        a = t.actions
        query = sa.select(a).order_by(a.c.created_at, a.c.key)
        if status is not None:
            query = query.where(a.c.status == status)
        if keys is not None:
            query = query.where(a.c.key.in_(list(keys)))
        with self._db.reading() as conn:
            rows = conn.execute(query).all()
        return [_action_row(row) for row in rows]

    def done_since(self, kind: str, since: datetime) -> list[ActionRow]:
        """Actions of ``kind`` done with an external id since ``since`` (a cooldown's look back)."""
        a = t.actions
        query = (
            sa.select(a)
            .where(
                a.c.kind == kind,
                a.c.status == "done",
                a.c.updated_at >= since,
                a.c.external_id.is_not(None),
                a.c.external_id != "",
            )
            .order_by(a.c.updated_at, a.c.key)
        )
        with self._db.reading() as conn:
            rows = conn.execute(query).all()
        return [_action_row(row) for row in rows]

    def of_responses(
        self, responses: Iterable[tuple[str, str]], kinds: Sequence[str]
    ) -> dict[tuple[str, str], list[ActionRow]]:
        """The actions of these kinds per (source, response id), oldest first: what a Task or
        ticket of the same response has become (its state and external id)."""
        wanted = set(responses)
        a = t.actions
        found: dict[tuple[str, str], list[ActionRow]] = {}
        with self._db.reading() as conn:
            for chunk in chunks(sorted({rid for _, rid in wanted})):
                rows = conn.execute(
                    sa.select(a)
                    .where(a.c.response_id.in_(chunk), a.c.kind.in_(list(kinds)))
                    .order_by(a.c.created_at, a.c.key)
                ).all()
                for row in rows:
                    pair = (row.source, row.response_id)
                    if pair in wanted:
                        found.setdefault(pair, []).append(_action_row(row))
        return found

    def counts(self) -> dict[str, int]:
        """Actions by status."""
        a = t.actions
        with self._db.reading() as conn:
            rows = conn.execute(sa.select(a.c.status, sa.func.count()).group_by(a.c.status)).all()
        return {status: int(count) for status, count in rows}

    def pending_counts(self) -> dict[tuple[str, int], int]:
        """Pending actions per (kind, priority), counted in SQL."""
        a = t.actions
        query = (
            sa.select(a.c.kind, a.c.priority, sa.func.count())
            .where(a.c.status == "pending")
            .group_by(a.c.kind, a.c.priority)
        )
        with self._db.reading() as conn:
            rows = conn.execute(query).all()
        return {(str(kind), int(priority)): int(count) for kind, priority, count in rows}

    def summary(self, now: datetime) -> dict[str, OutboxCounts]:
        """Per action kind: due, waiting (and until when), in flight, done and dead."""
        a = t.actions
        due = sa.case((a.c.next_attempt_at <= now, 1), else_=0).label("due")
        query = sa.select(
            a.c.kind, a.c.status, due, sa.func.count(), sa.func.min(a.c.next_attempt_at)
        ).group_by(a.c.kind, a.c.status, due)
        with self._db.reading() as conn:
            rows = conn.execute(query).all()
        out: dict[str, OutboxCounts] = {}
        for kind, status, is_due, count, first in rows:
            c = out.setdefault(kind, OutboxCounts())
            if status == "pending" and is_due:
                c.due += count
            elif status == "pending":
                c.waiting += count
                c.next_attempt_at = (
                    first if c.next_attempt_at is None else min(c.next_attempt_at, first)
                )
            elif status == "claimed":
                c.in_flight += count
            elif status == "done":
                c.done += count
            elif status == "dead":
                c.dead += count
        return out

    def wake(
        self, responses: Iterable[tuple[str, str]], kinds: Sequence[str], now: datetime
    ) -> int:
        """Make the waiting actions of these kinds and responses due now (a resurvey waiting for
        its loop, once the loop has ended)."""
        a = t.actions
        wanted = set(responses)
        woken = 0
        with self._db.writing() as conn:
            for chunk in chunks(sorted({rid for _, rid in wanted})):
                rows = conn.execute(
                    sa.select(a.c.key, a.c.source, a.c.response_id).where(
                        a.c.response_id.in_(chunk),
                        a.c.kind.in_(list(kinds)),
                        a.c.status == "pending",
                        a.c.next_attempt_at > now,
                    )
                ).all()
                keys = [r.key for r in rows if (r.source, r.response_id) in wanted]
                if keys:
                    result = conn.execute(
                        a.update()
                        .where(a.c.key.in_(keys), a.c.status == "pending")
                        .values(next_attempt_at=now, updated_at=now)
                    )
                    woken += result.rowcount
        return woken

    def revive(self, keys: Sequence[str] | None, now: datetime) -> int:
        """Put dead actions back in the queue (all of them when ``keys`` is None)."""
        a = t.actions
        stmt = a.update().where(a.c.status == "dead")
        if keys is not None:
            stmt = stmt.where(a.c.key.in_(list(keys)))
        with self._db.writing() as conn:
            result = conn.execute(
                stmt.values(status="pending", failures=0, next_attempt_at=now, updated_at=now)
            )
        return result.rowcount


def _result_update(
    owner: str, now: datetime, done: bool, next_attempt: bool, failed: bool
) -> sa.Update:
    """How results of one shape are recorded, for executemany (``b_`` parameters); a row
    changes only while ``owner`` holds its lease."""
    a = t.actions
    values: dict[str, Any] = {
        "status": sa.bindparam("b_status"),
        "lease_owner": None,
        "lease_until": None,
        "last_error": sa.bindparam("b_last_error"),
        "updated_at": now,
        "in_doubt_since": None if done else _doubt_after(),
    }
    if done:
        values["external_id"] = sa.bindparam("b_external_id")
    if next_attempt:
        when = a.c.next_attempt_at
        values["next_attempt_at"] = sa.bindparam("b_next_attempt_at", type_=when.type)
    if failed:
        values["failures"] = a.c.failures + 1
    return (
        a.update()
        .where(a.c.key == sa.bindparam("b_key"), a.c.lease_owner == owner, a.c.status == "claimed")
        .values(values)
    )


def _doubt_after() -> sa.ColumnElement[Any]:
    """What a result that is not ``done`` leaves of a create in doubt (``b_`` parameters).

    The result's own doubt, if later than the stored one (a hold whose send was not noted);
    else none, if the result settles every create sent by the stored time; else the stored one.
    A result that learnt nothing of the send (a batch told to wait, a lookup that failed) so
    never clears it, nor does one of an earlier send put back a time :meth:`Outbox.note_sent`
    wrote while the batch ran.
    """
    stored = t.actions.c.in_doubt_since
    kind = stored.type
    since = sa.bindparam("b_in_doubt_since", type_=kind)
    settled = sa.bindparam("b_settles_sent_by", type_=kind)
    return sa.case(
        (sa.and_(since.is_not(None), sa.or_(stored.is_(None), stored < since)), since),
        (sa.and_(settled.is_not(None), stored <= settled), sa.null()),
        else_=stored,
    )


_INSERT_ACTIONS = BatchStatement(lambda backend: insert_ignore(backend, t.actions))


def _intent_row(intent: ActionIntent, now: datetime) -> dict[str, Any]:
    return {
        "key": intent.key,
        "source": intent.source,
        "response_id": intent.response_id,
        "rule": intent.rule,
        "action": intent.action,
        "kind": intent.kind,
        "payload": dict(intent.payload),
        "ruleset_hash": intent.ruleset_hash,
        "priority": intent.priority,
        "status": "pending",
        "attempts": 1 if intent.verify_first else 0,  # > 0: claimed as if tried before
        "failures": 0,
        "next_attempt_at": now,
        "created_at": now,
        "updated_at": now,
    }


def _action_row(row: Any) -> ActionRow:
    return ActionRow(
        key=row.key,
        kind=row.kind,
        status=row.status,
        attempts=row.attempts,
        failures=row.failures,
        rule=row.rule,
        action=row.action,
        source=row.source,
        response_id=row.response_id,
        external_id=row.external_id,
        last_error=row.last_error,
        next_attempt_at=row.next_attempt_at,
        payload=row.payload,
        priority=row.priority,
        created_at=row.created_at,
    )
