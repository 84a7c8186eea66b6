"""The v3 -> v4 step adds the ticket status table to an existing database."""

from __future__ import annotations

import sqlalchemy as sa

from sync.state import StateStore
from sync.state import schema as t


def test_an_older_database_gets_the_ticket_status_table(store: StateStore) -> None:
    with store.transaction() as conn:
        t.ticket_status.drop(conn)
        conn.execute(t.schema_version.update().values(version=3))

    assert store.migrate() == t.LATEST_VERSION

    with store.engine.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("nps_ticket_status")}
    assert columns == {
        "action_key",
        "ticket_id",
        "status",
        "ticket_updated_at",
        "solved_at",
        "reopened",
        "recorded_at",
        "first_reply_at",
        "outcome",
    }
