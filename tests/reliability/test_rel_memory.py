"""Memory does not grow with the backlog: ``nps-sync sync`` importing an export four times as big
peaks at about the same RSS, measured on the CLI process itself (the emulators run in the test).

A first import of a survey tool's export is the largest pass nps-sync ever makes; its peak must
depend on batch sizes, not on how many responses wait.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from emulators.world import EmulatedWorld
from tests.support import nps_sync_command

SMALL = 2000
LARGE = 8000
#: Allowed growth of the peak from SMALL to LARGE responses. Planning write-back over the whole
#: backlog at once grew by about 80 MB here.
MARGIN_MB = 25.0


def write_export(path: Path, world: EmulatedWorld, responses: int) -> None:
    """A JSONL export from the world's contacts, every answer older than the routing window
    (history, as a first import of months of answers is)."""
    contacts = world.book.contacts
    newest = datetime.now(UTC) - timedelta(days=30)
    with path.open("w", encoding="utf-8") as out:
        for n in range(responses):
            contact = contacts[n % len(contacts)]
            record = {
                "response_id": f"r{n}",
                "email": contact.email,
                "score": n % 11,
                "comment": f"answer {n}: " + "the onboarding took longer than we hoped " * 3,
                "created_at": (newest - timedelta(minutes=37 * n)).isoformat(),
                "properties": {"plan": "enterprise", "region": "emea"},
            }
            out.write(json.dumps(record) + "\n")


def peak_mb_of_import(world: EmulatedWorld, responses: int) -> tuple[float, dict[str, Any]]:
    """Peak RSS of one ``nps-sync sync --json`` importing ``responses``, and its report."""
    with tempfile.TemporaryDirectory(prefix="nps-memory-") as tmp:
        export = Path(tmp) / "export.jsonl"
        write_export(export, world, responses)
        data = world.config_data(state_url=f"sqlite:///{tmp}/state.db")
        data["sources"] = [{"type": "file", "name": "export", "path": str(export)}]
        config = Path(tmp) / "nps-sync.yaml"
        config.write_text(json.dumps(data, default=str), encoding="utf-8")
        with tempfile.TemporaryFile() as out:
            child = subprocess.Popen(  # noqa: S603 - our own CLI with arguments from the test
                [*nps_sync_command(), "sync", "--json", "--config", str(config)],
                stdout=out,
                stderr=subprocess.DEVNULL,
                env={**os.environ, "NO_COLOR": "1"},
            )
            _, status, usage = os.wait4(child.pid, 0)
            child.returncode = os.waitstatus_to_exitcode(status)
            out.seek(0)
            report = json.loads(out.read())
    assert child.returncode == 0, report.get("errors")
    return usage.ru_maxrss / 1024, report


@pytest.mark.timeout(240)
def test_a_four_times_bigger_import_peaks_at_about_the_same_memory() -> None:
    peaks: dict[int, float] = {}
    with EmulatedWorld(seed=23, accounts=40, responses=0) as world:
        for responses in (SMALL, LARGE):
            peaks[responses], report = peak_mb_of_import(world, responses)
            assert report["pulled"] == responses
            assert report["routed"] == responses  # matched, recorded as history, written back
            assert report["records_updated"] > 0

    assert peaks[LARGE] - peaks[SMALL] < MARGIN_MB, peaks
