"""State databases for a benchmark run: a SQLite file in a temporary folder, or a database of
its own on the local PostgreSQL server (``NPS_SYNC_TEST_PG_URL``, as the tests use), dropped
afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PG_ADMIN_URL = os.environ.get(
    "NPS_SYNC_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def postgres_unavailable() -> str | None:
    """None when the PostgreSQL server answers, else why not."""
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(PG_ADMIN_URL)
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
    except Exception as exc:  # any failure means "not available", with its reason
        return f"{type(exc).__name__}: {exc}".splitlines()[0]
    return None


@contextmanager
def state_url(backend: str, directory: Path) -> Iterator[str]:
    """The URL of an empty state database on ``backend`` ("sqlite" or "postgresql")."""
    if backend == "sqlite":
        yield f"sqlite:///{directory / 'state.db'}"
        return
    import sqlalchemy as sa

    name = f"nps_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
