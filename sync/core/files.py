"""Files the commands write: whole or not at all.

A report or an analysis killed half-way must not leave half a file where the last good one was
(a scheduled report overwrites the same path every period), so each is written beside its
destination and moved over it in one rename once it is complete.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def _beside(path: Path) -> Iterator[int]:
    """A descriptor of a new hidden file beside ``path``, renamed over it when the block ends
    without an error and removed otherwise (after a SIGKILL it stays as ``.NAME.*.part``)."""
    directory = path.parent if str(path.parent) else Path(".")
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".part")
    try:
        os.fchmod(fd, _mode_for(path))  # mkstemp makes it private (0600)
        yield fd
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


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
    with _beside(path) as fd, os.fdopen(fd, "w", encoding="utf-8") as handle:
        yield handle
        handle.flush()
        os.fsync(handle.fileno())


def write_text_whole(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` in one rename (see :func:`replaced_on_success`)."""
    with replaced_on_success(path) as handle:
        handle.write(text)


def copy_whole(source: Path, path: Path) -> None:
    """Copy ``source`` to ``path`` in one rename; ``source`` may be on another file system
    (a scratch folder), where a rename alone would not do."""
    with _beside(path) as fd, os.fdopen(fd, "wb") as handle, source.open("rb") as original:
        shutil.copyfileobj(original, handle)
        handle.flush()
        os.fsync(handle.fileno())
