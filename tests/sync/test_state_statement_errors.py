"""The state database failing in the middle of a pass (its disk full, made read-only, its
connection cut) ends the command with the error of its tier, naming the database and what to
do, where a driver traceback with the SQL ended it with exit code 1."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.models import SurveyResponse
from sync.state import StateStore
from sync.state.errors import StateFileError, StateRefusedError, StateUnavailableError

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def page(count: int, size: int = 2000) -> list[SurveyResponse]:
    return [
        SurveyResponse(
            source="delighted",
            response_id=f"r{n}",
            email=f"p{n}@example.com",
            score=n % 11,
            comment="x" * size,
            created_at=NOW,
            updated_at=NOW,
        )
        for n in range(count)
    ]


def test_a_full_disk_is_temporary_and_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = StateStore(f"sqlite:///{path}")
    store.migrate()

    @sa.event.listens_for(store.engine, "connect")
    def _small(dbapi_conn: Any, _record: Any) -> None:  # what a full disk does to SQLite
        pages = dbapi_conn.execute("PRAGMA page_count").fetchone()[0]
        dbapi_conn.execute(f"PRAGMA max_page_count = {pages + 2}")

    store.engine.dispose()
    try:
        with pytest.raises(StateUnavailableError, match="its disk is full") as caught:
            store.inbox.ingest_page("delighted", page(200), None, NOW)
        assert str(path) in str(caught.value)
        assert "INSERT" not in str(caught.value)
    finally:
        store.close()


def test_a_file_made_read_only_is_a_file_problem(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = StateStore(f"sqlite:///{path}")
    store.migrate()

    @sa.event.listens_for(store.engine, "connect")
    def _read_only(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA query_only = ON")

    store.engine.dispose()
    try:
        with pytest.raises(StateFileError, match="cannot be written: attempt to write a readonly"):
            store.inbox.ingest_page("delighted", page(1), None, NOW)
    finally:
        store.close()


def test_a_connection_cut_mid_pass_is_temporary(pg_url: str) -> None:
    store = StateStore(pg_url)
    store.migrate()
    killer = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    try:
        with store.engine.connect() as conn:
            pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
            with killer.connect() as other:
                other.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid})
            with pytest.raises(StateUnavailableError, match="stopped answering in the middle"):
                conn.execute(sa.text("SELECT 1"))
    finally:
        killer.dispose()
        store.close()


def test_a_deadlock_with_another_process_is_temporary(pg_url: str) -> None:
    """Two transactions locking two rows in opposite orders: the server gives one up."""
    store = StateStore(pg_url)
    store.migrate()
    other = sa.create_engine(pg_url)
    try:
        with store.engine.begin() as conn:
            conn.execute(
                sa.text("INSERT INTO nps_cursors VALUES ('a', '1', now()), ('b', '1', now())")
            )
        update = "UPDATE nps_cursors SET value = value || 'x' WHERE source = :s"
        first_locked, second_locked = threading.Event(), threading.Event()
        errors: list[BaseException] = []

        def theirs() -> None:
            try:
                with other.begin() as them:
                    # Their side waits long before looking for a deadlock: ours finds it.
                    them.execute(sa.text("SET LOCAL deadlock_timeout = '20s'"))
                    them.execute(sa.text(update), {"s": "b"})
                    second_locked.set()
                    first_locked.wait(10)
                    them.execute(sa.text(update), {"s": "a"})
            except sa.exc.DBAPIError as exc:
                errors.append(exc)

        thread = threading.Thread(target=theirs)
        thread.start()
        try:
            with store.engine.begin() as conn:
                conn.execute(sa.text(update), {"s": "a"})
                second_locked.wait(10)
                first_locked.set()
                conn.execute(sa.text(update), {"s": "b"})
        except StateUnavailableError as exc:
            errors.append(exc)
        thread.join(20)
        (error,) = errors
        assert isinstance(error, StateUnavailableError)
        assert "gave up a transaction that another process held up" in str(error)
        assert "deadlock detected" in str(error)
    finally:
        other.dispose()
        store.close()


def test_a_server_refusing_writes_is_a_settings_problem(pg_url: str) -> None:
    store = StateStore(pg_url)
    store.migrate()
    try:
        with store.engine.begin() as conn:
            conn.execute(sa.text("SET TRANSACTION READ ONLY"))
            with pytest.raises(StateRefusedError, match="refuses writes"):
                conn.execute(sa.text("INSERT INTO nps_cursors VALUES ('x', 'y', now())"))
    finally:
        store.close()


def test_sync_on_a_full_disk_exits_75_naming_the_file_and_the_next_run_catches_up(
    tmp_path: Path,
) -> None:
    """Through the CLI, the file size limit standing in for a full disk (SQLite sees the same
    error): exit 75 with one line, no traceback; with room again, the next pass completes."""
    import json
    import resource
    import signal
    import subprocess

    from emulators.world import EmulatedWorld
    from sync.state import open_store
    from tests.support import nps_sync_command

    state = tmp_path / "state.db"

    def sync(limit: int | None) -> subprocess.CompletedProcess[str]:
        def limited() -> None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails instead
            if limit is not None:
                resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        return subprocess.run(  # noqa: S603 - our own CLI
            [*nps_sync_command(), "sync", "-c", str(config)],
            capture_output=True,
            text=True,
            timeout=300,
            preexec_fn=limited,  # only sets limits, before exec
            check=False,
        )

    with EmulatedWorld(seed=3, accounts=20, responses=300) as world:
        config = tmp_path / "nps-sync.yaml"
        data = world.config_data(state_url=f"sqlite:///{state}")
        config.write_text(json.dumps(data), encoding="utf-8")
        open_store(f"sqlite:///{state}").close()  # the schema only: a small file
        full = sync(state.stat().st_size + 32 * 1024)
        assert full.returncode == 75, full.stderr[-2000:]
        assert f"the state database {state} cannot be written: " in full.stderr
        assert "Traceback" not in full.stderr
        assert "INSERT" not in full.stderr
        again = sync(None)
        assert again.returncode == 0, again.stderr[-2000:]


@pytest.mark.parametrize("how", ["removed", "replaced"])
def test_a_daemon_whose_state_file_is_removed_or_replaced_stops_with_exit_2(
    tmp_path: Path, how: str
) -> None:
    """It went on recording into the deleted file (lost at its restart), or into a file it no
    longer knew; now its next pass stops it, naming the file."""
    import json
    import shutil
    import subprocess
    import time

    from emulators.world import EmulatedWorld
    from tests.support import nps_sync_command, wait_for

    state = tmp_path / "state.db"
    with EmulatedWorld(seed=3, accounts=4, responses=20) as world:
        config = tmp_path / "nps-sync.yaml"
        data = world.config_data(state_url=f"sqlite:///{state}")
        data["schedule"] = {"poll_interval_seconds": 10, "drain_interval_seconds": 5}
        config.write_text(json.dumps(data), encoding="utf-8")
        with subprocess.Popen(  # noqa: S603 - our own CLI
            [*nps_sync_command(), "run", "-c", str(config)],
            stderr=subprocess.PIPE,
            text=True,
        ) as daemon:
            try:
                assert wait_for(state.exists, timeout=60)
                time.sleep(3)  # its first passes ran
                if how == "removed":
                    for part in tmp_path.glob("state.db*"):
                        part.unlink()
                else:
                    shutil.copy(state, tmp_path / "copy.db")
                    (tmp_path / "copy.db").replace(state)
                _, stderr = daemon.communicate(timeout=60)
            finally:
                if daemon.poll() is None:
                    daemon.kill()
                    daemon.communicate()
            code = daemon.returncode
    assert code == 2, stderr[-2000:]
    assert f"the state database {state} was" in stderr
    assert "Traceback" not in stderr
