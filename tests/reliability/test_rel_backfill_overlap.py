"""A backfill writes its history records while it still reads the survey source; killed (SIGKILL)
while pages are read ahead and a batch of those records is in flight, its re-run leaves every
response stored once, one history record per matched response, and the fields of a backfill that
was never killed.

The backfills here run with small batches (:data:`SMALL_BATCHES`), so that a book of a thousand
responses has several batches of history records in flight while the pages are still being read,
as 100,000 have with the default sizes.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from emulators.base import Reset
from emulators.world import EmulatedWorld
from sync.core.config import Config
from sync.fields.fieldmap import field_map, suggested_mapping
from sync.state import StateStore
from tests.reliability.conftest import quiet_end, snapshot, spawn, world_config, write_config

SEED = 515
ACCOUNTS = 30
RESPONSES = 1000
#: Responses matched and recorded together, and records per write-back batch.
IMPORT_BATCH, WRITE_BATCH = 100, 50
#: ``nps-sync`` with both made small.
SMALL_BATCHES = [
    sys.executable,
    "-c",
    "import sync.ops.backfill as b, sync.stages.writeback.send as s; "
    f"b.backfill.__kwdefaults__['batch_size'] = {IMPORT_BATCH}; "
    f"s.FLUSH_RECORDS = {WRITE_BATCH}; "
    "from sync.cli import main; main()",
]
#: The n-th history upsert each attempt is killed at (before or after Salesforce applied it).
KILLS = (("received", 1), ("handled", 2), ("received", 4))
HISTORY_WRITE = "composite_upsert"


def backfill_args(config: Path) -> list[str]:
    since = (datetime.now(UTC) - timedelta(days=800)).date().isoformat()
    return ["backfill", "--since", since, "--config", str(config)]


class Killer:
    """Kills the backfill at the n-th history upsert; notes how many survey pages it had read."""

    def __init__(self, world: EmulatedWorld) -> None:
        self.lock = threading.Lock()
        self.proc: subprocess.Popen[bytes] | None = None
        self.phase, self.at = "", 0
        self.seen = self.pages = 0
        self.pages_at_kill: int | None = None
        world.salesforce.observers.append(self.salesforce)
        world.delighted.observers.append(self.delighted)

    def arm(self, proc: subprocess.Popen[bytes], phase: str, at: int) -> None:
        with self.lock:
            self.proc, self.phase, self.at = proc, phase, at
            self.seen = self.pages = 0
            self.pages_at_kill = None

    def delighted(self, endpoint: str, phase: str) -> None:
        if phase == "received":
            with self.lock:
                self.pages += 1

    def salesforce(self, endpoint: str, phase: str) -> None:
        with self.lock:
            if endpoint != HISTORY_WRITE or phase != self.phase or self.proc is None:
                return
            self.seen += 1
            if self.seen < self.at:
                return
            self.proc.send_signal(signal.SIGKILL)
            self.pages_at_kill, self.proc = self.pages, None
        raise Reset  # the client is gone; drop the connection without an answer


def finished(proc: subprocess.Popen[bytes]) -> int:
    return proc.wait(timeout=180)


def spawn_small(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as sink:
        return subprocess.Popen(SMALL_BATCHES + args, stdout=sink, stderr=sink)  # noqa: S603


def history(world: EmulatedWorld, key: str) -> dict[str, dict[str, Any]]:
    """The history records by external id; each key must be there once."""
    records = world.salesforce.records("NPS_Response__c")
    counts = Counter(r[key] for r in records)
    assert [k for k, n in counts.items() if n > 1] == []
    return {r[key]: {k: v for k, v in r.items() if k.endswith("__c")} for r in records}


def stored(url: str) -> tuple[dict[str, int], Counter[str]]:
    store = StateStore(url)
    try:
        assert not store.write_backs.queued()
        rows = store.inbox.since(datetime(2000, 1, 1, tzinfo=UTC))
        return store.inbox.counts(), Counter(r.response.response_id for r in rows)
    finally:
        store.close()


def run_statuses(url: str) -> Counter[str]:
    """The recorded runs by kind and status (``backfill interrupted``, ...)."""
    store = StateStore(url)
    try:
        return Counter(f"{run['kind']} {run['status']}" for run in store.runs.last(100))
    finally:
        store.close()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_backfill_killed_while_writing_history_during_its_import_is_finished_by_its_rerun(
    tmp_path: Path,
) -> None:
    end = quiet_end(SEED, ACCOUNTS, RESPONSES)
    log = tmp_path / "nps-sync.log"
    size = (SEED, ACCOUNTS, RESPONSES, end)

    with EmulatedWorld(*size) as clean:
        url = f"sqlite:///{tmp_path / 'clean.db'}"
        config = write_config(tmp_path / "clean.yaml", clean, url, write_back=suggested_mapping())
        data = world_config(clean, url, write_back=suggested_mapping())
        hmap = field_map(Config.model_validate(data)).history
        assert hmap is not None
        assert finished(spawn(backfill_args(config), log)) == 0, log.read_text()[-3000:]
        expected_state = snapshot(clean)
        expected_history = history(clean, hmap.external_id)
    expected_counts, expected_rows = stored(url)
    assert expected_history
    assert set(expected_rows.values()) == {1}

    kills: list[str] = []
    pages_read: list[int | None] = []
    with EmulatedWorld(*size) as world:
        world.delighted.latency = 0.1  # pages keep arriving while the first batches are written
        killer = Killer(world)
        url = f"sqlite:///{tmp_path / 'killed.db'}"
        config = write_config(tmp_path / "killed.yaml", world, url, write_back=suggested_mapping())
        for phase, at in KILLS:
            proc = spawn_small(backfill_args(config), log)
            killer.arm(proc, phase, at)
            assert finished(proc) == -signal.SIGKILL, log.read_text()[-3000:]
            kills.append(f"{HISTORY_WRITE} #{at} {phase}, {killer.pages_at_kill} pages read")
            pages_read.append(killer.pages_at_kill)
        world.delighted.latency = 0.0
        assert finished(spawn_small(backfill_args(config), log)) == 0, log.read_text()[-3000:]
        state, written = snapshot(world), history(world, hmap.external_id)
    counts, rows = stored(url)
    runs = run_statuses(url)

    print("\nkilled at: " + "; ".join(kills))
    # The first attempt was killed while the import still had survey pages to read.
    first = pages_read[0]
    assert first is not None
    assert first < RESPONSES // 100
    assert counts == expected_counts
    assert rows == expected_rows  # every response stored, once
    assert written == expected_history  # one history record each, with the same values
    assert state.differences(expected_state) == []
    # `status` shows the killed backfills as interrupted once the rerun started, not as running.
    assert runs == {"backfill interrupted": len(KILLS), "backfill ok": 1}
