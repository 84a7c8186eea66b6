"""The SQLite state file: private on creation, reported when open to others, and a damaged one
ends every command with what is wrong and how to recover, without being changed."""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulators.world import EmulatedWorld
from sync.state import StateStore, open_store
from sync.state.files import check
from tests.reliability.conftest import write_config
from tests.support import nps_sync_command


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run(  # noqa: S603 - our own CLI
        [*nps_sync_command(), *args], capture_output=True, text=True, env=env, timeout=60
    )


@pytest.fixture(scope="module")
def world() -> Iterator[EmulatedWorld]:
    with EmulatedWorld(seed=83, accounts=5, responses=10) as w:
        yield w


def test_a_new_state_file_and_its_wal_and_shm_files_are_private(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    previous = os.umask(0o022)  # the usual umask, under which SQLite alone creates 0644
    store = StateStore(f"sqlite:///{path}")
    try:
        store.migrate()
        with store.engine.connect() as conn:  # WAL and SHM exist while a connection is open
            conn.exec_driver_sql("SELECT 1")
            files = sorted(tmp_path.glob("state.db*"))
            assert [f.name for f in files] == ["state.db", "state.db-shm", "state.db-wal"]
            assert {f.name: mode(f) for f in files} == dict.fromkeys((f.name for f in files), 0o600)
    finally:
        store.close()
        os.umask(previous)
    assert store.file_warning is None


def test_an_existing_file_open_to_others_is_reported_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "state.db"
    StateStore(f"sqlite:///{path}").close()
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="sync.state"):
        store = StateStore(f"sqlite:///{path}")
        store.close()
    warnings = [r.getMessage() for r in caplog.records if r.name == "sync.state"]
    assert len(warnings) == 1
    assert f"{path} is mode 0644" in warnings[0]
    assert store.file_warning == warnings[0]
    assert mode(path) == 0o644  # reported, not changed behind the owner's back
    assert check(f"sqlite:///{path}").warnings == [warnings[0]]


def test_status_and_state_check_show_a_file_open_to_others(
    world: EmulatedWorld, tmp_path: Path
) -> None:
    path = tmp_path / "state.db"
    config = write_config(tmp_path / "c.json", world, f"sqlite:///{path}")
    assert run_cli("status", "-c", str(config)).returncode == 2  # none yet: status makes none
    assert not path.exists()
    open_store(f"sqlite:///{path}").close()
    assert run_cli("status", "-c", str(config)).returncode == 0
    path.chmod(0o640)
    status = run_cli("status", "-c", str(config))
    assert status.returncode == 0
    assert "is mode 0640" in status.stdout
    checked = run_cli("state", "check", "-c", str(config))
    assert checked.returncode == 1
    assert "integrity check: ok" in checked.stdout
    assert "warning:" in checked.stdout


def garbage(path: Path) -> None:
    path.write_bytes(b"not a database\x00" * 500)


def damaged_pages(path: Path) -> None:
    """Keep the header page (the schema is readable) and scramble the rest."""
    data = bytearray(path.read_bytes())
    for i in range(4096, len(data)):
        data[i] = (i * 7) % 256
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [garbage, damaged_pages], ids=["not-a-database", "pages"])
def test_a_damaged_state_file_ends_each_command_with_how_to_recover(
    world: EmulatedWorld, tmp_path: Path, damage: object
) -> None:
    path = tmp_path / "state.db"
    config = write_config(tmp_path / "c.json", world, f"sqlite:///{path}")
    assert run_cli("sync", "-c", str(config)).returncode in (0, 1)
    # Checkpointed on close: no -wal or -shm left (the jobs' -locks file stays, empty).
    assert not [p for p in tmp_path.glob("state.db-*") if p.name != "state.db-locks"]
    damage(path)  # type: ignore[operator]
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    for command in (["sync"], ["status"], ["state", "check"]):
        started = time.monotonic()
        result = run_cli(*command, "-c", str(config))
        output = result.stdout + result.stderr
        assert result.returncode == 2, (command, output)
        assert "Traceback" not in output
        assert str(path) in output
        assert "damaged or not a SQLite database" in output
        assert "restore it from a backup" in output.lower()
        assert time.monotonic() - started < 20
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    wal = path.with_name("state.db-wal")  # opening a WAL database may create it, empty
    assert not wal.exists() or wal.stat().st_size == 0


def test_state_check_of_a_healthy_file(world: EmulatedWorld, tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    config = write_config(tmp_path / "c.json", world, f"sqlite:///{path}")
    assert run_cli("sync", "-c", str(config)).returncode in (0, 1)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    result = run_cli("state", "check", "-c", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "integrity check: ok" in result.stdout
    assert "schema version:" in result.stdout
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_state_check_on_postgresql(world: EmulatedWorld, tmp_path: Path, pg_url: str) -> None:
    config = write_config(tmp_path / "c.json", world, pg_url)
    result = run_cli("state", "check", "-c", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "schema: none yet" in result.stdout
    assert "postgres" in result.stdout
