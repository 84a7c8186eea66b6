"""The v1 -> v2 step adds the cooldown and escalation tables to an existing database."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from sync.state import StateStore
from sync.state import schema as t


def test_the_v2_step_creates_the_routing_tables(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'v1.db'}")
    with engine.begin() as conn:
        t.MIGRATIONS[1](conn)
        inspector = sa.inspect(conn)
        cooldowns = {c["name"] for c in inspector.get_columns("nps_cooldowns")}
        escalations = {c["name"] for c in inspector.get_columns("nps_escalations")}
    engine.dispose()
    assert cooldowns == {"rule", "key_value", "source", "response_id", "at", "recorded_at"}
    assert {"action_key", "step", "status", "due_at", "resolved_at", "fired_key"} <= escalations


def test_a_new_store_has_the_routing_tables(store: StateStore) -> None:
    with store.engine.connect() as conn:
        inspector = sa.inspect(conn)
        assert inspector.has_table("nps_cooldowns")
        assert inspector.has_table("nps_escalations")
