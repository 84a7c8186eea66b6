"""The v1 -> v2 step adds the cooldown and escalation tables to an existing database, in the same
shape as a new store creates them."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from sync.state import StateStore
from sync.state import schema as t

TABLES = ("nps_cooldowns", "nps_escalations")

#: (column, nullable, part of the primary key) as the v2 step creates them.
EXPECTED = {
    "nps_cooldowns": [
        ("rule", False, True),
        ("key_value", False, True),
        ("source", False, True),
        ("response_id", False, True),
        ("at", False, False),
        ("recorded_at", False, False),
    ],
    "nps_escalations": [
        ("action_key", False, True),
        ("step", False, True),
        ("source", False, False),
        ("response_id", False, False),
        ("rule", False, False),
        ("action", False, False),
        ("after_seconds", False, False),
        ("business_hours", False, False),
        ("status", False, False),
        ("due_at", True, False),
        ("resolved_at", True, False),
        ("fired_key", True, False),
        ("note", True, False),
        ("created_at", False, False),
        ("updated_at", False, False),
    ],
}


def shapes(url: str) -> dict[str, list[tuple[str, bool, bool]]]:
    """Each routing table's columns in order: name, nullable, part of the primary key."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            found = {}
            for table in TABLES:
                key = set(inspector.get_pk_constraint(table)["constrained_columns"])
                found[table] = [
                    (c["name"], bool(c["nullable"]), c["name"] in key)
                    for c in inspector.get_columns(table)
                ]
            return found
    finally:
        engine.dispose()


def test_the_v2_step_creates_the_routing_tables(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'v1.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        assert not sa.inspect(conn).has_table("nps_cooldowns")
        t.MIGRATIONS[1](conn)
    engine.dispose()
    assert shapes(url) == EXPECTED


def test_a_new_store_has_the_routing_tables_in_the_migrated_shape(store_url: str) -> None:
    store = StateStore(store_url)
    try:
        store.migrate()
    finally:
        store.close()
    assert shapes(store_url) == EXPECTED
