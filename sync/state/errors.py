"""Why the state database cannot be used, grouped by what the person who ran the command does.

- :class:`StateFileError`: the database is damaged, or the configured file cannot be opened (a
  folder that does not exist, no permission). Fix the file or ``state.url``; the CLI exits 2.
- :class:`StateUnavailableError`: the database server does not answer (down, unreachable).
  Run again later; the CLI exits 75.
- :class:`StateRefusedError`: the database server refuses the user, password or database that
  ``state.url`` names. Fix the URL or the server; the CLI exits 78.

:func:`connection_error` sorts a driver error on connecting into one of them, naming the file or
the host and what to do, so no command ends with a driver traceback.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa


class StateFileError(Exception):
    """The state database cannot be used as it is; the message says why and what to do.

    The CLI exits with the config-file tier's code (2): the file has to be fixed or restored.
    """


class StateFileReplacedError(StateFileError):
    """The SQLite file was removed or replaced while a process had it open: a daemon stops."""


class StateUnavailableError(Exception):
    """The state database server does not answer; the CLI exits 75 (run again later)."""


class StateRefusedError(Exception):
    """The state database server refuses the connection settings; the CLI exits 78."""


#: Words of a server's answer that mean "these settings are wrong", not "try again later".
_REFUSALS = (
    "password authentication failed",
    "authentication failed",
    "no pg_hba.conf entry",
    "does not exist",
    "permission denied",
)


def _reason(error: BaseException) -> str:
    original = getattr(error, "orig", None) or error
    lines = [line.strip() for line in str(original).splitlines() if line.strip()]
    return lines[0].removeprefix("connection failed: ") if lines else type(original).__name__


def connection_error(url: str, error: BaseException) -> Exception:
    """The error a command ends with when it cannot connect to the state database at ``url``."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _file_error(Path(parsed.database or ""), error)
    where = f"{parsed.host or 'localhost'}:{parsed.port or 5432}"
    reason = _reason(error)
    if any(word in reason.lower() for word in _REFUSALS):
        return StateRefusedError(
            f"the state database at {where} refused the connection: {reason}. Check the user, "
            "password and database name in state.url (and that the database exists)."
        )
    return StateUnavailableError(
        f"cannot connect to the state database at {where}: {reason}. Check that the database "
        "server runs and this machine reaches it (state.url names it), then run again."
    )


def _file_error(path: Path, error: BaseException) -> StateFileError:
    folder = path.parent
    if not folder.is_dir():
        return StateFileError(
            f"cannot open the state database {path}: the folder {folder} does not exist. Create "
            "it, or point state.url at a folder that exists (a relative path is read from the "
            "config file's folder)."
        )
    return StateFileError(
        f"cannot open the state database {path}: {_reason(error)}. Check that this user may "
        f"read and write {path} and its folder, or point state.url elsewhere."
    )


#: Words of a driver's error on a statement, by the tier they belong to. A statement that fails
#: this way in the middle of a pass ends the command with that tier's message and code, naming
#: the database, where it printed a driver traceback (with the SQL) and exited 1.
_FULL = ("database or disk is full", "no space left on device", "could not extend file")
_IO = ("disk i/o error",)
_READ_ONLY_FILE = ("attempt to write a readonly database",)
_READ_ONLY_SERVER = ("read-only transaction", "cannot execute")
_LOST = (
    "server closed the connection",
    "terminating connection",
    "connection is closed",
    "consuming input failed",
    "the connection is lost",
)
#: A transaction given up for another's: a deadlock, a serialization failure, SQLite's lock held
#: by another process past the busy timeout. Nothing of it was recorded.
_BUSY = (
    "deadlock detected",
    "could not serialize access",
    "database is locked",
)


def statement_error(url: str, error: BaseException) -> Exception | None:
    """The error of its tier for a statement that failed on the state database at ``url``
    because of the database or its server (disk full, read-only, the connection lost), or
    None for any other failure (those are bugs, and keep their traceback)."""
    reason = _reason(error)
    text = reason.lower()
    parsed = sa.engine.make_url(url)
    sqlite = parsed.get_backend_name() == "sqlite"
    host = f"{parsed.host or 'localhost'}:{parsed.port or 5432}"
    where = (parsed.database or "") if sqlite else host
    if any(word in text for word in _FULL):
        return StateUnavailableError(
            f"the state database {where} cannot be written: its disk is full ({reason}). "
            "Nothing recorded before was lost; free space, then run again."
        )
    if any(word in text for word in _IO):
        return StateUnavailableError(
            f"the state database {where} cannot be written: {reason} (a full disk, or a failing "
            "one). Nothing recorded before was lost; make room or fix the disk, then run again."
        )
    if sqlite and any(word in text for word in _READ_ONLY_FILE):
        return StateFileError(
            f"the state database {where} cannot be written: {reason}. Check that this user may "
            "write it, its -wal and -shm files and its folder."
        )
    if not sqlite and "read-only" in text and any(w in text for w in _READ_ONLY_SERVER):
        return StateRefusedError(
            f"the state database at {where} refuses writes: {reason} (a standby server, or "
            "default_transaction_read_only). Point state.url at the primary."
        )
    if any(word in text for word in _BUSY):
        return StateUnavailableError(
            f"the state database {where} gave up a transaction that another process held up "
            f"({reason}). Nothing of it was recorded and what was recorded before stays; run "
            "again (a daemon does by itself)."
        )
    if any(word in text for word in _LOST):
        return StateUnavailableError(
            f"the state database {where} stopped answering in the middle of the run: "
            f"{reason}. What was recorded stays; run again (a daemon does by itself)."
        )
    return None
