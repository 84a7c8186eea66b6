"""End-to-end sync benchmark: N new responses through the whole loop against the emulators.

Prints API calls per response per system (counted by the emulators, per endpoint), wall time,
throughput and peak memory of the process. The seeded responses span a year; the benchmark
treats every one of them as new (:func:`all_news`), so each is acted on.
"""

from __future__ import annotations

import math
import resource
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from emulators.world import EmulatedWorld
from rules import load_rules
from sync.app.engine import Engine, RunReport
from sync.app.runtime import connect_all, open_store
from sync.core.config import Config
from sync.core.logs import configure


def all_news(world: EmulatedWorld) -> dict[str, Any]:
    """A ``routing`` section whose recency window reaches back past the world's oldest response."""
    oldest = min((r.created_at for r in world.book.responses), default=datetime.now(UTC))
    days = (datetime.now(UTC) - oldest).days + 1
    return {"act_on_responses_newer_than": f"{max(days, 1)}d"}


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
        config = Config.model_validate(
            world.config_data(state_url=f"sqlite:///{tmp}/state.db", routing=all_news(world))
        )
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


# -- Salesforce API calls against the batching lower bound -------------------------------------
BATCH = 200


@dataclass(frozen=True, slots=True)
class SalesforceWork:
    """What one run asked of Salesforce, counted from its outcome in the org."""

    distinct_emails: int
    tasks: int
    contact_updates: int
    account_updates: int

    def lower_bound(self) -> int:
        """The fewest Salesforce requests this work takes when every request carries a full
        batch of 200: one login, ``ceil(distinct emails / 200)`` lookups (every respondent must
        be looked up once), ``ceil(tasks / 200)`` creates, ``ceil(contact updates / 200)`` and
        ``ceil(account updates / 200)`` updates (one sObject Collections call each)."""
        return (
            1
            + math.ceil(self.distinct_emails / BATCH)
            + math.ceil(self.tasks / BATCH)
            + math.ceil(self.contact_updates / BATCH)
            + math.ceil(self.account_updates / BATCH)
        )

    def per_record(self) -> int:
        """The same work one record per request: a query per respondent, a create per Task,
        an update per contact and per account (plus the login)."""
        return 1 + self.distinct_emails + self.tasks + self.contact_updates + self.account_updates


def salesforce_work(world: EmulatedWorld) -> SalesforceWork:
    """Count the work from the org itself: Tasks created, records carrying NPS fields."""
    org = world.salesforce
    return SalesforceWork(
        distinct_emails=len({r.email.strip().lower() for r in world.book.responses}),
        tasks=len(org.records("Task")),
        contact_updates=sum(c["NPS_Last_Score__c"] is not None for c in org.records("Contact")),
        account_updates=sum(a["NPS_Score__c"] is not None for a in org.records("Account")),
    )


SHAPES: dict[str, dict[str, Any]] = {
    "1,000 responses from 1,000 contacts": {
        "contacts_per_account": 4,
        "distinct_respondents": True,
        "unknown_rate": 0.0,
    },
    "default seed: repeat respondents, 5% unknown": {},
}


@dataclass(frozen=True, slots=True)
class SalesforceMeasure:
    calls: int
    work: SalesforceWork
    endpoints: Counter[str]


def measure_salesforce(responses: int, accounts: int, options: dict[str, Any]) -> SalesforceMeasure:
    """Sync ``responses`` new responses once and count every request Salesforce served."""
    with (
        tempfile.TemporaryDirectory(prefix="nps-bench-sf-") as tmp,
        EmulatedWorld(accounts=accounts, responses=responses, seed_options=options) as world,
    ):
        config = Config.model_validate(
            world.config_data(state_url=f"sqlite:///{tmp}/state.db", routing=all_news(world))
        )
        store = open_store(config)
        world.salesforce.reset_counters()
        engine = Engine(config, store, connect_all(config), load_rules(config.rules))
        engine.run_once()
        store.close()
        return SalesforceMeasure(
            world.salesforce.total_calls(), salesforce_work(world), Counter(world.salesforce.calls)
        )


def run_salesforce_benchmark(*, responses: int = 1000, accounts: int = 300) -> list[int]:
    """Salesforce requests of one sync against the batching lower bound, for two data shapes.

    Returns the measured request counts (first: the acceptance shape, at most 1.25 x the bound).
    """
    configure("ERROR")
    console = Console()
    table = Table(title=f"Salesforce API calls: {responses} new responses, {accounts} accounts")
    for column in ("data", "calls", "lower bound", "ratio", "one record per call"):
        table.add_column(column, justify="left" if column == "data" else "right")
    measured: list[int] = []
    notes: list[str] = []
    for label, options in SHAPES.items():
        m = measure_salesforce(responses, accounts, options)
        bound = m.work.lower_bound()
        per_record = m.work.per_record()
        table.add_row(
            label,
            str(m.calls),
            str(bound),
            f"{m.calls / bound:.2f}",
            f"{per_record} ({per_record / responses:.1f}/response)",
        )
        notes.append(
            f"{label}: {m.work.distinct_emails} emails, {m.work.tasks} tasks, "
            f"{m.work.contact_updates} contact and {m.work.account_updates} account updates; "
            f"{_endpoints(m.endpoints)}"
        )
        measured.append(m.calls)
    console.print(table)
    for note in notes:
        console.print(note)
    console.print(
        "lower bound = 1 login + ceil(emails/200) + ceil(tasks/200) + ceil(contact updates/200)"
        " + ceil(account updates/200)"
    )
    return measured
