"""Shared fixtures (state stores on both backends) and how the suite is spread over workers."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from sync.core.throttle import OUTAGE_LINES
from sync.state import StateStore

#: Under pytest-xdist (``make test`` runs three workers), the proofs that SIGKILL
#: processes at random moments, hit rate-limit windows and time daemons run one after another on
#: one worker, as they would alone, while the other workers take the rest of the suite.
SERIAL_MODULES = frozenset(
    {
        "test_rel_chaos.py",
        "test_rel_crash.py",
        "test_rel_daemon.py",
        "test_rel_rate_limits.py",
        "test_rel_webhooks.py",
        "test_rel_webhook_kill.py",
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.name in SERIAL_MODULES:
            item.add_marker(pytest.mark.xdist_group("serial"))
    # The serial proofs are the longest chain of the run: handed out first, their worker starts
    # on them at once instead of after the rest of the suite was spread (stable: same order
    # within each part, on every worker).
    items.sort(key=lambda item: item.path.name not in SERIAL_MODULES)


@pytest.fixture(autouse=True)
def _outage_lines_afresh() -> None:
    """Each test sees the outage lines of its own passes, not held back by an earlier test's."""
    OUTAGE_LINES.reset()


PG_ADMIN_URL = os.environ.get(
    "NPS_SYNC_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def _pg_available() -> str | None:
    """None when PostgreSQL answers, else the reason it does not."""
    try:
        engine = sa.create_engine(PG_ADMIN_URL)
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}".splitlines()[0]
    return None


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session; its URL."""
    reason = _pg_available()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI and is not reachable: {reason}")
        pytest.skip(f"NO POSTGRESQL SERVER: PostgreSQL tests skipped ({reason})")
    name = f"nps_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def emptied(pg_url: str) -> str:
    """``pg_url``, with its database emptied (the public schema dropped and created again)."""
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()
    return pg_url


@pytest.fixture
def pg_url(pg_database: str) -> str:
    """An empty PostgreSQL database (the session's, emptied)."""
    return emptied(pg_database)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty state database, on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def store(store_url: str) -> Iterator[StateStore]:
    s = StateStore(store_url)
    s.migrate()
    try:
        yield s
    finally:
        s.close()
