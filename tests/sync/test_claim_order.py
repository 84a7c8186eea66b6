"""A claim takes the due actions of a kind in claim order, reading them from an index in that
order: pending actions that are due, and claimed ones whose lease ran out, together."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.models import SurveyResponse
from sync.state import ActionIntent, StateStore
from sync.state import schema as t
from sync.state.outbox import DETRACTOR_FIRST, ORDINARY

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)


def intent(key: str, kind: str = "salesforce_task", priority: int = ORDINARY) -> ActionIntent:
    return ActionIntent(key, "delighted", key, "rule", "act", kind, {}, "h", priority=priority)


def due_at(store: StateStore, key: str, at: datetime) -> None:
    with store.transaction() as conn:
        a = t.actions
        conn.execute(a.update().where(a.c.key == key).values(next_attempt_at=at))


@pytest.mark.parametrize("limit", [1, 2, 3, 4, 10])
def test_claims_merge_due_and_expired_actions_in_claim_order(store: StateStore, limit: int) -> None:
    store.outbox.enqueue(
        [
            intent("a-expired-detractor", priority=DETRACTOR_FIRST),
            intent("b-pending-detractor", priority=DETRACTOR_FIRST),
            intent("c-pending-early"),
            intent("d-expired-late"),
            intent("e-pending-not-due"),
            intent("f-live-lease"),
            intent("g-other-kind", kind="zendesk_ticket", priority=DETRACTOR_FIRST),
        ],
        T0,
    )
    due_at(store, "c-pending-early", T0 - timedelta(hours=2))
    due_at(store, "d-expired-late", T0 - timedelta(hours=1))
    due_at(store, "e-pending-not-due", T0 + timedelta(days=1))
    # Claimed by a worker that then stopped, and by one still at work.
    leases = {
        "a-expired-detractor": ("gone", T0 - LEASE),
        "d-expired-late": ("gone", T0 - timedelta(seconds=1)),
        "f-live-lease": ("busy", T0 + LEASE),
    }
    with store.transaction() as conn:
        a = t.actions
        for key, (owner, until) in leases.items():
            conn.execute(
                a.update()
                .where(a.c.key == key)
                .values(status="claimed", lease_owner=owner, lease_until=until)
            )

    claimed = store.outbox.claim(
        "worker", limit=limit, lease=LEASE, now=T0, kinds=["salesforce_task"]
    )

    order = ["a-expired-detractor", "b-pending-detractor", "c-pending-early", "d-expired-late"]
    assert [c.key for c in sorted(claimed, key=lambda c: order.index(c.key))] == order[:limit]


def sent_statements(
    store: StateStore, prefix: str, run: Callable[[], object]
) -> list[tuple[str, Any]]:
    """Each statement starting with ``prefix`` that ``run`` sends, with its parameters."""
    captured: list[tuple[str, Any]] = []

    def capture(_conn: object, _cursor: object, statement: str, params: Any, *_: object) -> None:
        if statement.startswith(prefix):
            captured.append((statement, params))

    sa.event.listen(store.engine, "before_cursor_execute", capture)
    try:
        run()
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", capture)
    return captured


def sqlite_plans(store: StateStore, prefix: str, run: Callable[[], object]) -> list[str]:
    """SQLite's plan of each statement starting with ``prefix`` that ``run`` sends."""
    with store.transaction() as conn:
        if conn.dialect.name != "sqlite":
            pytest.skip("the plan is read from SQLite's EXPLAIN QUERY PLAN")
    captured = sent_statements(store, prefix, run)
    with store.transaction() as conn:
        return [
            " ".join(str(row[-1]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {s}", p))
            for s, p in captured
        ]


def test_a_claim_reads_its_kind_in_order_from_the_index(store: StateStore) -> None:
    store.outbox.enqueue([intent(f"k{i}") for i in range(50)], T0)
    plans = sqlite_plans(
        store,
        "SELECT nps_actions.priority",
        lambda: store.outbox.claim("w", limit=5, lease=LEASE, now=T0, kinds=["salesforce_task"]),
    )
    assert len(plans) == 2  # the due and the expired, each read in order
    for plan in plans:
        assert "ix_nps_actions_claim_order" in plan
        assert "TEMP B-TREE" not in plan  # no sort of every pending action


def test_a_routing_window_reads_the_pending_responses_in_order_from_the_index(
    store: StateStore,
) -> None:
    page = [
        SurveyResponse("delighted", f"r{i}", f"p{i}@example.com", 7, "", T0, T0 + timedelta(i))
        for i in range(20)
    ]
    store.inbox.ingest_page("delighted", page, None, T0)
    plans = sqlite_plans(
        store, "SELECT nps_responses", lambda: store.inbox.pending(5, T0 + timedelta(days=30))
    )
    assert len(plans) == 1
    assert "ix_nps_responses_pending_order" in plans[0]
    assert "TEMP B-TREE" not in plans[0]  # no sort of every pending response
