"""Tables keep every figure whole at 80 columns and in a pipe: through the CLI against the
emulators (stdout piped, ``COLUMNS=80``), and with figures far larger than a test world makes."""

from __future__ import annotations

import io
import json
import re
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from emulators.base import Fault
from emulators.world import DEFAULT_RULES, EmulatedWorld
from sync.app.engine import RunReport
from sync.app.report import report_table
from sync.commands.ops import status_report
from sync.state import StateStore
from tests.support import acting_on_the_seeded_year, run_cli

NARROW = {"COLUMNS": "80"}
LOCKED = Fault("lock", rate=1.0, endpoint="^composite_create$")


@dataclass
class Narrow:
    world: EmulatedWorld
    config: Path
    sync_output: str


def table(*args: str | Path) -> str:
    """A command's stdout at 80 columns, piped; it must succeed (exit 0 or 1) and fit."""
    done = run_cli(*args, env=NARROW)
    assert done.returncode in (0, 1), done.stderr
    assert_fits(done.stdout)
    return done.stdout


def assert_fits(output: str) -> None:
    assert "…" not in output, output
    too_wide = [line for line in output.splitlines() if len(line) > 80]
    assert not too_wide, output


def assert_whole(output: str, figures: Iterable[object]) -> None:
    """Each figure appears as a whole token: no digit, point or comma cut off either side."""
    for figure in figures:
        pattern = rf"(?<![\d.,]){re.escape(str(figure))}(?![\d.,]*\d)"
        assert re.search(pattern, output), f"{figure} not whole in:\n{output}"


@pytest.fixture(scope="module")
def narrow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Narrow]:
    """A pass on a world large enough for four-digit figures; every Task create fails."""
    tmp = tmp_path_factory.mktemp("tables")
    with EmulatedWorld(seed=5, accounts=120, responses=1200) as world:
        data = world.config_data(
            state_url=f"sqlite:///{tmp / 'state.db'}",
            max_attempts=1,
            routing=acting_on_the_seeded_year(),
        )
        config = tmp / "nps-sync.yaml"
        config.write_text(json.dumps(data, default=str), encoding="utf-8")
        world.salesforce.inject(LOCKED)
        yield Narrow(world, config, table("sync", "--config", config))


def test_the_sync_report(narrow: Narrow) -> None:
    status = run_cli("status", "--json", "--config", narrow.config)
    (run,) = json.loads(status.stdout)["runs"]
    assert run["pulled"] >= 1000
    assert_whole(
        narrow.sync_output,
        [run["pulled"], run["routed"], run["tickets_created"], run["records_updated"]],
    )


def test_status(narrow: Narrow) -> None:
    output = table("status", "--config", narrow.config)
    document = json.loads(run_cli("status", "--json", "--config", narrow.config).stdout)
    (run,) = document["runs"]
    assert_whole(output, [run[k] for k in ("pulled", "routed", "records_updated", "errors")])
    for action in document["actions"]:
        assert_whole(output, [action["done"], action["failed"]])
    assert_whole(output, [document["responses"]["matched"], document["responses"]["unmatched"]])


def test_failed_and_unmatched_lists(narrow: Narrow) -> None:
    failed = json.loads(run_cli("failed", "list", "--json", "--config", narrow.config).stdout)
    assert failed["count"] > 100
    output = table("failed", "list", "--config", narrow.config)
    assert_whole(output, [failed["count"], *(a["id"][:12] for a in failed["actions"])])
    unmatched = json.loads(run_cli("unmatched", "--json", "--config", narrow.config).stdout)
    output = table("unmatched", "--config", narrow.config)
    assert_whole(output, [r["submitted_at"][:10] for r in unmatched["responses"]])
    assert_whole(output, [unmatched["count"]])


def test_explain_replay_and_check(narrow: Narrow, tmp_path: Path) -> None:
    accounts = {c.email: c.account_id for c in narrow.world.book.contacts}
    account = next(accounts[r.email] for r in narrow.world.book.responses if r.email in accounts)
    explained = json.loads(
        run_cli("explain", "account", account, "--json", "--config", narrow.config).stdout
    )
    output = table("explain", "account", account, "--config", narrow.config)
    assert_whole(output, [r["score"] for r in explained["responses"]])
    assert_whole(output, [r["submitted_at"][:10] for r in explained["responses"]])
    segments = json.loads(
        run_cli("explain", "segments", "--json", "--config", narrow.config).stdout
    )
    output = table("explain", "segments", "--config", narrow.config)
    assert_whole(output, [f"{s['arr']:,.0f}" for s in segments["segments"]])

    candidate = tmp_path / "candidate.yaml"
    shutil.copyfile(DEFAULT_RULES, candidate)
    replayed = json.loads(
        run_cli(
            "rules", "replay", "--since", "52w", "--rules", candidate, "--json",
            "--config", narrow.config,
        ).stdout
    )  # fmt: skip
    output = table(
        "rules", "replay", "--since", "52w", "--rules", candidate, "--config", narrow.config
    )
    assert_whole(output, [a["count"] for a in replayed["in_force"]["actions"]])
    assert_whole(output, [replayed["responses"]])
    table("check", "--config", narrow.config)


def render(renderables: Iterable[Any]) -> str:
    out = io.StringIO()
    console = Console(file=out, width=80, color_system=None)
    for renderable in renderables:
        console.print(renderable)
    return out.getvalue()


def test_status_keeps_seven_digit_figures_whole(tmp_path: Path) -> None:
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    store.migrate()
    now = datetime.now(UTC)
    figures = {
        "pulled": 1234567,
        "routed": 2345678,
        "tasks_created": 3456789,
        "tickets_created": 4567890,
        "records_updated": 5678901,
        "error_count": 6789012,
        "seconds": 12345.67,
    }
    owner = "replica-7.nps-sync.production.example.internal:4194304:140737488355328"
    for kind in ("reconcile", "backfill", "drain"):
        run_id = store.runs.start(now, kind=kind, owner=owner)
        store.runs.finish(run_id, "partial", figures, now)
    store.cursors.set("delighted", "MTc5NjQzOTA1Mi42NjExODR8fDQyfA==" * 3, now)
    try:
        output = render(status_report(store, now))
    finally:
        store.close()
    assert_fits(output)
    assert_whole(output, figures.values())
    assert "replica-7.nps-sync.production.example.internal:4194304" in "".join(
        line.strip(" │┃") for line in output.splitlines()
    )  # the worker folds over lines, whole


def test_the_report_keeps_large_figures_whole() -> None:
    big = RunReport(
        pulled=9876543,
        new=9876000,
        updated=543,
        routed=9876543,
        tasks_created=1234567,
        tickets_created=765432,
        records_updated=8765432,
        retried=123456,
        deferred=654321,
        dead=111111,
        api_usage=(4999999, 5000000),
        api_calls={"salesforce": 123456, "zendesk": 654321, "delighted": 98765},
        seconds=54321.5,
    )
    output = render([report_table([("first sync", big), ("second sync", big)])])
    assert_fits(output)
    assert_whole(output, ["9876000 / 543", "123456 / 654321 / 111111", "4,999,999 / 5,000,000"])
    assert_whole(output, [9876543, 1234567, 765432, 8765432, 54321.5, 98765])
