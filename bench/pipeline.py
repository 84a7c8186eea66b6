"""End-to-end sync benchmark: N new responses through the whole loop against the emulators.

Prints API calls per response per system (counted by the emulators, per endpoint), wall time,
throughput and peak memory of the process.
"""

from __future__ import annotations

import resource
import tempfile
import time
from collections import Counter

from rich.console import Console
from rich.table import Table

from rules import load_rules
from sync.emulated import EmulatedWorld
from sync.engine import Engine, RunReport
from sync.logs import configure
from sync.runtime import connect_all, open_store


def _endpoints(calls: Counter[str]) -> str:
    return ", ".join(f"{name} {count}" for name, count in sorted(calls.items()))


def run_pipeline_benchmark(*, responses: int, accounts: int, latency: float) -> RunReport:
    configure("ERROR")
    console = Console()
    with (
        tempfile.TemporaryDirectory(prefix="nps-bench-") as tmp,
        EmulatedWorld(accounts=accounts, responses=responses) as world,
    ):
        for app in (world.salesforce, world.zendesk, world.delighted):
            app.latency = latency
        config = world.config(state_url=f"sqlite:///{tmp}/state.db")
        store = open_store(config)
        engine = Engine(config, store, connect_all(config), load_rules(config.rules))
        for app in (world.salesforce, world.zendesk, world.delighted):
            app.reset_counters()
        started = time.perf_counter()
        report = engine.run_once()
        elapsed = time.perf_counter() - started
        store.close()

        pulled = max(report.pulled, 1)
        table = Table(title=f"Sync of {report.pulled} new responses ({latency * 1000:.0f} ms/call)")
        table.add_column("system")
        table.add_column("API calls", justify="right")
        table.add_column("per response", justify="right")
        table.add_column("by endpoint")
        for name, app in (
            ("salesforce", world.salesforce),
            ("zendesk", world.zendesk),
            ("delighted", world.delighted),
        ):
            total = app.total_calls()
            table.add_row(name, str(total), f"{total / pulled:.3f}", _endpoints(app.calls))
        console.print(table)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    console.print(
        f"tasks {report.tasks_created}, tickets {report.tickets_created}, "
        f"fields {report.records_updated}; wall {elapsed:.2f} s, "
        f"{report.pulled / elapsed:.0f} responses/s, peak RSS {peak_mb:.0f} MB"
    )
    return report
