"""Files the commands write: whole or not at all.

A report or an analysis killed half-way must not leave half a file where the last good one was
(a scheduled report overwrites the same path every period), so each is written beside its
destination and moved over it in one rename once it is complete.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import shutil
import signal
import stat
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from sync.core.errors import ConfigFileError

#: A ``.NAME.*.part`` file left this long unchanged is a killed write's: the next write of the
#: same file removes it (one still being written changes more often than that).
STALE_PART_SECONDS = 600.0


class UnreadableFileError(OSError):
    """A file the config names that is not a regular file, or is larger than it can be."""


def read_file_bytes(path: Path, limit: int) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them.

    Opened without waiting (a pipe has no writer to wait for) and checked before it is read: a
    pipe named as the rules or config file hung the command, and a daemon reloading it; a device
    (``/dev/zero``) or a huge file took gigabytes before any size check. Raises
    :class:`UnreadableFileError` (an OSError, with ``strerror`` saying why) or the OSError of the
    open."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnreadableFileError(errno.EINVAL, "not a regular file")
        if info.st_size > limit:
            raise UnreadableFileError(errno.EFBIG, f"larger than {limit:,} bytes")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise UnreadableFileError(errno.EFBIG, f"larger than {limit:,} bytes")
    return data


def read_file_text(path: Path, limit: int) -> str:
    """:func:`read_file_bytes` as UTF-8 text (UnicodeDecodeError when it is not)."""
    return read_file_bytes(path, limit).decode("utf-8")


#: Largest config, rules or taxonomy file read: far above any written by hand.
MAX_ADMIN_FILE = 8 * 1024 * 1024


class OutputFileError(ConfigFileError):
    """The file a command was told to write cannot be written (exit code 2)."""


@contextlib.contextmanager
def _beside(path: Path) -> Iterator[int]:
    """A descriptor of a new hidden file beside ``path``, renamed over it when the block ends
    without an error and removed otherwise, SIGTERM included (after a SIGKILL it stays as
    ``.NAME.*.part``, and the next complete write of ``path`` removes it). The descriptor is
    closed here: the block must not close it.

    A symbolic link is followed: the file it points to is replaced, the link stays. A path that
    is not a regular file (a pipe, ``/dev/stdout``, a device) cannot be replaced and is written
    to directly."""
    path = Path(os.path.realpath(path)) if path.is_symlink() else path
    if path.exists() and not path.is_file():
        with failing_as(path):
            fd = os.open(path, os.O_WRONLY)
        try:
            yield fd
        finally:
            os.close(fd)
        return
    directory = path.parent if str(path.parent) else Path(".")
    with failing_as(path):
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".part")
    try:
        try:
            os.fchmod(fd, _mode_for(path))  # mkstemp makes it private (0600)
            with _terminated_as_exit():
                yield fd
            with failing_as(path):
                os.fsync(fd)
        finally:
            os.close(fd)
        with failing_as(path):
            os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _remove_stale_parts(directory, path.name, time.time() - STALE_PART_SECONDS)


@contextlib.contextmanager
def failing_as(path: Path) -> Iterator[None]:
    """An OSError in the block as :class:`OutputFileError`, naming ``path`` and the reason:
    what the block does must be writing ``path``."""
    try:
        yield
    except OSError as error:
        raise OutputFileError(f"cannot write {path}: {error.strerror or error}") from None


def _remove_stale_parts(directory: Path, name: str, before: float) -> None:
    for part in directory.glob(f".{glob.escape(name)}.*.part"):
        with contextlib.suppress(OSError):
            if part.stat().st_mtime < before:
                part.unlink()


@contextlib.contextmanager
def _terminated_as_exit() -> Iterator[None]:
    """SIGTERM ends the process as Ctrl-C does, through the cleanup of the block; only where
    nothing else handles it (the daemon has its own handler) and in the main thread."""
    main = threading.current_thread() is threading.main_thread()
    if not main or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return

    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _mode_for(path: Path) -> int:
    """The permissions ``path`` keeps, or those a plain ``open`` would give a new file."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


@contextlib.contextmanager
def replaced_on_success(path: Path) -> Iterator[IO[str]]:
    """A text handle whose content becomes ``path`` when the block ends without an error; on an
    error (or a kill) ``path`` keeps what it held before."""
    with _beside(path) as fd, os.fdopen(fd, "w", encoding="utf-8", closefd=False) as handle:
        yield handle
        with failing_as(path):
            handle.flush()


def write_text_whole(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` in one rename (see :func:`replaced_on_success`)."""
    with replaced_on_success(path) as handle, failing_as(path):
        handle.write(text)


def copy_whole(source: Path, path: Path) -> None:
    """Copy ``source`` to ``path`` in one rename; ``source`` may be on another file system
    (a scratch folder), where a rename alone would not do."""
    with (
        _beside(path) as fd,
        os.fdopen(fd, "wb", closefd=False) as handle,
        source.open("rb") as original,
    ):
        shutil.copyfileobj(original, handle)
        with failing_as(path):
            handle.flush()
