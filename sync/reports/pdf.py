"""The executive report as a PDF: the same self-contained HTML page, printed by headless Chromium.

The page loads nothing, so printing it needs no network; Chromium is the system's own (the
``chromium`` package; ``make browser`` installs it), or the one ``NPS_SYNC_CHROMIUM`` names.
Nothing is downloaded: without a Chromium the command says what is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from sync.core.errors import EXIT_REFUSED, SyncError
from sync.core.files import copy_whole

#: The environment variable that names the Chromium (or Chrome) binary to print with.
CHROMIUM_ENV = "NPS_SYNC_CHROMIUM"
#: Where the system's Chromium is looked for, in order, when the variable is not set.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
#: How long Chromium may take to print the page.
TIMEOUT_SECONDS = 120.0


class MissingToolError(SyncError):
    """A program the command needs is not installed; install it, or leave the option out."""

    exit_code = EXIT_REFUSED


class PrintError(SyncError):
    """Chromium ran but did not write the PDF."""


def find_chromium(env: Mapping[str, str] | None = None) -> Path:
    """The Chromium to print with: ``NPS_SYNC_CHROMIUM`` when set, else the first of
    :data:`CHROMIUM_NAMES` on the ``PATH``; MissingToolError naming what is missing."""
    environ = os.environ if env is None else env
    named = environ.get(CHROMIUM_ENV, "").strip()
    if named:
        found = shutil.which(named)
        if found is None:
            raise MissingToolError(
                f"{CHROMIUM_ENV} names {named!r}, which is not an executable program",
                fix=f"point {CHROMIUM_ENV} at the Chromium binary, or unset it",
            )
        return Path(found)
    search = environ.get("PATH", os.defpath)
    for name in CHROMIUM_NAMES:
        found = shutil.which(name, path=search)
        if found is not None:
            return Path(found)
    raise MissingToolError(
        "--pdf needs Chromium to print the report, and none was found "
        f"({', '.join(CHROMIUM_NAMES)} on the PATH)",
        fix="install it (apt-get install chromium, or `make browser`), name it with "
        f"{CHROMIUM_ENV}, or leave out --pdf and print the HTML file",
    )


def print_pdf(html: str, out: Path, *, chromium: Path, timeout: float = TIMEOUT_SECONDS) -> None:
    """Write ``html`` (a self-contained page) to ``out`` as a PDF with headless ``chromium``,
    whole or not at all: Chromium prints into a scratch folder and the file is moved over
    ``out`` in one rename once it is complete."""
    with tempfile.TemporaryDirectory(prefix="nps-sync-pdf-") as scratch:
        page = Path(scratch) / "report.html"
        page.write_text(html, encoding="utf-8")
        printed = Path(scratch) / "report.pdf"
        command = [
            str(chromium),
            "--headless",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-extensions",
            "--disable-dev-shm-usage",  # containers often give /dev/shm 64 MB
            f"--user-data-dir={Path(scratch) / 'profile'}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={printed}",
            page.as_uri(),
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            # Chromium refuses to start as root with its sandbox; the page is our own and
            # loads nothing.
            command.insert(1, "--no-sandbox")
        try:
            done = subprocess.run(  # noqa: S603 - a fixed argument list, no shell
                command, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            raise PrintError(f"Chromium did not print the report within {timeout:.0f} s") from None
        except OSError as exc:
            raise MissingToolError(f"Chromium at {chromium} could not be started: {exc}") from None
        if done.returncode != 0 or not printed.exists() or printed.stat().st_size == 0:
            said = [line for line in done.stderr.splitlines() if line.strip()][-1:]
            detail = f": {said[0]}" if said else ""
            raise PrintError(f"Chromium did not write {out} (exit code {done.returncode}){detail}")
        copy_whole(printed, out)
