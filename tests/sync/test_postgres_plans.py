"""On PostgreSQL a lookup is planned for the values it is given, not once for any values.

A generic plan chosen while a table is small goes on being used as the table grows: a lookup of
many ids by key then scans every row, and a long first sync slows down with the square of its
backlog. The store's connections therefore never prepare single statements; rows written by
executemany still share one prepared statement.
"""

from __future__ import annotations

import sqlalchemy as sa

from sync.state.database import create_engine


def test_lookups_are_planned_each_time_and_batched_writes_are_prepared(pg_url: str) -> None:
    engine = create_engine(pg_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "CREATE TABLE items (source text, id text, PRIMARY KEY (source, id))"
            )
            rows = [{"source": "delighted", "id": f"r{i}"} for i in range(50)]
            for _ in range(3):
                conn.execute(
                    sa.text("INSERT INTO items VALUES (:source, :id) ON CONFLICT DO NOTHING"),
                    rows,
                )
            lookup = sa.text(
                "SELECT id FROM items WHERE source = :source AND id IN :ids"
            ).bindparams(sa.bindparam("ids", expanding=True))
            for _ in range(12):
                found = conn.execute(
                    lookup, {"source": "delighted", "ids": ["r1", "r2", "x"]}
                ).all()
                assert sorted(r.id for r in found) == ["r1", "r2"]
            prepared = [
                row.statement
                for row in conn.exec_driver_sql("SELECT statement FROM pg_prepared_statements")
            ]
        assert not [s for s in prepared if s.startswith("SELECT id FROM items")]
        assert [s for s in prepared if s.startswith("INSERT INTO items")]
    finally:
        engine.dispose()
