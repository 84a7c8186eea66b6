"""Schema migrations: an upgrade never loses state, a failed step changes nothing, and replicas
starting at once upgrade the database exactly once.

``V1`` below is the first released schema, frozen here as it shipped: a database created by that
release must open, upgrade and work with this one.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from connectors.models import SurveyResponse
from sync.state import ActionIntent, RoutingOutcome, StateStore
from sync.state import schema as t
from sync.state.schema import UTCDateTime

T0 = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)


def v1_metadata() -> sa.MetaData:
    meta = sa.MetaData()
    sa.Table(
        "nps_schema_version",
        meta,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
    )
    sa.Table(
        "nps_cursors",
        meta,
        sa.Column("source", sa.String(100), primary_key=True),
        sa.Column("value", sa.String(200)),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    sa.Table(
        "nps_responses",
        meta,
        sa.Column("source", sa.String(100), primary_key=True),
        sa.Column("response_id", sa.String(200), primary_key=True),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("email", sa.String(320), nullable=False, index=True),
        sa.Column("score", sa.Integer, nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("routed_version", sa.String(64)),
        sa.Column("not_before", UTCDateTime),
        sa.Column("match_status", sa.String(20)),
        sa.Column("contact_id", sa.String(18), index=True),
        sa.Column("account_id", sa.String(18), index=True),
        sa.Column("zendesk_user_id", sa.BigInteger),
        sa.Column("zendesk_org_id", sa.BigInteger),
        sa.Column("match", sa.JSON),
        sa.Column("decision", sa.JSON),
        sa.Column("received_at", UTCDateTime, nullable=False),
    )
    sa.Table(
        "nps_response_versions",
        meta,
        sa.Column("source", sa.String(100), primary_key=True),
        sa.Column("response_id", sa.String(200), primary_key=True),
        sa.Column("version", sa.String(64), primary_key=True),
        sa.Column("score", sa.Integer, nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("received_at", UTCDateTime, nullable=False),
    )
    sa.Table(
        "nps_actions",
        meta,
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("response_id", sa.String(200), nullable=False),
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("action", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("ruleset_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("attempts", sa.Integer, nullable=False, default=0),
        sa.Column("failures", sa.Integer, nullable=False, default=0),
        sa.Column("next_attempt_at", UTCDateTime, nullable=False),
        sa.Column("lease_owner", sa.String(100)),
        sa.Column("lease_until", UTCDateTime),
        sa.Column("external_id", sa.String(100)),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    sa.Table(
        "nps_written_values",
        meta,
        sa.Column("system", sa.String(20), primary_key=True),
        sa.Column("object", sa.String(80), primary_key=True),
        sa.Column("record_id", sa.String(40), primary_key=True),
        sa.Column("field", sa.String(120), primary_key=True),
        sa.Column("value", sa.JSON),
        sa.Column("written_at", UTCDateTime, nullable=False),
    )
    sa.Table(
        "nps_runs",
        meta,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("finished_at", UTCDateTime),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("stats", sa.JSON),
    )
    sa.Table(
        "nps_problems",
        meta,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("location", sa.String(500), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("seen_at", UTCDateTime, nullable=False),
    )
    return meta


def response_row(rid: str, status: str) -> dict[str, Any]:
    return {
        "source": "delighted",
        "response_id": rid,
        "version": f"v-{rid}",
        "email": f"{rid}@example.com",
        "score": 3,
        "comment": "slow support",
        "created_at": T0,
        "updated_at": T0,
        "data": {"person_name": "Ada"},
        "status": status,
        "routed_version": f"v-{rid}" if status == "routed" else None,
        "match_status": "matched" if status == "routed" else None,
        "contact_id": "003A" if status == "routed" else None,
        "account_id": "001A" if status == "routed" else None,
        "received_at": T0,
    }


def action_row(key: str, status: str) -> dict[str, Any]:
    return {
        "key": key,
        "source": "delighted",
        "response_id": "r1",
        "rule": "detractors",
        "action": key,
        "kind": "salesforce_task",
        "payload": {"subject": key},
        "ruleset_hash": "h",
        "status": status,
        "attempts": 1 if status != "pending" else 0,
        "failures": 0,
        "next_attempt_at": T0,
        "external_id": "00T1" if status == "done" else None,
        "created_at": T0,
        "updated_at": T0,
    }


def create_v1(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """A v1 database holding a little of everything; returns its rows per table."""
    meta = v1_metadata()
    engine = sa.create_engine(url)
    tables = meta.tables
    with engine.begin() as conn:
        meta.create_all(conn)
        conn.execute(tables["nps_schema_version"].insert().values(id=1, version=1))
        conn.execute(
            tables["nps_cursors"]
            .insert()
            .values(source="delighted", value="1759309200", updated_at=T0)
        )
        conn.execute(
            tables["nps_responses"].insert(),
            [response_row("r1", "routed"), response_row("r2", "pending")],
        )
        conn.execute(
            tables["nps_response_versions"]
            .insert()
            .values(
                source="delighted",
                response_id="r1",
                version="v-r1",
                score=3,
                comment="",
                received_at=T0,
            )
        )
        conn.execute(
            tables["nps_actions"].insert(),
            [
                action_row("done-1", "done"),
                action_row("todo-1", "pending"),
                action_row("dead-1", "dead"),
            ],
        )
        conn.execute(
            tables["nps_written_values"]
            .insert()
            .values(
                system="salesforce",
                object="Contact",
                record_id="003A",
                field="NPS_Last_Score__c",
                value=3,
                written_at=T0,
            )
        )
        conn.execute(
            tables["nps_runs"]
            .insert()
            .values(started_at=T0, finished_at=T0, status="ok", stats={"pulled": 2})
        )
        conn.execute(
            tables["nps_problems"]
            .insert()
            .values(
                source="delighted",
                location="delighted:9",
                reason="score 11 is not 0-10",
                seen_at=T0,
            )
        )
    rows = read_tables(engine, meta)
    engine.dispose()
    return rows


def read_tables(engine: sa.Engine, meta: sa.MetaData) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of these tables, restricted to the tables' own columns, in a stable order."""
    current = sa.MetaData()
    with warnings.catch_warnings():
        # SQLite's reflection leaves out expression indexes (lower(email)); columns are compared
        warnings.filterwarnings("ignore", "Skipped unsupported reflection", sa.exc.SAWarning)
        current.reflect(engine)
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for name, table in meta.tables.items():
            if name == "nps_schema_version":
                continue
            live = current.tables[name]
            columns = [live.c[c.name] for c in table.columns]
            rows = conn.execute(sa.select(*columns).order_by(*columns[:2])).all()
            out[name] = [tuple(str(v) for v in row) for row in rows]
    return out


def test_rel_a_v1_database_upgrades_with_every_row_intact(store_url: str) -> None:
    before = create_v1(store_url)
    store = StateStore(store_url)
    try:
        assert store.migrate() == t.LATEST_VERSION
        assert read_tables(store.engine, v1_metadata()) == before
        # ... and the upgraded database works with this release.
        assert store.cursors.get("delighted") == "1759309200"
        assert [r.response.response_id for r in store.inbox.pending(10, T0)] == ["r2"]
        assert store.outbox.counts() == {"done": 1, "pending": 1, "dead": 1}
        assert [c.key for c in store.outbox.claim("w", limit=5, lease=LEASE, now=T0)] == ["todo-1"]
        assert store.runs.last(1)[0]["stats"] == {"pulled": 2}
        outcome = RoutingOutcome(
            "delighted",
            "r2",
            "v-r2",
            "matched",
            "003B",
            "001B",
            None,
            None,
            {},
            {},
            [ActionIntent("new-1", "delighted", "r2", "rule", "a", "salesforce_task", {}, "h")],
        )
        assert store.record_routing([outcome], T0).intents == 1
        queued = store.write_backs.queued()
        assert (dict(queued.contacts), dict(queued.accounts)) == ({"003B": 1}, {"001B": 1})
        assert store.migrate() == t.LATEST_VERSION  # idempotent
    finally:
        store.close()


def index_columns(engine: sa.Engine, table: str) -> dict[str, tuple[str, ...]]:
    """The column indexes of a table as the database has them (expression indexes left out)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection", sa.exc.SAWarning)
        found = sa.inspect(engine).get_indexes(table)
    return {
        str(i["name"]): tuple(str(c) for c in i["column_names"])
        for i in found
        if i.get("column_names") and None not in i["column_names"]
    }


@pytest.mark.parametrize("upgraded", [False, True], ids=["fresh", "upgraded-from-v1"])
@pytest.mark.parametrize("table", ["nps_responses", "nps_actions"])
def test_rel_status_changes_write_no_index_another_one_covers(
    store_url: str, table: str, upgraded: bool
) -> None:
    """Every status change of a response or action writes each of its indexes: none of them may
    be a leading part of another (that index answers its queries), and an upgraded database has
    the indexes a fresh one has."""
    if upgraded:
        create_v1(store_url)
    store = StateStore(store_url)
    try:
        store.migrate()
        indexes = index_columns(store.engine, table)
    finally:
        store.close()
    covered = sorted(
        f"{name} {columns} leads {other} {longer}"
        for name, columns in indexes.items()
        for other, longer in indexes.items()
        if other != name and longer[: len(columns)] == columns
    )
    assert covered == []
    declared = {i.name for i in t.metadata.tables[table].indexes if i.name in indexes}
    assert set(indexes) == declared


@pytest.mark.parametrize("upgraded", [False, True], ids=["fresh", "upgraded-from-v1"])
def test_rel_each_persons_answers_have_their_ordered_index(store_url: str, upgraded: bool) -> None:
    """Fresh or upgraded, a database orders each person's answers in one index (which a
    customer context reads) and keeps no index of the lower-case email alone, its first part."""
    if upgraded:
        create_v1(store_url)
    store = StateStore(store_url)
    try:
        store.migrate()
        catalogue = (
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'nps_responses'"
            if store.dialect == "sqlite"
            else "SELECT indexname FROM pg_indexes WHERE tablename = 'nps_responses'"
        )
        with store.engine.connect() as conn:
            names = {str(name) for name in conn.exec_driver_sql(catalogue).scalars()}
    finally:
        store.close()
    assert t.PERSON_ORDER in names
    assert "ix_nps_responses_email_lower" not in names


def add_column_step(fail: bool) -> Callable[[Connection], None]:
    """A synthetic next version: a new column with a backfill, optionally failing at the end."""

    def step(conn: Connection) -> None:
        conn.execute(sa.text("ALTER TABLE nps_cursors ADD COLUMN note VARCHAR(20)"))
        conn.execute(sa.text("UPDATE nps_cursors SET note = 'kept'"))
        if fail:
            raise RuntimeError("disk full")

    return step


@pytest.mark.parametrize("fail", [False, True], ids=["succeeds", "fails"])
def test_rel_a_synthetic_next_step_is_all_or_nothing(
    store_url: str, monkeypatch: pytest.MonkeyPatch, fail: bool
) -> None:
    store = StateStore(store_url)
    store.migrate()
    store.inbox.ingest_page("delighted", [_response("r1")], "100", T0)
    store.close()

    latest = t.LATEST_VERSION
    monkeypatch.setitem(t.MIGRATIONS, latest, add_column_step(fail))
    monkeypatch.setattr(t, "LATEST_VERSION", latest + 1)
    store = StateStore(store_url)
    try:
        if fail:
            with pytest.raises(RuntimeError, match="disk full"):
                store.migrate()
        else:
            assert store.migrate() == latest + 1
        with store.engine.connect() as conn:
            version = conn.execute(sa.select(t.schema_version.c.version)).scalar_one()
            columns = {c["name"] for c in sa.inspect(conn).get_columns("nps_cursors")}
            notes = (
                conn.execute(sa.text("SELECT note FROM nps_cursors")).scalars().all()
                if not fail
                else []
            )
        assert version == (latest if fail else latest + 1)
        assert ("note" in columns) is not fail
        assert notes == ([] if fail else ["kept"])
        assert store.cursors.get("delighted") == "100"
        assert store.inbox.get("delighted", "r1") is not None
    finally:
        store.close()


@pytest.mark.postgres
def test_rel_replicas_starting_together_upgrade_once(pg_url: str) -> None:
    create_v1(pg_url)
    start = threading.Barrier(4)
    results: list[object] = []

    def replica() -> None:
        store = StateStore(pg_url)
        start.wait()
        try:
            results.append(store.migrate())
        except Exception as exc:
            results.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=replica) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert results == [t.LATEST_VERSION] * 4


def _response(rid: str) -> SurveyResponse:
    return SurveyResponse("delighted", rid, f"{rid}@example.com", 3, "", T0, T0)
