"""The SQLite state file: created private, checked without being changed, named in errors.

The state database holds survey emails and comments, so a new SQLite file is created readable by
its owner only (0600; SQLite gives its ``-wal`` and ``-shm`` files the mode of the database
file), and an existing one readable by others is reported. A file that is not a database, or a
damaged one, stops the command with :class:`StateFileError`, which says what is wrong and how to
recover, instead of a driver traceback; nothing here writes to such a file.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from sync.state.errors import StateFileError, connection_error

__all__ = ["FileCheck", "StateFileError", "check", "corruption_error", "prepare"]

log = logging.getLogger("sync.state")

PRIVATE_MODE = 0o600
#: SQLite result codes of a damaged file (``SQLITE_CORRUPT``) and of a file that is not a
#: database (``SQLITE_NOTADB``), with the messages older drivers give instead of a code.
CORRUPTION_CODES = frozenset({11, 26})
CORRUPTION_MESSAGES = ("file is not a database", "database disk image is malformed")


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL; None for another backend or an in-memory database."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def prepare(url: str) -> str | None:
    """Create a missing SQLite file 0600; a warning for an existing one others can read."""
    path = sqlite_path(url)
    if path is None:
        return None
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
    except FileExistsError:
        return wide_mode_warning(path)
    except OSError:
        return None  # a missing folder and the like: SQLite reports it when it connects
    os.close(fd)
    return None


def wide_mode_warning(path: Path) -> str | None:
    """A one-line warning when ``path`` (or its WAL/SHM file) is open to group or others."""
    wide: list[str] = []
    for candidate in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            mode = stat.S_IMODE(candidate.stat().st_mode)
        except OSError:
            continue
        if mode & 0o077:
            wide.append(f"{candidate} is mode {mode:04o}")
    if not wide:
        return None
    return (
        f"state database readable by other users ({'; '.join(wide)}); it holds survey emails "
        f"and comments: chmod 600 {path}*"
    )


def is_corruption(error: BaseException) -> bool:
    """True for a driver error saying the SQLite file is damaged or not a database."""
    original = getattr(error, "orig", error)
    if not isinstance(original, sqlite3.DatabaseError):
        return False
    code = getattr(original, "sqlite_errorcode", None)
    if code is not None and code & 0xFF in CORRUPTION_CODES:
        return True
    return any(text in str(original) for text in CORRUPTION_MESSAGES)


def corruption_error(url: str, error: BaseException) -> StateFileError:
    """The error a command ends with when the state file is damaged."""
    original = getattr(error, "orig", error)
    path = sqlite_path(url)
    return StateFileError(
        f"state database {path} is damaged or not a SQLite database ({original}). nps-sync "
        "did not change it. Restore it from a backup, or move it aside and let nps-sync "
        "start a new one (a new state database pulls and routes every response the sources "
        "still return); either way run `nps-sync state restored -c CONFIG` before the next "
        "pass, so what was done since is found, not done again. `nps-sync state check -c "
        "CONFIG` checks the file."
    )


@dataclass
class FileCheck:
    """What ``nps-sync state check`` found: the database, why it cannot be used (``problems``),
    what should be fixed (``warnings``: a mode too wide) and what is fine (``notes``)."""

    where: str
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: The error to end with when the database could not be reached at all (server down,
    #: refused settings, a folder that does not exist); its message is in ``problems``.
    failure: Exception | None = None


def check(url: str) -> FileCheck:
    """Check the state database without writing to it (SQLite: opened read-only).

    SQLite runs ``PRAGMA integrity_check``; both backends report the schema version.
    """
    path = sqlite_path(url)
    if path is None:
        return _check_server(url)
    result = FileCheck(str(path))
    if not path.exists():
        if not path.parent.is_dir():
            result.failure = connection_error(url, FileNotFoundError(path.parent))
            result.problems.append(str(result.failure))
            return result
        result.notes.append(f"{path} does not exist yet (a pass creates it)")
        return result
    warning = wide_mode_warning(path)
    if warning:
        result.warnings.append(warning)
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error as exc:
        result.problems.append(f"cannot open {path}: {exc}")
        return result
    try:
        rows = [str(row[0]) for row in conn.execute("PRAGMA integrity_check").fetchall()]
        if rows != ["ok"]:
            result.problems.extend(f"integrity check: {row}" for row in rows[:20])
        else:
            result.notes.append("integrity check: ok")
            result.notes.append(_version_note(conn))
    except sqlite3.DatabaseError as exc:
        result.problems.append(f"{path} is damaged or not a SQLite database ({exc})")
    finally:
        conn.close()
    return result


def _version_note(conn: sqlite3.Connection) -> str:
    try:
        row = conn.execute("SELECT version FROM nps_schema_version").fetchone()
    except sqlite3.OperationalError:
        return "schema: none yet (a pass creates it)"
    return f"schema version: {row[0] if row else 'none'}"


def _check_server(url: str) -> FileCheck:
    parsed = sa.engine.make_url(url)
    result = FileCheck(parsed.render_as_string(hide_password=True))
    engine = sa.create_engine(url, hide_parameters=True)
    try:
        with engine.connect() as conn:
            if sa.inspect(conn).has_table("nps_schema_version"):
                version = conn.execute(sa.text("SELECT version FROM nps_schema_version")).scalar()
                result.notes.append(f"schema version: {version}")
            else:
                result.notes.append("schema: none yet (a pass creates it)")
    except sa.exc.SQLAlchemyError as exc:
        result.failure = connection_error(url, exc)
        result.problems.append(str(result.failure))
    finally:
        engine.dispose()
    return result
