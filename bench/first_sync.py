"""First sync of N new responses: ``nps-sync sync`` as a process of its own against the demo
world's emulators (realistic limits: Zendesk 700 requests a minute, jobs done after 1-3 polls,
a lagging search index; Salesforce 100,000 calls a day) running in another process.

Every response of the seeded year counts as news (the routing window reaches back past the
oldest), so each is acted on. A backlog larger than a pass can do under Zendesk's limit (a pass
exits 75, the rest deferred) is, when asked (``--until-done``, and the 100,000 row of
``--large``), run pass after pass, each started when the deferral ends, until it is done: its
wall time is then the backlog's, waits included. Per run it reports:

- wall time against the time the rate limits alone impose on the calls the work needs
  (:func:`bench.bounds.rate_limit_seconds` of the Zendesk and Salesforce lower bounds);
- errors and the exit code (a run that stops early still reports what it did);
- peak RSS and CPU time (user + system) of the nps-sync process only;
- API calls per response for Salesforce and Zendesk against their batching lower bounds
  (:class:`bench.bounds.SalesforceWork`, :class:`bench.bounds.ZendeskWork`).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bench.bounds import SalesforceWork, ZendeskWork, rate_limit_seconds
from bench.measure import ProcessFigures, run_nps_sync, run_until_done, write_config
from bench.remote import RemoteWorld, WorldSpec
from bench.state import postgres_unavailable, state_url
from emulators.world import DEMO_ENV

JOB_POLLS = ("job_statuses", "job_statuses_show_many")
#: The tables' width when the terminal is narrower (or output goes to a file).
WIDTH = 120


def acting_on_everything(oldest: str | None) -> dict[str, Any]:
    """A ``routing`` section whose recency window reaches back past the oldest response."""
    start = datetime.fromisoformat(oldest) if oldest else datetime.now(UTC)
    return {"act_on_responses_newer_than": f"{max((datetime.now(UTC) - start).days + 1, 1)}d"}


@dataclass
class SyncRun:
    """One first sync: the process's figures and what the emulators saw."""

    responses: int
    backend: str
    latency: float
    process: ProcessFigures
    calls: dict[str, dict[str, int]]
    work: dict[str, Any]
    #: ``nps-sync sync`` processes the run took (more than one: run until done).
    passes: int = 1
    #: CPU the emulators' process spent serving the run (their seeding excluded).
    emulator_cpu_seconds: float = 0.0

    def total(self, system: str, *, without: tuple[str, ...] = ()) -> int:
        return sum(n for name, n in self.calls.get(system, {}).items() if name not in without)

    @property
    def salesforce(self) -> SalesforceWork:
        return SalesforceWork.of(self.work)

    @property
    def zendesk(self) -> ZendeskWork:
        return ZendeskWork.of(self.work)

    def bound_seconds(self) -> float:
        return rate_limit_seconds(
            self.zendesk.lower_bound(),
            self.work["zendesk_limit_per_minute"],
            self.salesforce.lower_bound(),
            self.work["salesforce_daily_limit"],
        )

    @property
    def pulled(self) -> int | None:
        value = self.process.document.get("pulled")
        return value if isinstance(value, int) else None

    def errors(self) -> int:
        errors = self.process.document.get("errors")
        return len(errors) if isinstance(errors, list) else 0

    def cpu_ms_per_response(self) -> float:
        return 1000 * self.process.cpu_seconds / max(self.pulled or self.responses, 1)

    def statements_per_response(self) -> str:
        """SQL statements sent to the state database per response pulled ("?" if not counted)."""
        total = sum(self.process.statements.values())
        return f"{total / max(self.pulled or self.responses, 1):.2f}" if total else "?"


def first_sync(
    responses: int,
    *,
    accounts: int = 300,
    latency: float = 0.0,
    backend: str = "sqlite",
    timeout: float = 3 * 3600.0,
    until_done: bool = False,
    zendesk: dict[str, Any] | None = None,
) -> SyncRun:
    """Seed ``responses`` new responses, run ``nps-sync sync --json`` once (or, ``until_done``,
    pass after pass until none is deferred), collect figures. ``zendesk``: emulator options
    over the realistic ones."""
    spec = WorldSpec(
        responses=responses, accounts=accounts, latency=latency, zendesk=dict(zendesk or {})
    )
    with (
        tempfile.TemporaryDirectory(prefix="nps-bench-") as tmp,
        RemoteWorld(spec) as world,
        state_url(backend, Path(tmp)) as url,
    ):
        data = dict(world.config)
        data["state"] = {"url": url}
        data["routing"] = acting_on_everything(world.oldest)
        config = write_config(Path(tmp), data)
        args = ["sync", "--json", "-c", str(config)]
        passes = 1
        if until_done:
            process, passes = run_until_done(
                args, env=DEMO_ENV, timeout=timeout, count_statements=True
            )
        else:
            process = run_nps_sync(args, env=DEMO_ENV, timeout=timeout, count_statements=True)
        seen = world.figures()
    return SyncRun(
        responses,
        backend,
        latency,
        process,
        seen["calls"],
        seen["work"],
        passes,
        float(seen.get("cpu_seconds", 0.0)),
    )


def _first_error(run: SyncRun) -> str:
    return f"; first error: {run.process.document['errors'][0]}" if run.errors() else ""


def _ratio(value: float, bound: float) -> str:
    return f"{value / bound:.2f}x" if bound > 0 else "-"


def print_first_syncs(runs: list[SyncRun], console: Console) -> None:
    """The time, memory and CPU row of each run."""
    table = Table(title="First sync of N new responses (nps-sync sync, realistic limits)")
    columns = ["responses", "state", "ms/call", "passes", "exit", "pulled", "routed", "errors"]
    columns += ["wall s"]
    columns += ["bound s", "ratio", "RSS MB", "CPU ms/resp", "emulators CPU s", "SQL/resp"]
    for column in columns:
        table.add_column(column, justify="right")
    for run in runs:
        doc = run.process.document
        bound = run.bound_seconds()
        table.add_row(
            f"{run.responses:,}",
            run.backend,
            f"{run.latency * 1000:.0f}",
            str(run.passes),
            str(run.process.exit_code),
            str(doc.get("pulled", "?")),
            str(doc.get("routed", "?")),
            str(run.errors()),
            f"{run.process.seconds:.1f}",
            f"{bound:.1f}",
            _ratio(run.process.seconds, bound),
            f"{run.process.peak_mb:.0f}",
            f"{run.cpu_ms_per_response():.2f}",
            f"{run.emulator_cpu_seconds:.1f}",
            run.statements_per_response(),
        )
    console.print(table)
    for run in runs:
        if run.process.exit_code or run.errors():
            console.print(
                f"[red]{run.responses:,} on {run.backend}[/]: "
                + escape(run.process.failure() + _first_error(run)),
                highlight=False,
            )
    console.print(
        "rate-limit bound = the Zendesk lower bound of calls at 700 a minute (Salesforce's "
        "100,000 a day binds only beyond it); targets at 100,000: 0 errors within 1.25x the "
        "bound, peak RSS <= 300 MB, CPU <= 0.5 ms/response; SQL/resp = statements sent to the "
        "state database per response (an executemany counts once); passes > 1: run pass after "
        "pass until none was deferred, wall time from the first start to the last exit; "
        "emulators CPU s: what serving the run cost the emulators' process, which shares the "
        "machine's cores and answers each call while nps-sync waits"
    )
    for run in runs:
        top = sorted(run.process.statements.items(), key=lambda kv: -kv[1])[:8]
        if top:
            console.print(
                f"  SQL of {run.responses:,} on {run.backend}: "
                + ", ".join(f"{name} {count}" for name, count in top),
                highlight=False,
            )


def print_calls(runs: list[SyncRun], console: Console) -> None:
    """API calls per response for each system against its batching lower bound."""
    table = Table(title="API calls of a first sync against the batching lower bound")
    columns = ("responses", "system", "calls", "per response", "lower bound", "ratio", "complete")
    for column in columns:
        table.add_column(column, justify="right")
    notes = []
    for run in runs:
        if run.backend != "sqlite":
            continue
        done = "yes" if run.process.exit_code == 0 else f"no (exit {run.process.exit_code})"
        for system, bound in (
            ("salesforce", run.salesforce.lower_bound()),
            ("zendesk", run.zendesk.lower_bound()),
        ):
            calls = run.total(system)
            table.add_row(
                f"{run.responses:,}",
                system,
                f"{calls:,}",
                f"{calls / run.responses:.3f}",
                f"{bound:,}",
                _ratio(calls, bound),
                done,
            )
        polls = sum(run.calls.get("zendesk", {}).get(name, 0) for name in JOB_POLLS)
        by_endpoint = {
            system: ", ".join(f"{k} {v}" for k, v in sorted(run.calls.get(system, {}).items()))
            for system in ("salesforce", "zendesk")
        }
        w = run.work
        notes.append(
            f"{run.responses:,}: {w['distinct_emails']:,} emails, {w['tasks']:,} tasks "
            f"({w.get('task_links', 0):,} linked to their ticket), "
            f"{w['contact_updates']:,} contact and {w['account_updates']:,} account updates; "
            f"{w['tickets']:,} tickets, {w['comments']:,} comments, {w['user_updates']:,} user "
            f"and {w['organization_updates']:,} organization updates, {w['jobs']:,} jobs "
            f"({polls:,} polls); {w.get('zendesk_users', 0):,} Zendesk users before"
            f"\n  salesforce: {by_endpoint['salesforce']}\n"
            f"  zendesk: {by_endpoint['zendesk']}"
        )
    console.print(table)
    for note in notes:
        console.print(note, highlight=False, markup=False)
    console.print(
        "bounds: Salesforce 1 login + 1 new-state check + ceil(emails/200) + ceil(tasks/200) + "
        "ceil(contact updates/200) + ceil(account updates/200) + ceil(task links/200); "
        "Zendesk 2 + min(ceil(emails/100), ceil(account users/1000)) + ceil(tickets/100) + "
        "ceil(comments/100) + "
        "ceil(user updates/100) + ceil(org updates/100) + max(2 x ceil(jobs/100), 2 x jobs/30: "
        "Zendesk holds 30 jobs at once) polls + 1 export page "
        "(bench/bounds.py); target <= 1.25x"
    )


def print_backends(
    sqlite: SyncRun, postgres: SyncRun | None, reason: str, console: Console
) -> None:
    """The same sync on both state backends, side by side."""
    if postgres is None:
        console.print(f"PostgreSQL vs SQLite at {sqlite.responses:,}: skipped ({reason})")
        return
    table = Table(title=f"The same first sync of {sqlite.responses:,} on both state backends")
    for column in ("state", "exit", "routed", "errors", "wall s", "CPU s", "peak RSS MB"):
        table.add_column(column, justify="right")
    table.add_column("SQL/resp", justify="right")
    for run in (sqlite, postgres):
        table.add_row(
            run.backend,
            str(run.process.exit_code),
            str(run.process.document.get("routed", "?")),
            str(run.errors()),
            f"{run.process.seconds:.1f}",
            f"{run.process.cpu_seconds:.1f}",
            f"{run.process.peak_mb:.0f}",
            run.statements_per_response(),
        )
    console.print(table)
    console.print(
        f"PostgreSQL / SQLite wall time: {_ratio(postgres.process.seconds, sqlite.process.seconds)}"
        f" (CPU {_ratio(postgres.process.cpu_seconds, sqlite.process.cpu_seconds)}); "
        "target <= 1.1x"
    )


def run_first_sync_benchmarks(
    sizes: list[int],
    *,
    accounts: int,
    latency: float,
    backends_at: int,
    until_done: frozenset[int] = frozenset(),
    backlog_latency: float | None = None,
) -> list[SyncRun]:
    """The first-sync rows for each size (those in ``until_done`` run pass after pass until
    done, with ``backlog_latency`` per call when given), the calls rows, then SQLite vs
    PostgreSQL."""
    console = Console(width=max(Console().width, WIDTH))
    runs = []
    for size in sizes:
        console.print(f"first sync of {size:,} new responses...", style="dim")
        done = size in until_done
        delay = backlog_latency if done and backlog_latency is not None else latency
        runs.append(first_sync(size, accounts=accounts, latency=delay, until_done=done))
    sqlite = next((r for r in runs if r.responses == backends_at), None)
    if backends_at and sqlite is None:
        sqlite = first_sync(backends_at, accounts=accounts, latency=latency)
        runs.append(sqlite)
    reason = postgres_unavailable() if backends_at else "not asked for"
    postgres = None
    if backends_at and reason is None:
        console.print(f"first sync of {backends_at:,} on PostgreSQL...", style="dim")
        postgres = first_sync(backends_at, accounts=accounts, latency=latency, backend="postgresql")
        runs.append(postgres)
    print_first_syncs(runs, console)
    print_calls(runs, console)
    if sqlite is not None:
        print_backends(sqlite, postgres, reason or "", console)
    return runs
