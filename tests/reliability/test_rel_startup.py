"""The daemon against systems that fail at start-up or refuse its credentials.

- A 500 or a dropped connection on the Salesforce login at start-up does not hold the daemon
  back: it starts, and its first call to Salesforce logs in (retried as any call is). Only a
  configuration error stops it: one line, the config exit code (78), no traceback.
- A wrong Zendesk token is a configuration error of that system: one line per run, no
  traceback; the daemon stays up, the Salesforce work goes on, ``nps-sync status`` shows it.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest

from emulators.base import Fault
from emulators.world import EmulatedWorld
from sync.state import StateStore
from tests.reliability.conftest import (
    fast_engine,
    snapshot,
    spawn,
    write_config,
)
from tests.support import nps_sync_command, wait_for

SCHEDULE = {"poll_interval_seconds": 10, "drain_interval_seconds": 5, "reconcile_cron": ""}


def runs_of(store: StateStore, kind: str) -> list[dict[str, object]]:
    return [r for r in store.runs.last(50) if r.get("kind") == kind and r["status"] != "running"]


@pytest.mark.timeout(120)
def test_rel_transient_login_failures_at_start_up_are_retried(
    tmp_path: Path, sqlite_url: str
) -> None:
    with EmulatedWorld(seed=5, accounts=5, responses=20) as world:
        for kind in ("reset", "500", "reset"):
            world.salesforce.inject(Fault(kind, count=1, endpoint="^login_soap$"))
        config = write_config(tmp_path / "c.yaml", world, sqlite_url, schedule=SCHEDULE)
        log = tmp_path / "daemon.log"
        daemon = spawn(["run", "--config", str(config)], log)
        try:
            store = StateStore(sqlite_url)
            store.migrate()
            assert wait_for(
                lambda: runs_of(store, "drain") or daemon.poll() is not None, timeout=60
            ), log.read_text()
            assert daemon.poll() is None, log.read_text()  # still up
            assert wait_for(lambda: world.salesforce.records("Task"), timeout=30), log.read_text()
        finally:
            daemon.send_signal(signal.SIGTERM)
            rc = daemon.wait(timeout=30)
        text = log.read_text()
        assert rc == 0, text
        assert "Traceback" not in text
        assert text.count("Salesforce login failed for now") == 1
        assert world.salesforce.calls["login_soap"] >= 4


def test_rel_wrong_credentials_at_start_up_stop_the_daemon_in_one_line(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with EmulatedWorld(seed=5, accounts=5, responses=5) as world:
        monkeypatch.setenv("NPS_DEMO_SF_PASSWORD", "not-the-password")
        config = write_config(tmp_path / "c.yaml", world, sqlite_url, schedule=SCHEDULE)
        done = subprocess.run(  # noqa: S603 - our own CLI
            [*nps_sync_command(), "run", "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 78, done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, done.stderr
    assert "salesforce" in errors[0]


@pytest.mark.timeout(120)
def test_rel_a_wrong_zendesk_token_is_one_line_per_run_and_the_rest_goes_on(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with EmulatedWorld(seed=5, accounts=10, responses=60) as world:
        routed = fast_engine(world, sqlite_url).poll()  # routed while the token was right
        assert routed.intents
        monkeypatch.setenv("NPS_DEMO_ZD_TOKEN", "wrong-token")
        config = write_config(tmp_path / "c.yaml", world, sqlite_url, schedule=SCHEDULE)
        log = tmp_path / "daemon.log"
        daemon = spawn(["run", "--config", str(config)], log)
        try:
            store = StateStore(sqlite_url)
            store.migrate()
            assert wait_for(
                lambda: len(runs_of(store, "drain")) >= 2 or daemon.poll() is not None, timeout=60
            ), log.read_text()
            assert daemon.poll() is None, log.read_text()  # still up
            status = subprocess.run(  # noqa: S603 - our own CLI
                [*nps_sync_command(), "status", "--config", str(config)],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
                env={"COLUMNS": "300", "PATH": ""},
            )
        finally:
            daemon.send_signal(signal.SIGTERM)
            rc = daemon.wait(timeout=30)
        text = log.read_text()
        assert rc == 0, text
        assert "Traceback" not in text
        refusals = [line for line in text.splitlines() if "refused by zendesk" in line]
        assert refusals
        jobs = len(runs_of(store, "drain")) + len(runs_of(store, "poll"))
        assert len(refusals) <= jobs  # one line per run at most
        assert {r["status"] for r in runs_of(store, "drain")} == {"refused"}
        assert status.returncode == 0, status.stderr
        assert "Refused by zendesk" in status.stdout
        made = snapshot(world)
    assert made.tasks  # the Salesforce work went on
    assert not made.tickets
    assert made.duplicate_tasks == []
