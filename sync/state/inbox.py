"""The inbox: survey responses as pulled, their versions, source problems and routing state.

``ingest_page`` stores a page of responses *and* advances the source cursor together, so a crash
re-reads at most one page and a page read twice changes nothing.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from connectors.models import SourceProblem, SurveyResponse
from sync.state import schema as t
from sync.state.batched import BatchStatement
from sync.state.database import Database
from sync.state.dialect import chunks, insert_ignore
from sync.state.outbox import ActionIntent
from sync.state.runs import Cursors
from sync.state.skips import SkippedAction


@dataclass(frozen=True, slots=True)
class IngestStats:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    #: Records that differ from the stored version but are dated before it, so the stored one
    #: stays (response id, the record's time, the stored time): an export's line out of order.
    older: tuple[tuple[str, datetime, datetime], ...] = ()
    #: The page's rejected records not seen before (the others were rejected by an earlier
    #: pass, for the same reason, and are only marked seen again).
    new_problems: tuple[SourceProblem, ...] = ()


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
    #: Submitted too long ago to act on (``routing.act_on_responses_newer_than``): no intents.
    too_old: bool = False
    #: Actions the decision asked for and could not take, with why.
    skips: Sequence[SkippedAction] = field(default_factory=tuple)


#: The status of a response a backfill imported and has not matched yet: history, which
#: routing never picks up (only ``pending`` ones), whatever happens to the backfill.
HISTORY = "history"


class Inbox:
    """Responses (``nps_responses`` and their version history) and source problems."""

    def __init__(self, db: Database, cursors: Cursors) -> None:
        self._db = db
        self._cursors = cursors

    # -- pulling -------------------------------------------------------------------------------
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
        return self._ingest(source, page, cursor, now, problems, history=False)

    def ingest_history(
        self, source: str, page: Sequence[SurveyResponse], now: datetime
    ) -> IngestStats:
        """Store a backfill's page: new responses as history, in the same transaction, so that
        routing never acts on them whatever happens next (:meth:`history_to_match` lists those
        not matched yet); responses already stored are left alone. No cursor moves."""
        return self._ingest(source, page, None, now, (), history=True)

    def _ingest(
        self,
        source: str,
        page: Sequence[SurveyResponse],
        cursor: str | None,
        now: datetime,
        problems: Sequence[SourceProblem],
        *,
        history: bool,
    ) -> IngestStats:
        new = updated = unchanged = 0
        older: list[tuple[str, datetime, datetime]] = []
        latest: dict[str, SurveyResponse] = {}
        for resp in page:
            prior = latest.get(resp.response_id)
            if prior is None or resp.updated_at >= prior.updated_at:
                latest[resp.response_id] = resp
        with self._db.writing() as conn:
            existing: dict[str, tuple[str, datetime]] = {}
            commented: set[str] = set()
            r_, f_ = t.responses, t.forgotten
            for chunk in chunks(list(latest)):
                # With the stored answers, in the same statement, those forgotten (a tombstone
                # row: no version): a forgotten answer delivered again is not stored again.
                stored = sa.select(
                    r_.c.response_id,
                    r_.c.version,
                    r_.c.updated_at,
                    sa.case((r_.c.comment != "", 1), else_=0).label("commented"),
                ).where(r_.c.source == source, r_.c.response_id.in_(chunk))
                tombstones = sa.select(f_.c.response_id, sa.null(), sa.null(), sa.literal(0)).where(
                    f_.c.source == source, f_.c.response_id.in_(chunk)
                )
                for found in conn.execute(sa.union_all(stored, tombstones)).all():
                    if found.version is None:
                        del latest[found.response_id]
                        unchanged += 1
                        continue
                    existing[found.response_id] = (found.version, found.updated_at)
                    if found.commented:
                        commented.add(found.response_id)
            version_of = {rid: _version_of(resp) for rid, resp in latest.items()}
            had = _versions_had(conn, source, existing, latest, version_of)
            inserts: list[dict[str, Any]] = []
            updates: list[dict[str, Any]] = []
            versions: list[dict[str, Any]] = []
            for rid, resp in latest.items():
                version = version_of[rid]
                known = existing.get(rid)
                if known is None:
                    row = _response_row(resp, version, now)
                    if history:
                        row["status"] = HISTORY
                    inserts.append(row)
                    new += 1
                elif (rid, version) in had:  # an earlier version sent again: a replay
                    unchanged += 1
                    continue
                elif resp.updated_at == known[1] and rid in commented and not resp.comment:
                    # Dated the same second as the stored version, which has the comment this
                    # one lacks: the answer as it was before its comment, delivered late.
                    unchanged += 1
                    continue
                elif history or known[0] == version or resp.updated_at < known[1]:
                    if not history and known[0] != version:
                        older.append((rid, resp.updated_at, known[1]))
                    unchanged += 1
                    continue
                else:
                    row = _response_row(resp, version, now)
                    updates.append({f"b_{k}": v for k, v in row.items() if k != "received_at"})
                    updated += 1
                versions.append(
                    {
                        "source": source,
                        "response_id": rid,
                        "version": version,
                        "score": resp.score,
                        "comment": resp.comment,
                        "received_at": now,
                    }
                )
            # One statement each for the page's new rows, changed rows and versions.
            _INSERT_RESPONSES.execute(conn, inserts)
            _NEW_VERSION.execute(conn, updates)
            _INSERT_VERSIONS.execute(conn, versions)
            if cursor is not None:
                self._cursors.set(source, cursor, now, conn)
            new_problems = _insert_problems(conn, problems, now)
        return IngestStats(new, updated, unchanged, tuple(older), new_problems)

    def record_problems(
        self, problems: Iterable[SourceProblem], now: datetime
    ) -> tuple[SourceProblem, ...]:
        """Store rejected records once each; returns those not stored before."""
        with self._db.writing() as conn:
            return _insert_problems(conn, problems, now)

    def versions(self, source: str, response_ids: Iterable[str]) -> dict[str, str]:
        """The stored version of each response of ``source`` among ``response_ids``."""
        r = t.responses
        found: dict[str, str] = {}
        with self._db.reading() as conn:
            for chunk in chunks(response_ids):
                rows = conn.execute(
                    sa.select(r.c.response_id, r.c.version).where(
                        r.c.source == source, r.c.response_id.in_(chunk)
                    )
                ).all()
                found.update({row.response_id: row.version for row in rows})
        return found

    def held_elsewhere(self, response_ids: Iterable[str], among: Sequence[str]) -> dict[str, int]:
        """How many of ``response_ids`` are stored under each of the source names ``among``
        (names the config no longer has): the same responses under an old name."""
        r = t.responses
        found: dict[str, int] = {}
        if not among:
            return found
        with self._db.reading() as conn:
            for chunk in chunks(sorted(set(response_ids))):
                rows = conn.execute(
                    sa.select(r.c.source, sa.func.count())
                    .where(r.c.response_id.in_(chunk), r.c.source.in_(sorted(among)))
                    .group_by(r.c.source)
                ).all()
                for name, count in rows:
                    found[name] = found.get(name, 0) + int(count)
        return found

    def version_answers(
        self, versions: Iterable[tuple[str, str, str]]
    ) -> dict[tuple[str, str, str], tuple[int, str]]:
        """The score and comment of each stored ``(source, response id, version)``."""
        wanted = set(versions)
        v = t.response_versions
        found: dict[tuple[str, str, str], tuple[int, str]] = {}
        with self._db.reading() as conn:
            for chunk in chunks(sorted({rid for _, rid, _ in wanted})):
                rows = conn.execute(
                    sa.select(
                        v.c.source, v.c.response_id, v.c.version, v.c.score, v.c.comment
                    ).where(v.c.response_id.in_(chunk))
                ).all()
                for row in rows:
                    key = (row.source, row.response_id, row.version)
                    if key in wanted:
                        found[key] = (int(row.score), str(row.comment))
        return found

    def history_to_match(self, limit: int) -> list[StoredResponse]:
        """Responses a backfill stored as history but has not matched and recorded yet."""
        r = t.responses
        with self._db.reading() as conn:
            rows = conn.execute(
                sa.select(r)
                .where(r.c.status == HISTORY)
                .order_by(r.c.source, r.c.response_id)
                .limit(limit)
            ).all()
        return [_stored(row) for row in rows]

    # -- routing -------------------------------------------------------------------------------
    def pending(self, limit: int, now: datetime) -> list[StoredResponse]:
        """Responses whose latest version has not been routed yet, oldest first."""
        r = t.responses
        with self._db.reading() as conn:
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

    def pending_count(self, now: datetime) -> int:
        """How many responses :meth:`pending` would return without a limit (counted in SQL)."""
        r = t.responses
        query = sa.select(sa.func.count()).where(
            r.c.status == "pending", sa.or_(r.c.not_before.is_(None), r.c.not_before <= now)
        )
        with self._db.reading() as conn:
            return int(conn.execute(query).scalar_one())

    def defer(self, keys: Iterable[tuple[str, str]], not_before: datetime) -> None:
        """Route these responses again no earlier than ``not_before`` (a settle delay)."""
        r = t.responses
        rows = [{"b_source": source, "b_response_id": rid} for source, rid in keys]
        if not rows:
            return
        with self._db.writing() as conn:
            conn.execute(
                r.update()
                .where(
                    r.c.source == sa.bindparam("b_source"),
                    r.c.response_id == sa.bindparam("b_response_id"),
                )
                .values(not_before=not_before),
                rows,
            )

    def record_decisions(self, outcomes: Sequence[RoutingOutcome], conn: Connection) -> None:
        """Mark these response versions routed, with their match and decision.

        A response that got a newer version meanwhile is left pending for it.
        """
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
        _DECIDED.execute(conn, decisions)

    # -- lookups -------------------------------------------------------------------------------
    def get(self, source: str, response_id: str) -> StoredResponse | None:
        r = t.responses
        with self._db.reading() as conn:
            row = conn.execute(
                sa.select(r).where(r.c.source == source, r.c.response_id == response_id)
            ).one_or_none()
        return _stored(row) if row is not None else None

    def find(self, response_id: str) -> list[StoredResponse]:
        """Every stored response with this id, across sources."""
        r = t.responses
        with self._db.reading() as conn:
            rows = conn.execute(sa.select(r).where(r.c.response_id == response_id)).all()
        return [_stored(row) for row in rows]

    def since(self, since: datetime) -> list[StoredResponse]:
        """Routed responses submitted at or after ``since``, oldest first (for ``rules replay``)."""
        r = t.responses
        with self._db.reading() as conn:
            rows = conn.execute(
                sa.select(r)
                .where(r.c.created_at >= since, r.c.match.is_not(None))
                .order_by(r.c.created_at, r.c.source, r.c.response_id)
            ).all()
        return [_stored(row) for row in rows]

    def unmatched(self) -> list[StoredResponse]:
        r = t.responses
        with self._db.reading() as conn:
            rows = conn.execute(
                sa.select(r)
                .where(r.c.match_status.in_(["unmatched", "ambiguous", "failed"]))
                .order_by(r.c.created_at)
            ).all()
        return [_stored(row) for row in rows]

    # -- history for write-back and routing -----------------------------------------------------
    def previous_scores(
        self, keys: Sequence[tuple[str, datetime]]
    ) -> dict[tuple[str, datetime], int]:
        """For (email, created_at) pairs, the score of that person's previous response: the
        latest answered before ``created_at`` (the higher score of a tie).

        The database picks it, one indexed lookup per pair, and sends back the scores alone:
        a window of an import asks about everyone at once, each with hundreds of answers, and
        reading those histories cost seconds a window and memory that grew with them.
        """
        wanted = sorted(set(keys))
        result: dict[tuple[str, datetime], int] = {}
        with self._db.reading() as conn:
            for start in range(0, len(wanted), PAIRS_PER_QUERY):
                part = wanted[start : start + PAIRS_PER_QUERY]
                for n, score in _PREVIOUS_SCORES.run(conn, part):
                    if score is not None:
                        result[wanted[start + n]] = score
        return result

    def routed(
        self,
        *,
        account_ids: Sequence[str] | None = None,
        contact_ids: Sequence[str] | None = None,
        with_match: bool = True,
    ) -> list[StoredResponse]:
        """Matched, routed responses for these accounts or contacts (for the metrics).

        Their routing decisions are not loaded (``decision`` is None): no metric reads them. With
        ``with_match=False`` neither are the match details (``match`` is None), which only an
        account's facts read. Both are JSON documents, and a plan loads every routed response
        of its records: decoding them was most of the cost of loading.
        """
        r = t.responses
        out: list[StoredResponse] = []
        column, values = (
            (r.c.account_id, account_ids)
            if account_ids is not None
            else (r.c.contact_id, contact_ids)
        )
        left_out = {"decision"} if with_match else {"decision", "match"}
        query = sa.select(*(c for c in r.c if c.name not in left_out))
        with self._db.reading() as conn:
            for chunk in chunks(sorted(set(values or []))):
                # The status is checked here, not in SQL: with both terms SQLite walks the status
                # index, every routed response, once per chunk, instead of these records' rows.
                rows = conn.execute(query.where(column.in_(chunk))).all()
                out.extend(
                    _stored(row, match=with_match, decision=False)
                    for row in rows
                    if row.status == "routed"
                )
        return out

    def matches(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Mapping[str, Any]]:
        """The match details of these responses, by (source, response id); those without any
        are left out. For a caller that loaded many responses without them (:meth:`routed`)
        and needs them for a few."""
        r = t.responses
        by_source: dict[str, set[str]] = defaultdict(set)
        for source, response_id in keys:
            by_source[source].add(response_id)
        found: dict[tuple[str, str], Mapping[str, Any]] = {}
        with self._db.reading() as conn:
            # One source at a time: SQLite answers ``(source, response_id) IN (...)`` by
            # scanning the whole table (53 ms a query at 100,000 responses), not by its key.
            for source, ids in sorted(by_source.items()):
                for chunk in chunks(sorted(ids)):
                    rows = conn.execute(
                        sa.select(r.c.response_id, r.c.match).where(
                            r.c.source == source, r.c.response_id.in_(chunk)
                        )
                    ).all()
                    found.update(
                        {(source, hit.response_id): hit.match for hit in rows if hit.match}
                    )
        return found

    def routed_counts(
        self, *, account_ids: Sequence[str] | None = None, contact_ids: Sequence[str] | None = None
    ) -> dict[str, int]:
        """How many routed responses each of these accounts or contacts has (counted in SQL):
        what :meth:`routed` would load for them, to plan work in bounded chunks."""
        r = t.responses
        column, values = (
            (r.c.account_id, account_ids)
            if account_ids is not None
            else (r.c.contact_id, contact_ids)
        )
        found: dict[str, int] = {}
        with self._db.reading() as conn:
            for chunk in chunks(sorted(set(values or []))):
                rows = conn.execute(
                    sa.select(column, sa.func.count())
                    .where(column.in_(chunk), r.c.status == "routed")
                    .group_by(column)
                ).all()
                found.update({str(record_id): int(count) for record_id, count in rows})
        return found

    def routed_record_ids(self) -> tuple[list[str], list[str]]:
        """(contact ids, account ids) of every routed response: what reconciliation covers."""
        r = t.responses
        routed = r.c.status == "routed"
        with self._db.reading() as conn:
            contacts = conn.execute(
                sa.select(r.c.contact_id).where(routed, r.c.contact_id.is_not(None)).distinct()
            ).scalars()
            contact_ids = sorted(c for c in contacts if c)
            accounts = conn.execute(
                sa.select(r.c.account_id).where(routed, r.c.account_id.is_not(None)).distinct()
            ).scalars()
            account_ids = sorted(a for a in accounts if a)
        return contact_ids, account_ids

    # -- status --------------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        """Responses by routing state: pending, importing (a backfill's, not matched yet),
        matched, unmatched, ambiguous."""
        r = t.responses
        state = sa.case(
            (r.c.status == "pending", "pending"),
            (r.c.status == HISTORY, "importing"),
            else_=r.c.match_status,
        )
        with self._db.reading() as conn:
            rows = conn.execute(sa.select(state, sa.func.count()).group_by(state)).all()
        return {str(name): int(count) for name, count in rows}

    def importing_count(self) -> int:
        """Responses an interrupted backfill imported and did not match: until a backfill
        matches them, the NPS fields leave their answers out."""
        r = t.responses
        with self._db.reading() as conn:
            query = sa.select(sa.func.count()).where(r.c.status == HISTORY)
            return int(conn.execute(query).scalar_one())

    def too_old_count(self) -> int:
        """Responses whose latest decision was too old to act on (stored as history only)."""
        r = t.responses
        flagged = r.c.decision["too_old"].as_boolean().is_(True)
        with self._db.reading() as conn:
            query = sa.select(sa.func.count()).where(r.c.status == "routed", flagged)
            return int(conn.execute(query).scalar_one())

    def problems(self, limit: int = 1000) -> list[SourceProblem]:
        """The records sources could not use, oldest first: where each was and why."""
        p = t.problems
        with self._db.reading() as conn:
            rows = conn.execute(
                sa.select(p.c.source, p.c.location, p.c.reason).order_by(p.c.id).limit(limit)
            ).all()
        return [SourceProblem(row.source, row.location, row.reason) for row in rows]

    def recent_problems(
        self, limit: int, source: str | None = None
    ) -> list[tuple[datetime, SourceProblem]]:
        """The latest records sources could not use, newest first, with when each was seen."""
        p = t.problems
        query = sa.select(p.c.source, p.c.location, p.c.reason, p.c.seen_at)
        if source is not None:
            query = query.where(p.c.source == source)
        with self._db.reading() as conn:
            rows = conn.execute(query.order_by(p.c.id.desc()).limit(limit)).all()
        return [(row.seen_at, SourceProblem(row.source, row.location, row.reason)) for row in rows]

    def problem_count(self) -> int:
        with self._db.reading() as conn:
            return int(
                conn.execute(sa.select(sa.func.count()).select_from(t.problems)).scalar_one()
            )


def _versions_had(
    conn: Connection,
    source: str,
    existing: Mapping[str, tuple[str, datetime]],
    latest: Mapping[str, SurveyResponse],
    version_of: Mapping[str, str],
) -> set[tuple[str, str]]:
    """The (response id, version) pairs of ``latest`` that are not the stored version, are dated
    the same as it, and were stored before it: an older delivery sent again (a replayed or
    retried webhook, Delighted's carrying no timestamp of its own), which must not replace the
    version that followed it. A version dated after the stored one is always newer."""
    tied = {
        rid: version_of[rid]
        for rid, resp in latest.items()
        if (known := existing.get(rid)) is not None
        and known[0] != version_of[rid]
        and resp.updated_at == known[1]
    }
    if not tied:
        return set()
    v = t.response_versions
    had: set[tuple[str, str]] = set()
    for chunk in chunks(sorted(tied)):
        query = sa.select(v.c.response_id, v.c.version).where(
            v.c.source == source, v.c.response_id.in_(chunk)
        )
        had.update((row.response_id, row.version) for row in conn.execute(query))
    return {(rid, version) for rid, version in tied.items() if (rid, version) in had}


def _insert_problems(
    conn: Connection, problems: Iterable[SourceProblem], now: datetime
) -> tuple[SourceProblem, ...]:
    """Store each rejected record once, and return those not stored before.

    A source re-reads what it rejected until a good record moves its cursor past it (Delighted's
    cursor stops at the last stored response, Typeform reads back a lookback): a record rejected
    again for the same reason at the same place keeps its one row, seen now."""
    wanted = {(p.source, p.location[:500], p.reason): p for p in problems}
    if not wanted:
        return ()
    p = t.problems
    seen: dict[tuple[str, str, str], int] = {}
    by_source: dict[str, set[str]] = defaultdict(set)
    for source, location, _ in wanted:
        by_source[source].add(location)
    for source, locations in by_source.items():
        for chunk in chunks(sorted(locations), PROBLEMS_CHUNK):
            query = sa.select(p.c.id, p.c.location, p.c.reason).where(
                p.c.source == source, p.c.location.in_(chunk)
            )
            for row in conn.execute(query):
                seen[(source, row.location, row.reason)] = row.id
    again = sorted(seen[key] for key in wanted if key in seen)
    for ids in chunks(again, PROBLEMS_CHUNK):
        conn.execute(p.update().where(p.c.id.in_(ids)).values(seen_at=now))
    new = [key for key in wanted if key not in seen]
    if new:
        rows = [{"source": s, "location": w, "reason": r, "seen_at": now} for s, w, r in new]
        conn.execute(p.insert(), rows)
    return tuple(wanted[key] for key in new)


#: Places per query when looking up rejected records read again.
PROBLEMS_CHUNK = 500


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


#: What a newer version of a stored response replaces: all but its key and first receipt.
_REPLACED = (
    "version",
    "email",
    "score",
    "comment",
    "created_at",
    "updated_at",
    "data",
    "status",
    "not_before",
)


def _new_version() -> sa.Update:
    """The update of one response to a newer version, for executemany (``b_`` parameters)."""
    r = t.responses
    return (
        r.update()
        .where(
            r.c.source == sa.bindparam("b_source"),
            r.c.response_id == sa.bindparam("b_response_id"),
        )
        .values({name: sa.bindparam(f"b_{name}", type_=r.c[name].type) for name in _REPLACED})
    )


def _decided() -> sa.Update:
    """A response version marked routed with its match and decision, for executemany; a
    response that got a newer version meanwhile is left alone (``b_version``)."""
    r = t.responses
    return (
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


_NEW_VERSION = BatchStatement(lambda _backend: _new_version())
_DECIDED = BatchStatement(lambda _backend: _decided())
_INSERT_RESPONSES = BatchStatement(lambda _backend: t.responses.insert())
_INSERT_VERSIONS = BatchStatement(lambda backend: insert_ignore(backend, t.response_versions))

#: (email, time) pairs asked per query of :meth:`Inbox.previous_scores`: three parameters a
#: pair, within the 999 of older SQLite builds.
PAIRS_PER_QUERY = 300


class _PreviousScores:
    """The query behind :meth:`Inbox.previous_scores`, compiled once per backend.

    A ``VALUES`` list of the pairs asked, each with a correlated lookup of the person's latest
    answer before it. SQLAlchemy cannot cache a statement holding its values, and compiling
    one of 900 parameters cost 14 ms, ten times what the database took to answer it; so the
    statement is compiled for numbered parameters and a short part is padded with its last
    pair.
    """

    def __init__(self) -> None:
        self._compiled: dict[str, tuple[str, tuple[str, ...], bool, dict[str, Any], Any]] = {}

    def run(
        self, conn: Connection, pairs: Sequence[tuple[str, datetime]]
    ) -> list[tuple[int, int | None]]:
        """(place in ``pairs``, previous score or None) of each pair."""
        dialect = conn.dialect
        if dialect.name not in self._compiled:
            self._compiled[dialect.name] = self._compile(dialect)
        sql, names, positional, fixed, stamp = self._compiled[dialect.name]
        padded = [*pairs, *[pairs[-1]] * (PAIRS_PER_QUERY - len(pairs))]
        values: dict[str, Any] = dict(fixed)
        for n, (email, at) in enumerate(padded):
            values[f"n{n}"] = min(n, len(pairs) - 1)
            values[f"e{n}"] = email
            values[f"c{n}"] = stamp(at) if stamp is not None else at
        params: Any = tuple(values[name] for name in names) if positional else values
        rows = conn.exec_driver_sql(sql, params).all()
        return [(int(n), score) for n, score in rows]

    @staticmethod
    def _compile(dialect: Any) -> tuple[str, tuple[str, ...], bool, dict[str, Any], Any]:
        r = t.responses
        stamp_type = t.UTCDateTime()
        asked = (
            sa.values(
                sa.column("n", sa.Integer),
                sa.column("email", sa.String),
                sa.column("created", stamp_type),
                name="asked",
            )
            .data(
                [
                    (
                        sa.bindparam(f"n{n}", type_=sa.Integer, required=False),
                        sa.bindparam(f"e{n}", type_=sa.String, required=False),
                        sa.bindparam(f"c{n}", type_=stamp_type, required=False),
                    )
                    for n in range(PAIRS_PER_QUERY)
                ]
            )
            .cte()
        )
        before = (
            sa.select(r.c.score)
            .where(r.c.email == asked.c.email, r.c.created_at < asked.c.created)
            .order_by(r.c.created_at.desc(), r.c.score.desc())
            .limit(1)
            .scalar_subquery()
        )
        compiled: Any = sa.select(asked.c.n, before).compile(dialect=dialect)
        positional = bool(compiled.positional)
        names = tuple(compiled.positiontup) if positional else tuple(compiled.binds)
        # The values the statement holds itself (its LIMIT); the pairs' are set per run.
        fixed = dict(compiled.construct_params())
        stamp = stamp_type.dialect_impl(dialect).bind_processor(dialect)
        return str(compiled), names, positional, fixed, stamp


_PREVIOUS_SCORES = _PreviousScores()


def _stored(row: Any, *, match: bool = True, decision: bool = True) -> StoredResponse:
    """The stored response of a row; ``match``/``decision``: whether the query selected those
    columns (None when not: looking a missing column up by name costs a raised KeyError)."""
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
        match=row.match if match else None,
        decision=row.decision if decision else None,
    )
