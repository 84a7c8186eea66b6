"""The repositories of the state store and their dialect helper, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from connectors.models import SurveyResponse
from sync.state import (
    ActionIntent,
    CooldownClaim,
    QueuedWriteBacks,
    RoutingOutcome,
    StateStore,
    TicketStatus,
)
from sync.state import schema as t
from sync.state.dialect import chunks, insert_ignore, upsert
from sync.state.escalations import PlannedStep
from tests.sync.test_claim_order import sent_statements, sqlite_plans

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


class FailedMidwayError(Exception):
    pass


def cursor_rows(store: StateStore) -> dict[str, str | None]:
    return {source: value for source, (value, _) in store.cursors.all().items()}


# -- dialect -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("items", "size", "expected"),
    [
        ([], 3, []),
        ([1, 2], 3, [[1, 2]]),
        ([1, 2, 3], 3, [[1, 2, 3]]),
        ([1, 2, 3, 4, 5, 6, 7], 3, [[1, 2, 3], [4, 5, 6], [7]]),
    ],
)
def test_chunks_split_in_order_without_empty_lists(
    items: list[int], size: int, expected: list[list[int]]
) -> None:
    assert list(chunks(items, size)) == expected


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ("insert_ignore", "first"),
        ("upsert", "second"),
        ("upsert_set", "first+second"),
    ],
)
def test_conflicting_inserts_per_backend(store: StateStore, statement: str, expected: str) -> None:
    c = t.cursors
    with store.transaction() as conn:
        conn.execute(c.insert().values(source="s", value="first", updated_at=T0))
        if statement == "insert_ignore":
            stmt = insert_ignore(conn, c)
        elif statement == "upsert":
            stmt = upsert(conn, c, ["source"])
        else:
            stmt = upsert(store, c, ["source"], {"value": c.c.value + "+" + sa.literal("second")})
        conn.execute(stmt, [{"source": "s", "value": "second", "updated_at": T0}])
    assert cursor_rows(store) == {"s": expected}


def test_repositories_join_the_callers_transaction(store: StateStore) -> None:
    claim = CooldownClaim("rule", "acme", "delighted", "1", T0)

    def write_both_then_fail() -> None:
        with store.transaction() as tx:
            store.cursors.set("delighted", "100", T0, tx)
            store.cooldowns.add([claim], T0, tx)
            raise FailedMidwayError

    with pytest.raises(FailedMidwayError):
        write_both_then_fail()
    assert cursor_rows(store) == {}
    assert store.cooldowns.claims([("rule", "acme")]) == []
    with store.transaction() as tx:
        store.cursors.set("delighted", "100", T0, tx)
        store.cooldowns.add([claim], T0, tx)
    assert cursor_rows(store) == {"delighted": "100"}
    assert store.cooldowns.claims([("rule", "acme")]) == [claim]


# -- cursors and runs --------------------------------------------------------------------------
def test_cursors_move_and_runs_are_recorded_and_pruned(store: StateStore) -> None:
    assert store.cursors.get("delighted") is None
    store.cursors.set("delighted", "100", T0)
    store.cursors.set("delighted", "200", T0 + timedelta(minutes=1))
    assert store.cursors.get("delighted") == "200"
    assert store.cursors.all() == {"delighted": ("200", T0 + timedelta(minutes=1))}

    old = store.runs.start(T0 - timedelta(days=40), kind="drain")
    new = store.runs.start(T0, owner="host:1:1")
    store.runs.finish(new, "ok", {"pulled": 2}, T0 + timedelta(seconds=5))
    last = store.runs.last(5)
    assert [run["id"] for run in last] == [new, old]
    assert (last[0]["status"], last[0]["kind"], last[0]["owner"]) == ("ok", "pass", "host:1:1")
    assert last[0]["stats"] == {"pulled": 2}
    assert last[1]["status"] == "running"
    assert store.runs.prune(T0 - timedelta(days=30)) == 1
    assert [run["id"] for run in store.runs.last(5)] == [new]


# -- cooldowns ---------------------------------------------------------------------------------
def test_cooldown_claims_keep_the_first_and_match_exact_pairs(store: StateStore) -> None:
    first = CooldownClaim("tickets", "acme", "delighted", "1", T0)
    store.cooldowns.add([first, CooldownClaim("calls", "globex", "delighted", "2", T0)], T0)
    store.cooldowns.add(
        [CooldownClaim("tickets", "acme", "delighted", "1", T0 + timedelta(days=1))], T0
    )
    assert store.cooldowns.claims([("tickets", "acme")]) == [first]
    # Rule and value are matched as a pair, not each on its own.
    assert store.cooldowns.claims([("tickets", "globex"), ("calls", "acme")]) == []
    assert store.cooldowns.claims([]) == []


# -- write-back queue --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("requeued", "cleared", "left"),
    [
        (False, 1, {}),  # written at the generation it was queued at: gone
        (True, 0, {"003A": 2}),  # queued again while being written: stays for the new work
    ],
)
def test_write_backs_clear_only_the_generation_written(
    store: StateStore, requeued: bool, cleared: int, left: dict[str, int]
) -> None:
    store.write_backs.queue(contact_ids=["003A"], now=T0)
    taken = store.write_backs.queued()
    assert taken == QueuedWriteBacks({"003A": 1}, {})
    if requeued:
        store.write_backs.queue(contact_ids=["003A"], now=T0)
    assert store.write_backs.clear(taken) == cleared
    assert dict(store.write_backs.queued().contacts) == left


def test_write_backs_are_dropped_after_max_attempts(store: StateStore) -> None:
    store.write_backs.queue(contact_ids=["003A"], account_ids=["001A", "001A"], now=T0)
    taken = store.write_backs.queued()
    assert taken == QueuedWriteBacks({"003A": 1}, {"001A": 1})
    assert store.write_backs.fail(taken, max_attempts=2) == 0
    assert store.write_backs.fail(QueuedWriteBacks({"003A": 1}), max_attempts=2) == 1
    assert store.write_backs.queued() == QueuedWriteBacks({}, {"001A": 1})
    assert store.write_backs.clear(QueuedWriteBacks()) == 0
    assert store.write_backs.fail(QueuedWriteBacks(), max_attempts=2) == 0


# -- outbox ------------------------------------------------------------------------------------
def intent(key: str, kind: str = "salesforce_task", rid: str = "1") -> ActionIntent:
    return ActionIntent(key, "delighted", rid, "rule", f"do-{key}", kind, {"k": key}, "h")


def test_enqueue_adds_only_new_keys(store: StateStore) -> None:
    assert store.outbox.enqueue([intent("a"), intent("b")], T0) == 2
    assert store.outbox.enqueue([intent("b"), intent("c")], T0) == 1
    assert [a.key for a in store.outbox.actions(status="pending")] == ["a", "b", "c"]
    assert store.outbox.counts() == {"pending": 3}


# -- ticket ledger -----------------------------------------------------------------------------
def routed_with_tickets(store: StateStore, rid: str, *keys: str) -> None:
    response = SurveyResponse(
        source="delighted",
        response_id=rid,
        email=f"{rid}@example.com",
        score=2,
        comment="",
        created_at=T0,
        updated_at=T0,
    )
    store.inbox.ingest_page("delighted", [response], None, T0)
    stored = store.inbox.get("delighted", rid)
    assert stored is not None
    outcome = RoutingOutcome(
        "delighted",
        rid,
        stored.version,
        "matched",
        None,
        None,
        None,
        None,
        {},
        {},
        [intent(k, "zendesk_ticket", rid) for k in keys],
    )
    store.record_routing([outcome], T0)


def test_ticket_owners_are_the_creating_and_the_commenting_actions(store: StateStore) -> None:
    routed_with_tickets(store, "1", "created", "commented", "other")
    claimed = store.outbox.claim("me", limit=10, lease=timedelta(minutes=5), now=T0)
    assert {c.key for c in claimed} == {"created", "commented", "other"}
    assert store.outbox.complete("commented", "me", "42", T0)  # a comment on ticket 42
    owners = store.tickets.owners([(42, "created"), (43, None), (44, "not-ours")])
    assert owners == {42: {"created", "commented"}}
    assert store.tickets.first_ticket_action_at() == T0


def test_ticket_statuses_are_replaced_per_action(store: StateStore) -> None:
    assert store.tickets.statuses() == {}
    open_ = TicketStatus("a", 42, "open", T0, None, 0)
    solved = TicketStatus("a", 42, "solved", T0, T0, 0)
    other = TicketStatus("b", 43, "new", None, None, 1)
    store.tickets.save_statuses([open_, other], T0)
    store.tickets.save_statuses([solved], T0)
    store.tickets.save_statuses([], T0)
    assert store.tickets.statuses() == {"a": solved, "b": other}
    assert store.tickets.statuses(["b", "b", "zz"]) == {"b": other}
    assert store.tickets.statuses([]) == {}


# -- locks -------------------------------------------------------------------------------------
def test_a_singleton_is_held_by_one_store_at_a_time(store_url: str) -> None:
    first, second = StateStore(store_url), StateStore(store_url)
    exclusive = first.dialect == "postgresql"  # SQLite's are the process's: granted in it
    try:
        with first.locks.singleton("pull:delighted") as got:
            assert got
            with second.locks.singleton("pull:delighted") as also:
                assert also is not exclusive
            with second.locks.singleton("route") as other:
                assert other
        with second.locks.singleton("pull:delighted") as again:
            assert again
    finally:
        first.close()
        second.close()


HOLD_LOCK = """
import sys, time
from sync.state import StateStore
store = StateStore(sys.argv[1])
with store.locks.singleton("route") as got:
    print("held" if got else "taken", flush=True)
    time.sleep(30)
"""


def test_on_sqlite_another_process_holding_a_lock_keeps_it_from_this_one(tmp_path: Path) -> None:
    """A ``sync`` beside the daemon must not route what the daemon routes."""
    url = f"sqlite:///{tmp_path / 'state.db'}"
    StateStore(url).migrate()
    holder = subprocess.Popen(  # noqa: S603 - this interpreter, the test's own script
        [sys.executable, "-c", HOLD_LOCK, url], stdout=subprocess.PIPE, text=True
    )
    store = StateStore(url)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        with store.locks.singleton("route") as route, store.locks.singleton("pull") as pull:
            assert (route, pull) == (False, True)
        holder.kill()
        holder.wait(10)
        with store.locks.singleton("route") as route:
            assert route  # a killed holder's lock goes with it
    finally:
        holder.kill()
        holder.wait(10)
        if holder.stdout is not None:
            holder.stdout.close()
        store.close()


def test_on_sqlite_reads_do_not_wait_for_another_process_writing(tmp_path: Path) -> None:
    """`status` and the views answer while a pass holds the write lock (WAL readers never wait)."""
    url = f"sqlite:///{tmp_path / 'state.db'}"
    store = StateStore(url)
    store.migrate()
    writer = sqlite3.connect(tmp_path / "state.db", isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("INSERT INTO nps_cursors VALUES ('x', 'y', '2026-12-07 00:00:00')")
        started = time.monotonic()
        assert store.inbox.counts() == {}
        assert store.cursors.get("x") is None  # the writer's row is not committed yet
        assert time.monotonic() - started < 5  # the busy timeout is 30 s
    finally:
        writer.execute("ROLLBACK")
        writer.close()
        store.close()


def test_zendesk_user_misses_are_remembered_renewed_forgotten_and_pruned(
    store: StateStore,
) -> None:
    misses = store.user_misses
    misses.remember(["Ann@Example.com", "bob@example.com"], T0)
    assert misses.recent(["ann@example.com", "bob@example.com", "cy@example.com"], T0) == {
        "ann@example.com",
        "bob@example.com",
    }
    misses.remember(["bob@example.com"], T0 + timedelta(days=5))  # searched again: renewed
    later = T0 + timedelta(days=8)
    assert misses.recent(["ann@example.com", "bob@example.com"], later - timedelta(days=7)) == {
        "bob@example.com"
    }
    misses.forget(["BOB@example.com"])
    assert misses.recent(["bob@example.com"], T0) == set()
    assert misses.prune(later - timedelta(days=7)) == 1  # ann's expired answer
    assert misses.recent(["ann@example.com"], T0 - timedelta(days=1)) == set()


def test_match_details_are_read_for_just_the_responses_asked_for(store: StateStore) -> None:
    for rid, match in (("1", {"account": {"arr": 5}}), ("2", {}), ("3", {"account": {"arr": 7}})):
        routed_with_tickets(store, rid)
        stored = store.inbox.get("delighted", rid)
        assert stored is not None
        outcome = RoutingOutcome(
            "delighted", rid, stored.version, "matched", None, "001A", None, None, match, {}
        )
        store.record_routing([outcome], T0)

    found = store.inbox.matches([("delighted", "1"), ("delighted", "2"), ("typeform", "3")])

    assert found == {("delighted", "1"): {"account": {"arr": 5}}}


def test_match_details_are_read_by_key_not_by_scanning_every_response(store: StateStore) -> None:
    """SQLite scans the whole table for ``(source, response_id) IN (...)``: at 100,000
    responses, 53 ms a query where the key answers at once."""
    for rid in ("1", "2"):
        routed_with_tickets(store, rid)
    wanted = [("delighted", "1"), ("typeform", "2")]

    plans = sqlite_plans(store, "SELECT", lambda: store.inbox.matches(wanted))

    assert plans
    assert not [plan for plan in plans if "SCAN nps_responses" in plan], plans


# -- a person's answers around the one at hand ---------------------------------------------------
def answered(rid: str, email: str, at: datetime, score: int = 5) -> SurveyResponse:
    return SurveyResponse(
        source="delighted",
        response_id=rid,
        email=email,
        score=score,
        comment=f"comment {rid}",
        created_at=at,
        updated_at=at,
    )


@pytest.mark.parametrize(
    ("at_hand", "limit"),
    [
        (["r010"], 3),  # in the middle of a long history
        (["r000", "r039"], 2),  # at both ends
        (["r010", "r012", "r030"], 3),  # overlapping windows and a separate one
        (["r020"], 0),  # the answer alone
        (["r005"], 50),  # a window longer than the history
    ],
)
def test_answers_around_give_each_answers_context_as_the_whole_history_does(
    store: StateStore, at_hand: list[str], limit: int
) -> None:
    # Forty answers of one person (the email in two spellings), some sharing their time, with
    # ids whose order differs between byte order and a locale's collation; another person too.
    times = [T0 + timedelta(days=i // 3) for i in range(40)]
    ids = [f"r{i:03d}" for i in range(40)]
    people = [
        answered(rid, "Pat@Example.com" if i % 2 else "pat@example.com", at)
        for i, (rid, at) in enumerate(zip(ids, times, strict=True))
    ]
    people += [answered("R-9", "pat@example.com", times[20]), answered("x", "x@example.com", T0)]
    store.inbox.ingest_page("delighted", people, None, T0)
    whole = store.tickets.history(["pat@example.com"])["pat@example.com"]

    around = store.tickets.answers_around(
        [("delighted", rid, "PAT@example.com") for rid in at_hand], limit
    )

    assert set(around) == {"pat@example.com"}
    shown = around["pat@example.com"]
    assert shown == sorted(shown, key=lambda p: (p.created_at, p.source, p.response_id))
    expected: set[str] = set()
    for rid in at_hand:
        mine = [p.response_id for p in whole].index(rid)
        expected |= {p.response_id for p in whole[max(mine - limit, 0) : mine + limit + 1]}
    assert {p.response_id for p in shown} == expected
    assert len(shown) <= len(at_hand) * (2 * limit + 1)


def around_plans(store: StateStore, run: Callable[[], object]) -> list[str]:
    """The plan of each query ``run`` sends for the answers around answers at hand: SQLite's
    EXPLAIN QUERY PLAN, or PostgreSQL's EXPLAIN with sequential scans and sorts priced out of
    reach, so only an index that gives the order itself keeps a plan free of them."""
    sent = sent_statements(store, "WITH h(s, i, e)", run)
    plans = []
    with store.transaction() as conn:
        for statement, params in sent:
            if conn.dialect.name == "sqlite":
                rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params)
                plans.append(" ".join(str(row[-1]) for row in rows))
                continue
            for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
                conn.exec_driver_sql(f"SET LOCAL {setting} = off")
            rows = conn.exec_driver_sql(f"EXPLAIN {statement}", params)
            plans.append(" ".join(str(row[0]) for row in rows))
    return plans


def test_the_answers_around_one_are_read_in_order_from_the_person_index(
    store: StateStore,
) -> None:
    # A long history: a customer context must not read (or sort) all of it for a few rows.
    people = [answered(f"r{i:04d}", "pat@example.com", T0 + timedelta(hours=i)) for i in range(300)]
    store.inbox.ingest_page("delighted", people, None, T0)

    plans = around_plans(
        store,
        lambda: store.tickets.answers_around([("delighted", "r0150", "pat@example.com")], 5),
    )

    assert len(plans) == 1
    assert plans[0].count(t.PERSON_ORDER) == 2  # the answers before, and those after
    assert "TEMP B-TREE" not in plans[0]  # SQLite: no sort
    assert "Sort" not in plans[0]  # PostgreSQL: the index gives the order, collation included


def test_an_answer_not_stored_gets_the_whole_history_to_be_placed_in(store: StateStore) -> None:
    people = [answered(f"r{i}", "pat@example.com", T0 + timedelta(days=i)) for i in range(12)]
    store.inbox.ingest_page("delighted", people, None, T0)

    around = store.tickets.answers_around(
        [("delighted", "r3", "pat@example.com"), ("typeform", "new", "pat@example.com")], 1
    )

    assert [p.response_id for p in around["pat@example.com"]] == [f"r{i}" for i in range(12)]
    assert store.tickets.answers_around([("delighted", "r3", "")], 1) == {}


# -- escalations -------------------------------------------------------------------------------
def test_a_resolution_step_taken_back_counts_its_deadline_again(store: StateStore) -> None:
    """A loop resolved in time settles its SLA step; the customer reopening the ticket takes
    that back, so the deadline, now passed, escalates at the next pass."""
    routed_with_tickets(store, "1", "ticket")
    store.outbox.claim("me", limit=10, lease=timedelta(minutes=5), now=T0)
    assert store.outbox.complete("ticket", "me", "42", T0)
    step = PlannedStep(
        "ticket", 1001, "delighted", "1", "rule", "overdue", timedelta(hours=1), False
    )
    store.escalations.plan([step], T0)
    assert store.escalations.schedule(lambda s: s.done_at + s.after, T0) == 1
    later = T0 + timedelta(hours=2)

    assert store.escalations.resolve_steps([("ticket", 1001)], T0 + timedelta(minutes=30)) == 1
    assert store.escalations.due(later) == []
    assert store.escalations.reopen_steps([("ticket", 1001), ("ticket", 1000)], later) == 1
    assert [(d.action_key, d.step, d.resolved_at) for d in store.escalations.due(later)] == [
        ("ticket", 1001, None)
    ]
