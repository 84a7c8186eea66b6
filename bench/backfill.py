"""Backfill benchmark: import N responses of history and compute every field, with injected
latency on every emulator call.

Targets: 20,000 responses at 100 ms per call in under 2 minutes, 100,000 (``--large``) in under
200 s, each with a peak memory under 300 MB. The run happens in a fresh interpreter, and the
emulators (which hold the whole book of business) in another one, so the peak RSS measured is the
backfill's own.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

MEMORY_BUDGET_MB = 300.0


def time_budget(responses: int) -> float:
    """Seconds allowed: 120 up to 20,000 responses, 200 for the 100,000 of ``--large``."""
    return 120.0 if responses <= 20_000 else 200.0


def serve_emulators(pipe: Connection, accounts: int, responses: int, latency: float) -> None:
    """In a process of their own: seeded emulators, answering the benchmark's requests."""
    from emulators.world import EmulatedWorld

    with EmulatedWorld(accounts=accounts, responses=responses) as world:
        world.zendesk.add_metric_fields()
        apps = {"salesforce": world.salesforce, "zendesk": world.zendesk}
        apps["delighted"] = world.delighted
        for app in apps.values():
            app.latency = latency
            app.reset_counters()
        first = min(r.created_at for r in world.book.responses)
        pipe.send({"config": world.config_data(state_url=""), "since": first.isoformat()})
        pipe.recv()  # the backfill is done
        pipe.send(
            {
                "calls": {name: dict(app.calls) for name, app in apps.items()},
                "history_records": len(world.salesforce.records("NPS_Response__c")),
                "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )


def _receive(pipe: Connection, process: BaseProcess, timeout: float = 600.0) -> Any:
    """The next message from the emulators' process; an error if it died or went quiet."""
    deadline = time.monotonic() + timeout
    while not pipe.poll(0.5):
        if not process.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the emulators' process stopped (exit code {process.exitcode})")
    return pipe.recv()


def measure(*, responses: int, accounts: int, latency: float) -> dict[str, Any]:
    """Run one backfill against emulators in another process; the figures, JSON-able.

    The emulators hold the whole book of business, so they run apart: the peak RSS measured
    here is the backfill's own.
    """
    from emulators.world import DEMO_ENV
    from sync.app.runtime import connect_all, open_store
    from sync.core.config import Config
    from sync.core.logs import configure
    from sync.core.retry import RetryPolicy
    from sync.fields.fieldmap import suggested_mapping
    from sync.ops.backfill import backfill

    configure("ERROR")
    os.environ.update(DEMO_ENV)
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    emulators = context.Process(
        target=serve_emulators, args=(theirs, accounts, responses, latency), daemon=True
    )
    emulators.start()
    try:
        world = _receive(ours, emulators)
        with tempfile.TemporaryDirectory(prefix="nps-bench-") as tmp:
            data = world["config"]
            data["state"] = {"url": f"sqlite:///{tmp}/state.db"}
            data["write_back"] = suggested_mapping()
            config = Config.model_validate(data)
            store = open_store(config)
            conn = connect_all(config)
            now = datetime.now(UTC)
            since = datetime.fromisoformat(world["since"]) - timedelta(days=1)
            started, cpu = time.perf_counter(), time.process_time()
            stats = backfill(config, store, conn, RetryPolicy(), since=since, until=now, now=now)
            seconds = time.perf_counter() - started
            cpu = time.process_time() - cpu
            store.close()
        ours.send("done")
        served = _receive(ours, emulators)
    finally:
        emulators.join(timeout=30)
        if emulators.is_alive():
            emulators.kill()
    return {
        "responses": responses,
        "latency_ms": latency * 1000,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "emulators_peak_mb": served["peak_mb"],
        "imported": stats.imported,
        "matched": stats.matched,
        "contacts": stats.contacts,
        "accounts": stats.accounts,
        "history_records": served["history_records"],
        "written": stats.write.updated,
        "errors": stats.errors + stats.write.errors,
        "calls": served["calls"],
    }


def run_backfill_benchmark(
    *, responses: int = 20_000, accounts: int = 1000, latency: float = 0.1
) -> dict[str, Any]:
    """Measure in a fresh interpreter and print the figures against the budgets."""
    args = [str(responses), str(accounts), str(latency)]
    command = [sys.executable, "-m", "bench.backfill", *args]
    # Our own interpreter and module with numbers: nothing untrusted reaches the command line.
    root = Path(__file__).resolve().parent.parent
    child = subprocess.run(command, capture_output=True, text=True, check=False, cwd=root)  # noqa: S603
    console = Console()
    if child.returncode != 0:
        tail = " | ".join(child.stderr.strip().splitlines()[-3:])
        console.print(
            f"[red]Backfill of {responses:,} responses failed[/] (exit code {child.returncode}): "
            + escape(tail),
            highlight=False,
        )
        return {"responses": responses, "exit_code": child.returncode, "stderr": child.stderr}
    figures: dict[str, Any] = json.loads(child.stdout.strip().splitlines()[-1])
    table = Table(
        title=f"Backfill of {figures['imported']} responses "
        f"({figures['latency_ms']:.0f} ms per call)"
    )
    table.add_column("system")
    table.add_column("API calls", justify="right")
    table.add_column("by endpoint")
    for system, endpoints in figures["calls"].items():
        by_endpoint = ", ".join(f"{k} {v}" for k, v in sorted(endpoints.items()))
        table.add_row(system, str(sum(endpoints.values())), by_endpoint)
    console.print(table)
    written = ", ".join(f"{k} {v}" for k, v in sorted(figures["written"].items()))
    seconds, peak = figures["seconds"], figures["peak_mb"]
    budget = time_budget(responses)
    verdict = seconds < budget and peak < MEMORY_BUDGET_MB and not figures["errors"]
    console.print(
        f"{figures['matched']} matched; {figures['contacts']} contacts, {figures['accounts']} "
        f"accounts, {figures['history_records']} history records; wrote {written}\n"
        f"wall {seconds:.1f} s (budget {budget:.0f}), CPU {figures['cpu_seconds']:.1f} s, "
        f"{figures['imported'] / seconds:.0f} responses/s, peak RSS {peak:.0f} MB "
        f"(budget {MEMORY_BUDGET_MB:.0f}; the emulators' process: "
        f"{figures['emulators_peak_mb']:.0f} MB): "
        + ("[green]within budget[/]" if verdict else "[red]OVER BUDGET[/]")
    )
    for error in figures["errors"][:10]:
        console.print(f"[red]error[/] {error}")
    return figures


if __name__ == "__main__":
    n, accts, lat = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    print(json.dumps(measure(responses=n, accounts=accts, latency=lat)))
