"""Salesforce API calls of one sync against the batching lower bound, for two data shapes.

In-process against the emulators (the first-sync rows in :mod:`bench.first_sync` run the CLI in
a process of its own). The seeded responses span a year; the benchmark treats every one of them
as new (:func:`all_news`), so each is acted on.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.bounds import SalesforceWork
from emulators.world import EmulatedWorld
from rules import load_rules
from sync.app.engine import Engine
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


__all__ = ["SHAPES", "SalesforceWork", "measure_salesforce", "run_salesforce_benchmark"]


def salesforce_work(world: EmulatedWorld) -> SalesforceWork:
    """Count the work from the org itself: Tasks created, records carrying NPS fields."""
    org = world.salesforce
    return SalesforceWork(
        distinct_emails=len({r.email.strip().lower() for r in world.book.responses}),
        tasks=len(org.records("Task")),
        contact_updates=sum(c["NPS_Last_Score__c"] is not None for c in org.records("Contact")),
        account_updates=sum(a["NPS_Score__c"] is not None for a in org.records("Account")),
        task_links=sum(
            "\nZendesk ticket: " in str(t.get("Description") or "") for t in org.records("Task")
        ),
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
        "lower bound = 1 login + 1 new-state check + ceil(emails/200) + ceil(tasks/200) + "
        "ceil(contact updates/200) + ceil(account updates/200) + ceil(task links/200)"
    )
    return measured
