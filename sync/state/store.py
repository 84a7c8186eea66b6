"""The durable state store: inbox, outbox, cursors, written values and run history.

SQLAlchemy Core over SQLite (default, WAL) or PostgreSQL (several daemons at once). Every method is
one transaction, so what it records is either all there or not there at all:

- ``ingest_page`` stores a page of responses *and* advances the source cursor together;
- ``record_routing`` writes the decision and the action intents (the outbox) before any external
  call;
- ``claim_actions`` hands out intents under a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so
  several workers never run the same intent at once and a crashed worker's lease simply expires.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from connectors.models import SourceProblem, SurveyResponse
from sync.state import schema as t
from sync.state.cooldowns import Cooldowns
from sync.state.database import Database, create_engine, lock_key
from sync.state.escalations import Escalations
from sync.state.inbox import Inbox
from sync.state.runs import Cursors, Runs
from sync.state.tickets import TicketLedger


@dataclass(frozen=True, slots=True)
class IngestStats:
    new: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """The latest version of a response, with what we know about it."""

    response: SurveyResponse
    version: str
    routed_version: str | None
    contact_id: str | None = None
    account_id: str | None = None
    zendesk_user_id: int | None = None
    zendesk_org_id: int | None = None
    match: Mapping[str, Any] | None = None
    decision: Mapping[str, Any] | None = None


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


@dataclass(frozen=True, slots=True)
class RoutingOutcome:
    """Everything the match and route stages learned about one response version."""

    source: str
    response_id: str
    version: str
    match_status: str
    contact_id: str | None
    account_id: str | None
    zendesk_user_id: int | None
    zendesk_org_id: int | None
    match: Mapping[str, Any]
    decision: Mapping[str, Any]
    intents: Sequence[ActionIntent] = field(default_factory=tuple)


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

    @classmethod
    def done(cls, key: str, external_id: str) -> ActionResult:
        return cls(key, "done", external_id=external_id)

    @classmethod
    def retry(cls, key: str, error: str, at: datetime) -> ActionResult:
        return cls(key, "pending", error=error, next_attempt_at=at, failed=True)

    @classmethod
    def defer(cls, key: str, reason: str, until: datetime) -> ActionResult:
        return cls(key, "pending", error=reason, next_attempt_at=until)

    @classmethod
    def dead(cls, key: str, error: str) -> ActionResult:
        return cls(key, "dead", error=error, failed=True)


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
class QueuedWriteBacks:
    """Contacts and accounts waiting for a write-back: record id -> queue generation."""

    contacts: Mapping[str, int] = field(default_factory=dict)
    accounts: Mapping[str, int] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.contacts or self.accounts)


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


class StateStore:
    """All durable state of nps-sync. Thread-safe; one instance per process is enough."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.db = Database(create_engine(url))
        self.engine = self.db.engine
        self.dialect = self.db.dialect
        self.cursors = Cursors(self.db)
        self.runs = Runs(self.db)
        self.cooldowns = Cooldowns(self.db)
        self.escalations = Escalations(self.db)
        self.tickets = TicketLedger(self.db)
        self.inbox = Inbox(self.db)

    # -- lifecycle -----------------------------------------------------------------------------
    def migrate(self) -> int:
        """Create or upgrade the schema; returns the version the database is at.

        Each step runs in one transaction with its version bump, under a lock that concurrent
        starters wait on (PostgreSQL: a transaction advisory lock; SQLite: ``BEGIN IMMEDIATE``),
        so N replicas starting at once upgrade the database exactly once.
        """
        while True:
            with self.engine.begin() as conn:
                if self.dialect == "postgresql":
                    conn.execute(sa.select(sa.func.pg_advisory_xact_lock(lock_key("migrate"))))
                if not sa.inspect(conn).has_table(t.schema_version.name):
                    t.metadata.create_all(conn)
                    conn.execute(t.schema_version.insert().values(id=1, version=t.LATEST_VERSION))
                    return t.LATEST_VERSION
                current = int(conn.execute(sa.select(t.schema_version.c.version)).scalar_one())
                if current > t.LATEST_VERSION:
                    raise RuntimeError(
                        f"state database is at schema version {current}, newer than this "
                        f"nps-sync ({t.LATEST_VERSION}); upgrade nps-sync"
                    )
                if current == t.LATEST_VERSION:
                    return current
                t.MIGRATIONS[current](conn)
                conn.execute(t.schema_version.update().values(version=current + 1))

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    def _insert_ignore(self, table: sa.Table) -> Any:
        """INSERT ... ON CONFLICT DO NOTHING for the current backend."""
        if self.dialect == "postgresql":
            return postgresql.insert(table).on_conflict_do_nothing()
        return sqlite.insert(table).on_conflict_do_nothing()

    def _upsert(self, table: sa.Table, keys: Sequence[str], rows: list[dict[str, Any]]) -> Any:
        """INSERT ... ON CONFLICT (keys) DO UPDATE for the current backend."""
        module: Any = postgresql if self.dialect == "postgresql" else sqlite
        stmt = module.insert(table)
        update = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
        return stmt.on_conflict_do_update(index_elements=list(keys), set_=update), rows

    # -- inbox ---------------------------------------------------------------------------------
    def ingest_page(
        self,
        source: str,
        page: Sequence[SurveyResponse],
        cursor: str | None,
        now: datetime,
        problems: Sequence[SourceProblem] = (),
    ) -> IngestStats:
        """Store a page of responses, its problems and the source's next cursor, atomically.

        A response already stored with the same version is left alone; a newer version replaces
        the current one (older versions are kept in the version history) and is routed again.
        """
        new = updated = unchanged = 0
        latest: dict[str, SurveyResponse] = {}
        for resp in page:
            prior = latest.get(resp.response_id)
            if prior is None or resp.updated_at >= prior.updated_at:
                latest[resp.response_id] = resp
        with self.engine.begin() as conn:
            existing: dict[str, tuple[str, datetime]] = {}
            ids = list(latest)
            for chunk in _chunks(ids, 500):
                rows = conn.execute(
                    sa.select(
                        t.responses.c.response_id, t.responses.c.version, t.responses.c.updated_at
                    ).where(t.responses.c.source == source, t.responses.c.response_id.in_(chunk))
                ).all()
                existing.update({r.response_id: (r.version, r.updated_at) for r in rows})
            inserts: list[dict[str, Any]] = []
            for rid, resp in latest.items():
                version = _version_of(resp)
                known = existing.get(rid)
                if known is None:
                    inserts.append(_response_row(resp, version, now))
                    new += 1
                elif known[0] == version or resp.updated_at < known[1]:
                    unchanged += 1
                    continue
                else:
                    row = _response_row(resp, version, now)
                    for k in ("source", "response_id", "received_at"):
                        row.pop(k)
                    conn.execute(
                        t.responses.update()
                        .where(t.responses.c.source == source, t.responses.c.response_id == rid)
                        .values(**row)
                    )
                    updated += 1
                conn.execute(
                    self._insert_ignore(t.response_versions).values(
                        source=source,
                        response_id=rid,
                        version=version,
                        score=resp.score,
                        comment=resp.comment,
                        received_at=now,
                    )
                )
            if inserts:
                conn.execute(t.responses.insert(), inserts)
            if cursor is not None:
                self.cursors.set(source, cursor, now, conn)
            _insert_problems(conn, problems, now)
        return IngestStats(new, updated, unchanged)

    def record_problems(self, problems: Iterable[SourceProblem], now: datetime) -> None:
        with self.engine.begin() as conn:
            _insert_problems(conn, problems, now)

    def pending_responses(self, limit: int, now: datetime) -> list[StoredResponse]:
        """Responses whose latest version has not been routed yet, oldest first."""
        r = t.responses
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(r)
                .where(
                    r.c.status == "pending",
                    sa.or_(r.c.not_before.is_(None), r.c.not_before <= now),
                )
                .order_by(r.c.updated_at, r.c.source, r.c.response_id)
                .limit(limit)
            ).all()
        return [_stored(row) for row in rows]

    def get_response(self, source: str, response_id: str) -> StoredResponse | None:
        r = t.responses
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(r).where(r.c.source == source, r.c.response_id == response_id)
            ).one_or_none()
        return _stored(row) if row is not None else None

    def find_responses(self, response_id: str) -> list[StoredResponse]:
        """Every stored response with this id, across sources."""
        r = t.responses
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(r).where(r.c.response_id == response_id)).all()
        return [_stored(row) for row in rows]

    def defer_responses(self, keys: Iterable[tuple[str, str]], not_before: datetime) -> None:
        """Route these responses again no earlier than ``not_before`` (a settle delay)."""
        r = t.responses
        with self.engine.begin() as conn:
            for source, rid in keys:
                conn.execute(
                    r.update()
                    .where(r.c.source == source, r.c.response_id == rid)
                    .values(not_before=not_before)
                )

    def record_routing(self, outcomes: Sequence[RoutingOutcome], now: datetime) -> int:
        """Store decisions, enqueue their intents and queue write-backs; returns new intents.

        All in one transaction. An intent whose key exists already (the same response, rule and
        action from an earlier version) is not enqueued again. A response that got a newer
        version meanwhile stays pending for it. The matched contact and account are queued for
        write-back here, so a crash before the write-back stage cannot lose their field update.
        """
        if not outcomes:
            return 0
        r = t.responses
        decided = (
            r.update()
            .where(
                r.c.source == sa.bindparam("b_source"),
                r.c.response_id == sa.bindparam("b_response_id"),
                r.c.version == sa.bindparam("b_version"),
            )
            .values(
                status="routed",
                routed_version=sa.bindparam("b_version"),
                not_before=None,
                match_status=sa.bindparam("b_match_status"),
                contact_id=sa.bindparam("b_contact_id"),
                account_id=sa.bindparam("b_account_id"),
                zendesk_user_id=sa.bindparam("b_zendesk_user_id"),
                zendesk_org_id=sa.bindparam("b_zendesk_org_id"),
                match=sa.bindparam("b_match", type_=sa.JSON),
                decision=sa.bindparam("b_decision", type_=sa.JSON),
            )
        )
        decisions = [
            {
                "b_source": out.source,
                "b_response_id": out.response_id,
                "b_version": out.version,
                "b_match_status": out.match_status,
                "b_contact_id": out.contact_id,
                "b_account_id": out.account_id,
                "b_zendesk_user_id": out.zendesk_user_id,
                "b_zendesk_org_id": out.zendesk_org_id,
                "b_match": dict(out.match),
                "b_decision": dict(out.decision),
            }
            for out in outcomes
        ]
        intents = {i.key: i for out in outcomes for i in out.intents}
        queued = {("contact", o.contact_id) for o in outcomes if o.contact_id}
        queued |= {("account", o.account_id) for o in outcomes if o.account_id}
        with self.engine.begin() as conn:
            conn.execute(decided, decisions)
            existing: set[str] = set()
            for chunk in _chunks(sorted(intents), 500):
                existing.update(
                    conn.execute(sa.select(t.actions.c.key).where(t.actions.c.key.in_(chunk)))
                    .scalars()
                    .all()
                )
            fresh = [_intent_row(i, now) for key, i in intents.items() if key not in existing]
            if fresh:
                conn.execute(self._insert_ignore(t.actions), fresh)
            self._queue_write_backs(conn, sorted(queued), now)
        return len(fresh)

    # -- write-back queue ----------------------------------------------------------------------
    def _queue_write_backs(
        self, conn: Connection, records: Sequence[tuple[str, str]], now: datetime
    ) -> None:
        if not records:
            return
        q = t.write_back_queue
        module: Any = postgresql if self.dialect == "postgresql" else sqlite
        stmt = module.insert(q)
        stmt = stmt.on_conflict_do_update(
            index_elements=["kind", "record_id"],
            set_={"generation": q.c.generation + 1, "attempts": 0, "marked_at": now},
        )
        rows = [
            {"kind": kind, "record_id": rid, "generation": 1, "attempts": 0, "marked_at": now}
            for kind, rid in records
        ]
        conn.execute(stmt, rows)

    def queue_write_backs(
        self, *, contact_ids: Iterable[str] = (), account_ids: Iterable[str] = (), now: datetime
    ) -> None:
        """Ask for these contacts' and accounts' fields to be recomputed and written."""
        records = [("contact", c) for c in sorted(set(contact_ids))]
        records += [("account", a) for a in sorted(set(account_ids))]
        with self.engine.begin() as conn:
            self._queue_write_backs(conn, records, now)

    def queued_write_backs(self) -> QueuedWriteBacks:
        """Everything waiting for a write-back, with the generation each was queued at."""
        q = t.write_back_queue
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(q.c.kind, q.c.record_id, q.c.generation)).all()
        contacts = {r.record_id: r.generation for r in rows if r.kind == "contact"}
        accounts = {r.record_id: r.generation for r in rows if r.kind == "account"}
        return QueuedWriteBacks(contacts, accounts)

    def clear_write_backs(self, done: QueuedWriteBacks) -> int:
        """Drop queue entries that were written; an entry queued again meanwhile stays."""
        q = t.write_back_queue
        rows = [
            {"b_kind": kind, "b_record_id": rid, "b_generation": gen}
            for kind, records in (("contact", done.contacts), ("account", done.accounts))
            for rid, gen in records.items()
        ]
        if not rows:
            return 0
        stmt = q.delete().where(
            q.c.kind == sa.bindparam("b_kind"),
            q.c.record_id == sa.bindparam("b_record_id"),
            q.c.generation == sa.bindparam("b_generation"),
        )
        with self.engine.begin() as conn:
            result = conn.execute(stmt, rows)
        return int(result.rowcount)

    def fail_write_backs(self, failed: QueuedWriteBacks, *, max_attempts: int) -> int:
        """Count a failed write-back; entries failing ``max_attempts`` times are dropped.

        Returns how many were dropped (nightly reconciliation recomputes them). Entries queued
        again meanwhile are left alone: that new work deserves its own attempts.
        """
        q = t.write_back_queue
        rows = [
            {"b_kind": kind, "b_record_id": rid, "b_generation": gen}
            for kind, records in (("contact", failed.contacts), ("account", failed.accounts))
            for rid, gen in records.items()
        ]
        if not rows:
            return 0
        mine = sa.and_(
            q.c.kind == sa.bindparam("b_kind"),
            q.c.record_id == sa.bindparam("b_record_id"),
            q.c.generation == sa.bindparam("b_generation"),
        )
        with self.engine.begin() as conn:
            conn.execute(q.update().where(mine).values(attempts=q.c.attempts + 1), rows)
            dropped = conn.execute(q.delete().where(q.c.attempts >= max_attempts))
        return int(dropped.rowcount)

    def routed_record_ids(self) -> tuple[list[str], list[str]]:
        """(contact ids, account ids) of every routed response: what reconciliation covers."""
        r = t.responses
        routed = r.c.status == "routed"
        with self.engine.connect() as conn:
            contacts = conn.execute(
                sa.select(r.c.contact_id).where(routed, r.c.contact_id.is_not(None)).distinct()
            ).scalars()
            contact_ids = sorted(c for c in contacts if c)
            accounts = conn.execute(
                sa.select(r.c.account_id).where(routed, r.c.account_id.is_not(None)).distinct()
            ).scalars()
            account_ids = sorted(a for a in accounts if a)
        return contact_ids, account_ids

    # -- outbox --------------------------------------------------------------------------------
    def claim_actions(
        self,
        owner: str,
        *,
        limit: int,
        lease: timedelta,
        now: datetime,
        kinds: Sequence[str] | None = None,
    ) -> list[ClaimedAction]:
        """Lease up to ``limit`` due actions to ``owner``; expired leases are reclaimable.

        Claiming counts an attempt, *before* any external call: an action claimed with
        ``attempts > 1`` may already have had an effect, so its executor looks for its marker
        before creating anything.
        """
        a = t.actions
        due = sa.or_(
            sa.and_(a.c.status == "pending", a.c.next_attempt_at <= now),
            sa.and_(a.c.status == "claimed", a.c.lease_until < now),
        )
        query = sa.select(a.c.key).where(due).order_by(a.c.next_attempt_at, a.c.key).limit(limit)
        if kinds:
            query = query.where(a.c.kind.in_(list(kinds)))
        if self.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        with self.engine.begin() as conn:
            keys = list(conn.execute(query).scalars())
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
            )
            for row in rows
        ]

    def record_results(self, owner: str, results: Sequence[ActionResult], now: datetime) -> int:
        """Record how claimed actions ended, in one transaction; returns how many were recorded.

        A result counts only while ``owner`` still holds the action's lease: a worker whose lease
        expired (and whose action another worker may have taken over) cannot overwrite it.
        """
        a = t.actions
        applied = 0
        with self.engine.begin() as conn:
            for res in results:
                values: dict[str, Any] = {
                    "status": res.status,
                    "lease_owner": None,
                    "lease_until": None,
                    "last_error": res.error[:2000] if res.error else None,
                    "updated_at": now,
                }
                if res.status == "done":
                    values["external_id"] = res.external_id
                if res.next_attempt_at is not None:
                    values["next_attempt_at"] = res.next_attempt_at
                if res.failed:
                    values["failures"] = a.c.failures + 1
                result = conn.execute(
                    a.update()
                    .where(a.c.key == res.key, a.c.lease_owner == owner, a.c.status == "claimed")
                    .values(**values)
                )
                applied += result.rowcount
        return applied

    def complete_action(self, key: str, owner: str, external_id: str, now: datetime) -> bool:
        return self.record_results(owner, [ActionResult.done(key, external_id)], now) == 1

    def retry_action(
        self, key: str, owner: str, error: str, next_attempt_at: datetime, now: datetime
    ) -> bool:
        """Record a failure; the action becomes due again at ``next_attempt_at``."""
        result = ActionResult.retry(key, error, next_attempt_at)
        return self.record_results(owner, [result], now) == 1

    def defer_action(
        self, key: str, owner: str, reason: str, not_before: datetime, now: datetime
    ) -> bool:
        """Park an action without counting a failure: the system asked us to wait (quota, 429)."""
        result = ActionResult.defer(key, reason, not_before)
        return self.record_results(owner, [result], now) == 1

    def kill_action(self, key: str, owner: str, error: str, now: datetime) -> bool:
        """Move an action to the dead-letter list with its last error."""
        return self.record_results(owner, [ActionResult.dead(key, error)], now) == 1

    def release_leases(self, owner: str, now: datetime) -> int:
        """Give back every lease ``owner`` holds (clean shutdown)."""
        a = t.actions
        with self.engine.begin() as conn:
            result = conn.execute(
                a.update()
                .where(a.c.lease_owner == owner, a.c.status == "claimed")
                .values(status="pending", lease_owner=None, lease_until=None, updated_at=now)
            )
        return result.rowcount

    def lease_owners(self) -> list[str]:
        """Owners currently holding leases."""
        a = t.actions
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(a.c.lease_owner).where(a.c.status == "claimed").distinct()
            ).scalars()
            return sorted(owner for owner in rows if owner)

    @contextmanager
    def singleton(self, name: str) -> Iterator[bool]:
        """Hold a cluster-wide lock named ``name`` while the block runs; yields False if taken.

        On PostgreSQL this is a session advisory lock, so of N replicas only one pulls a source
        or routes the inbox at a time; the others skip that work. SQLite serves one process, so
        there the lock is always granted.
        """
        if self.dialect != "postgresql":
            yield True
            return
        key = lock_key(name)
        with self.engine.connect() as conn:
            got = bool(conn.execute(sa.select(sa.func.pg_try_advisory_lock(key))).scalar_one())
            conn.commit()
            try:
                yield got
            finally:
                if got:
                    conn.execute(sa.select(sa.func.pg_advisory_unlock(key)))
                    conn.commit()

    def actions(
        self, *, status: str | None = None, keys: Sequence[str] | None = None
    ) -> list[ActionRow]:
        a = t.actions
        query = sa.select(a).order_by(a.c.created_at, a.c.key)
        if status is not None:
            query = query.where(a.c.status == status)
        if keys is not None:
            query = query.where(a.c.key.in_(list(keys)))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            ActionRow(
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
            )
            for row in rows
        ]

    def action_counts(self) -> dict[str, int]:
        a = t.actions
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(a.c.status, sa.func.count()).group_by(a.c.status)).all()
        return {status: int(count) for status, count in rows}

    def revive_actions(self, keys: Sequence[str] | None, now: datetime) -> int:
        """Put dead actions back in the queue (all of them when ``keys`` is None)."""
        a = t.actions
        stmt = a.update().where(a.c.status == "dead")
        if keys is not None:
            stmt = stmt.where(a.c.key.in_(list(keys)))
        with self.engine.begin() as conn:
            result = conn.execute(
                stmt.values(status="pending", failures=0, next_attempt_at=now, updated_at=now)
            )
        return result.rowcount

    # -- history for write-back and routing -----------------------------------------------------
    def previous_scores(
        self, keys: Sequence[tuple[str, datetime]]
    ) -> dict[tuple[str, datetime], int]:
        """For (email, created_at) pairs, the score of that person's previous response."""
        r = t.responses
        result: dict[tuple[str, datetime], int] = {}
        emails = sorted({email for email, _ in keys})
        history: dict[str, list[tuple[datetime, int]]] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(emails, 500):
                rows = conn.execute(
                    sa.select(r.c.email, r.c.created_at, r.c.score).where(r.c.email.in_(chunk))
                ).all()
                for row in rows:
                    history.setdefault(row.email, []).append((row.created_at, row.score))
        for email, created in keys:
            earlier = [h for h in history.get(email, []) if h[0] < created]
            if earlier:
                result[(email, created)] = max(earlier)[1]
        return result

    def routed_responses(
        self, *, account_ids: Sequence[str] | None = None, contact_ids: Sequence[str] | None = None
    ) -> list[StoredResponse]:
        """Matched, routed responses for these accounts or contacts (for the metrics)."""
        r = t.responses
        out: list[StoredResponse] = []
        column, values = (
            (r.c.account_id, account_ids)
            if account_ids is not None
            else (r.c.contact_id, contact_ids)
        )
        with self.engine.connect() as conn:
            for chunk in _chunks(sorted(set(values or [])), 500):
                rows = conn.execute(
                    sa.select(r).where(column.in_(chunk), r.c.status == "routed")
                ).all()
                out.extend(_stored(row) for row in rows)
        return out

    def unmatched(self) -> list[StoredResponse]:
        r = t.responses
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(r)
                .where(r.c.match_status.in_(["unmatched", "ambiguous"]))
                .order_by(r.c.created_at)
            ).all()
        return [_stored(row) for row in rows]

    # -- written values ------------------------------------------------------------------------
    def written(
        self, system: str, obj: str, record_ids: Sequence[str]
    ) -> dict[str, dict[str, Any]]:
        w = t.written_values
        out: dict[str, dict[str, Any]] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(sorted(set(record_ids)), 500):
                rows = conn.execute(
                    sa.select(w.c.record_id, w.c.field, w.c.value).where(
                        w.c.system == system, w.c.object == obj, w.c.record_id.in_(chunk)
                    )
                ).all()
                for row in rows:
                    out.setdefault(row.record_id, {})[row.field] = row.value
        return out

    def record_written(
        self, system: str, obj: str, values: Mapping[str, Mapping[str, Any]], now: datetime
    ) -> None:
        rows = [
            {
                "system": system,
                "object": obj,
                "record_id": record_id,
                "field": name,
                "value": value,
                "written_at": now,
            }
            for record_id, fields in values.items()
            for name, value in fields.items()
        ]
        if not rows:
            return
        stmt, rows = self._upsert(
            t.written_values, ["system", "object", "record_id", "field"], rows
        )
        with self.engine.begin() as conn:
            conn.execute(stmt, rows)

    def outbox_summary(self, now: datetime) -> dict[str, OutboxCounts]:
        """Per action kind: due, waiting (and until when), in flight, done and dead."""
        a = t.actions
        due = sa.case((a.c.next_attempt_at <= now, 1), else_=0).label("due")
        query = sa.select(
            a.c.kind, a.c.status, due, sa.func.count(), sa.func.min(a.c.next_attempt_at)
        ).group_by(a.c.kind, a.c.status, due)
        with self.engine.connect() as conn:
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

    def inbox_counts(self) -> dict[str, int]:
        """Responses by routing state: pending, matched, unmatched, ambiguous."""
        r = t.responses
        state = sa.case((r.c.status == "pending", "pending"), else_=r.c.match_status)
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(state, sa.func.count()).group_by(state)).all()
        return {str(name): int(count) for name, count in rows}

    def problem_count(self) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(sa.select(sa.func.count()).select_from(t.problems)).scalar_one()
            )

    # -- routing support: replay and escalations ---------------------------------------------------
    def responses_since(self, since: datetime) -> list[StoredResponse]:
        """Routed responses submitted at or after ``since``, oldest first (for ``rules replay``)."""
        r = t.responses
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(r)
                .where(r.c.created_at >= since, r.c.match.is_not(None))
                .order_by(r.c.created_at, r.c.source, r.c.response_id)
            ).all()
        return [_stored(row) for row in rows]

    def enqueue_intents(self, intents: Sequence[ActionIntent], now: datetime) -> int:
        """Add intents to the outbox outside a routing decision (escalations); returns how many
        were new. An intent whose key exists already is left alone, as in ``record_routing``."""
        created = 0
        with self.engine.begin() as conn:
            for intent in intents:
                result = conn.execute(
                    self._insert_ignore(t.actions)
                    .values(
                        key=intent.key,
                        source=intent.source,
                        response_id=intent.response_id,
                        rule=intent.rule,
                        action=intent.action,
                        kind=intent.kind,
                        payload=dict(intent.payload),
                        ruleset_hash=intent.ruleset_hash,
                        status="pending",
                        attempts=0,
                        failures=0,
                        next_attempt_at=now,
                        created_at=now,
                        updated_at=now,
                    )
                    .returning(t.actions.c.key)
                )
                created += len(result.all())
        return created


def _insert_problems(conn: Connection, problems: Iterable[SourceProblem], now: datetime) -> None:
    rows = [
        {"source": p.source, "location": p.location[:500], "reason": p.reason, "seen_at": now}
        for p in problems
    ]
    if rows:
        conn.execute(t.problems.insert(), rows)


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _version_of(resp: SurveyResponse) -> str:
    """A version id that changes whenever the content of a response changes."""
    return f"{resp.updated_at.isoformat()}|{resp.score}|{hash_text(resp.comment)}"[:64]


def hash_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _response_row(resp: SurveyResponse, version: str, now: datetime) -> dict[str, Any]:
    return {
        "source": resp.source,
        "response_id": resp.response_id,
        "version": version,
        "email": resp.email,
        "score": resp.score,
        "comment": resp.comment,
        "created_at": resp.created_at,
        "updated_at": resp.updated_at,
        "data": {
            "person_name": resp.person_name,
            "properties": dict(resp.properties),
            "survey_type": resp.survey_type,
            "channel": resp.channel,
            "language": resp.language,
            "permalink": resp.permalink,
        },
        "status": "pending",
        "not_before": None,
        "received_at": now,
    }


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
        "status": "pending",
        "attempts": 0,
        "failures": 0,
        "next_attempt_at": now,
        "created_at": now,
        "updated_at": now,
    }


def _stored(row: Any) -> StoredResponse:
    data = row.data or {}
    response = SurveyResponse(
        source=row.source,
        response_id=row.response_id,
        email=row.email,
        score=row.score,
        comment=row.comment,
        created_at=row.created_at,
        updated_at=row.updated_at,
        person_name=data.get("person_name", ""),
        properties=dict(data.get("properties") or {}),
        survey_type=data.get("survey_type", "relationship"),
        channel=data.get("channel", ""),
        language=data.get("language", ""),
        permalink=data.get("permalink", ""),
    )
    return StoredResponse(
        response=response,
        version=row.version,
        routed_version=row.routed_version,
        contact_id=row.contact_id,
        account_id=row.account_id,
        zendesk_user_id=row.zendesk_user_id,
        zendesk_org_id=row.zendesk_org_id,
        match=row.match,
        decision=row.decision,
    )
