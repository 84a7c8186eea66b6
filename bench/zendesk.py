"""Zendesk call budget of a burst: N detractor tickets, batched versus one record at a time.

A burst of N detractor responses from N different customers goes through pull, match and route
(the engine's poll) and then through the Zendesk ticket executor, against the emulators. The
Zendesk requests are counted per endpoint from start-up to the last ticket: name resolution, the
user lookups of the match stage, the open-ticket sideload for the context, the ``create_many``
jobs. Job-status polls are counted apart (how many depends on how fast Zendesk runs the job).

The per-record approach is then measured on the same account: for each response, an exact
``email:`` lookup of the requester and a single ticket create.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

from connectors.models import TicketSpec
from emulators.world import EmulatedWorld
from rules import load_rules
from sync.app.engine import Engine
from sync.app.runtime import connect_all, open_store
from sync.core.config import Config
from sync.core.logs import configure
from sync.stages.act import drain
from sync.stages.executors.zendesk import TicketSettings, ZendeskTicketExecutor

JOB_POLLS = "job_statuses_show_many"

RULES = """\
version: 1
actions:
  detractor_ticket:
    type: zendesk_ticket
    subject: "NPS detractor: {{ account.name }} ({{ response.score }})"
    body: |
      {{ contact.name }} answered {{ response.score }} to our NPS survey.

      {{ response.comment }}
    priority: high
    group: Customer Success
    tags: [nps, detractor]
    attach_to_open: true
rules:
  - name: detractors
    when: {category: detractor}
    actions: [detractor_ticket]
  - name: default
    actions: []
"""


@dataclass
class CallCount:
    """Zendesk requests of one approach."""

    tickets: int = 0
    by_endpoint: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def polls(self) -> int:
        return self.by_endpoint[JOB_POLLS]

    @property
    def calls(self) -> int:
        """Requests other than job-status polls."""
        return sum(self.by_endpoint.values()) - self.polls


@dataclass
class ZendeskBenchmark:
    batched: CallCount
    per_record: CallCount


def run_zendesk_benchmark(
    *, tickets: int = 150, accounts: int = 300, quiet: bool = False
) -> ZendeskBenchmark:
    """Measure both approaches for a burst of ``tickets`` detractors; print the counts."""
    configure("ERROR")
    with (
        tempfile.TemporaryDirectory(prefix="nps-bench-zd-") as tmp,
        EmulatedWorld(accounts=accounts, responses=0) as world,
    ):
        rules = Path(tmp) / "rules.yaml"
        rules.write_text(RULES, encoding="utf-8")
        config = Config.model_validate(
            world.config_data(state_url=f"sqlite:///{tmp}/state.db", rules=rules)
        )
        people = _burst(world, tickets)
        store = open_store(config)
        engine = Engine(config, store, connect_all(config), load_rules(config.rules))
        executor = ZendeskTicketExecutor(
            engine.conn.helpdesk,
            engine.retry,
            store=store,
            settings=TicketSettings.from_config(config.zendesk),
        )

        world.zendesk.reset_counters()
        started = time.perf_counter()
        engine.poll()
        stats = drain(
            store,
            [executor],
            owner="bench",
            lease=timedelta(minutes=5),
            max_failures=3,
            now=lambda: datetime.now(UTC),
        )
        batched = CallCount(
            stats.created.get("zendesk_ticket", 0),
            Counter(world.zendesk.calls),
            time.perf_counter() - started,
        )
        store.close()

        world.zendesk.reset_counters()
        started = time.perf_counter()
        per_record = CallCount()
        helpdesk = engine.conn.helpdesk
        for index, email in enumerate(people):
            user = helpdesk.find_user_by_email(email)
            spec = TicketSpec(
                key=f"per-record-{index}",
                subject="NPS detractor",
                body="answered 3 to our NPS survey",
                requester_id=user.id if user else None,
                requester_email="" if user else email,
            )
            per_record.tickets += sum(r.ok for r in helpdesk.create_tickets([spec]))
        per_record.by_endpoint = Counter(world.zendesk.calls)
        per_record.seconds = time.perf_counter() - started
    result = ZendeskBenchmark(batched, per_record)
    if not quiet:
        _print(result)
    return result


def _burst(world: EmulatedWorld, size: int) -> list[str]:
    """``size`` detractor responses from different customers who are Zendesk users."""
    zendesk_users = {u.id for u in world.book.zendesk_users}
    contacts = [c for c in world.book.contacts if c.zendesk_user_id in zendesk_users][:size]
    if len(contacts) < size:
        raise ValueError(f"the seed has only {len(contacts)} contacts in Zendesk")
    at = datetime.now(UTC) - timedelta(minutes=10)
    for i, contact in enumerate(contacts):
        world.delighted.add_response(
            email=contact.email,
            score=i % 7,
            comment="The last release broke our reports.",
            created_at=at,
            updated_at=at,
        )
    return [c.email for c in contacts]


def _print(result: ZendeskBenchmark) -> None:
    console = Console()
    table = Table(title=f"Zendesk calls for a burst of {result.batched.tickets} detractor tickets")
    for column in ("approach", "tickets", "calls", "job polls", "calls per ticket", "seconds"):
        table.add_column(column, justify="left" if column == "approach" else "right")
    approaches = (("batched (nps-sync)", result.batched), ("per record", result.per_record))
    for name, count in approaches:
        table.add_row(
            name,
            str(count.tickets),
            str(count.calls),
            str(count.polls),
            f"{count.calls / max(count.tickets, 1):.2f}",
            f"{count.seconds:.2f}",
        )
    console.print(table)
    for name, count in approaches:
        endpoints = ", ".join(f"{k} {v}" for k, v in sorted(count.by_endpoint.items()))
        console.print(f"  {name}: {endpoints}")
