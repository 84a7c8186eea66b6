"""The inbox: responses upserted by (source, response id) with their versions, edits re-evaluated
without repeating actions, and the source cursor stored with the page it covers, never past the
run's start."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.models import SourceProblem, SurveyResponse
from emulators.world import DELIGHTED_HOST, DEMO_ENV, EmulatedWorld
from sync.state import RoutingOutcome, StateStore
from sync.state import inbox as inbox_module
from sync.state import schema as t
from tests.reliability.conftest import fast_engine, snapshot

T0 = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)


class Crash(BaseException):
    """Stands in for the process dying: nothing in the engine catches it."""


def version_of(rid: str, *, score: int = 3, comment: str = "", minutes: int = 0) -> SurveyResponse:
    return SurveyResponse(
        "delighted", rid, f"{rid}@example.com", score, comment, T0, T0 + timedelta(minutes=minutes)
    )


def versions(store: StateStore, rid: str) -> list[tuple[int, str]]:
    v = t.response_versions
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(v.c.score, v.c.comment).where(v.c.response_id == rid).order_by(v.c.version)
        ).all()
    return [(row.score, row.comment) for row in rows]


def test_rel_every_version_is_kept_and_only_the_latest_is_routed(store: StateStore) -> None:
    store.inbox.ingest_page("delighted", [version_of("r1")], "1", T0)
    first = store.inbox.pending(10, T0)
    assert [s.version for s in first] == [first[0].version]
    # The comment arrives later, then the score changes; a page may repeat an older version.
    store.inbox.ingest_page("delighted", [version_of("r1", comment="slow", minutes=5)], "2", T0)
    page = [version_of("r1", score=1, comment="slow", minutes=9), version_of("r1", minutes=0)]
    stats = store.inbox.ingest_page("delighted", page, "3", T0)
    assert (stats.new, stats.updated) == (0, 1)
    assert versions(store, "r1") == [(3, ""), (3, "slow"), (1, "slow")]
    latest = store.inbox.get("delighted", "r1")
    assert latest is not None
    assert (latest.response.score, latest.response.comment) == (1, "slow")

    # A decision taken on an older version does not count for the latest one.
    stale = RoutingOutcome(
        "delighted", "r1", first[0].version, "matched", None, None, None, None, {}, {}
    )
    store.record_routing([stale], T0)
    assert [s.version for s in store.inbox.pending(10, T0)] == [latest.version]


def test_rel_an_edited_response_is_reevaluated_without_repeating_actions(
    small_world: EmulatedWorld, sqlite_url: str
) -> None:
    engine = fast_engine(small_world, sqlite_url)
    engine.run_once()
    contacts = {c.email: c for c in small_world.book.contacts}
    # A detractor's answer that is its contact's latest, so the contact's fields follow the edit.
    newest: dict[str, Any] = {}
    for r in sorted(small_world.book.responses, key=lambda r: r.created_at):
        newest[r.email.lower()] = r
    detractor = next(r for r in newest.values() if 0 < r.score <= 6 and r.email.lower() in contacts)
    contact = contacts[detractor.email.lower()]
    first = small_world.salesforce.get_record("Contact", contact.id)
    assert first is not None
    assert first["NPS_Last_Score__c"] == detractor.score
    before = len(small_world.salesforce.records("Task"))
    tickets = len(small_world.zendesk.tickets())
    actions = {a.key for a in engine.store.outbox.actions()}

    small_world.delighted.update_response(detractor.id, score=0, comment="Nobody called back.")
    report = fast_engine(small_world, sqlite_url).run_once()

    assert (report.updated, report.routed) == (1, 1)
    assert (report.tasks_created, report.tickets_created) == (0, 0)
    assert len(small_world.salesforce.records("Task")) == before
    assert len(small_world.zendesk.tickets()) == tickets
    # Nothing done again; the one new kind of work is a note of the change on each follow-up.
    added = [a for a in engine.store.outbox.actions() if a.key not in actions]
    assert report.intents == len(added) > 0
    assert {a.kind for a in added} <= {"salesforce_task_amend", "zendesk_ticket_amend"}
    assert all(a.response_id == detractor.id and a.status == "done" for a in added)
    stored = engine.store.inbox.get("delighted", detractor.id)
    assert stored is not None
    assert stored.routed_version == stored.version  # the new version was decided on
    record = small_world.salesforce.get_record("Contact", contact.id)
    assert record is not None
    assert (record["NPS_Last_Score__c"], record["NPS_Last_Comment__c"]) == (
        0,
        "Nobody called back.",
    )


def paged_sources(per_page: int) -> list[dict[str, Any]]:
    return [
        {
            "type": "delighted",
            "name": "delighted",
            "api_key": {"env": next(k for k in DEMO_ENV if "DELIGHTED" in k)},
            "base_url": DELIGHTED_HOST,
            "per_page": per_page,
        }
    ]


def crash_on_ingest(store: StateStore, call: int, cursors: list[str | None], ids: set[str]) -> None:
    """Make the ``call``-th page die after it was fetched and before it is stored."""
    ingest = store.inbox.ingest_page

    def dying(
        source: str,
        page: Sequence[SurveyResponse],
        cursor: str | None,
        now: datetime,
        problems: Sequence[SourceProblem] = (),
    ) -> Any:
        if len(cursors) + 1 == call:
            raise Crash
        result = ingest(source, page, cursor, now, problems=problems)
        cursors.append(cursor)
        ids.update(r.response_id for r in page)
        return result

    store.inbox.ingest_page = dying  # type: ignore[method-assign]


def test_rel_a_crash_between_fetching_a_page_and_storing_it_loses_nothing(
    small_world: EmulatedWorld, sqlite_url: str
) -> None:
    sources = paged_sources(per_page=20)
    engine = fast_engine(small_world, sqlite_url, sources=sources)
    stored_cursors: list[str | None] = []
    stored_ids: set[str] = set()
    crash_on_ingest(engine.store, 3, stored_cursors, stored_ids)
    with pytest.raises(Crash):
        engine.run_once()
    assert len(stored_cursors) == 2
    assert engine.store.cursors.get("delighted") == stored_cursors[-1]
    assert sum(engine.store.inbox.counts().values()) == len(stored_ids) >= 30

    report = fast_engine(small_world, sqlite_url, sources=sources).run_once()
    total = len(small_world.book.responses) - len(report.problems)
    assert report.errors == []
    assert sum(engine.store.inbox.counts().values()) == total
    assert engine.store.inbox.counts().get("pending", 0) == 0
    with engine.store.engine.connect() as conn:
        kept = conn.execute(sa.select(sa.func.count()).select_from(t.response_versions))
        assert kept.scalar_one() == total  # one version each: nothing stored twice
    assert report.routed == total


def test_rel_a_page_and_its_cursor_are_stored_together_or_not_at_all(
    store: StateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.inbox.ingest_page("delighted", [version_of("r1")], "100", T0)

    def failing(*_args: object) -> None:
        raise RuntimeError("connection lost mid-transaction")

    monkeypatch.setattr(inbox_module, "_insert_problems", failing)
    page = [version_of("r2"), version_of("r1", comment="edited", minutes=3)]
    with pytest.raises(RuntimeError):
        store.inbox.ingest_page("delighted", page, "200", T0)
    assert store.cursors.get("delighted") == "100"
    assert store.inbox.get("delighted", "r2") is None
    r1 = store.inbox.get("delighted", "r1")
    assert r1 is not None
    assert r1.response.comment == ""
    assert versions(store, "r1") == [(3, "")]


def test_rel_the_cursor_never_passes_the_runs_start(
    small_world: EmulatedWorld, sqlite_url: str
) -> None:
    start = datetime.now(UTC).replace(microsecond=0)
    contact = small_world.book.contacts[0]
    late = small_world.delighted.add_response(
        email=contact.email,
        score=2,
        comment="arrived while the run was under way",
        created_at=start + timedelta(minutes=10),
    )

    def at(moment: datetime) -> Callable[[], datetime]:
        return lambda: moment

    first = fast_engine(small_world, sqlite_url, clock=at(start))
    first.run_once()
    cursor = first.store.cursors.get("delighted")
    assert cursor is not None
    assert int(cursor) <= start.timestamp()
    assert first.store.inbox.get("delighted", late) is None

    later = start + timedelta(minutes=30)
    second = fast_engine(small_world, sqlite_url, clock=at(later))
    report = second.run_once()
    assert report.new == 1
    assert second.store.inbox.get("delighted", late) is not None
    ours = [a for a in second.store.outbox.actions() if a.response_id == late]
    assert {a.status for a in ours} == {"done"}
    # Every record made is in the world (notes on the contact's earlier follow-ups make none).
    acted = {a.key for a in ours if not a.kind.endswith("_amend")}
    assert acted
    assert acted <= snapshot(small_world).acted
