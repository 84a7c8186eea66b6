"""Prometheus metrics of the daemon, served at ``/metrics`` by the receiver.

One registry per daemon (not the library's global one), so two daemons in one test process do
not share counters. Counters are updated where things happen (the intake, the end of each pass);
the outbox's actions by kind and state are read from the store when the metrics are scraped, so
they are the same across replicas and never drift from ``nps-sync status``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from sync.app.engine import RunReport, utcnow
from sync.state import StateStore

#: The content type of :meth:`Telemetry.exposition`.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: Outbox states as the gauge names them.
_STATES = ("due", "waiting", "in_flight", "done", "dead")


class _OutboxCollector(Collector):
    """``nps_sync_actions{kind,state}``: the outbox as it is now."""

    def __init__(self, store: StateStore, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.clock = clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily(
            "nps_sync_actions", "Actions in the outbox by kind and state", labels=["kind", "state"]
        )
        try:
            summary = self.store.outbox.summary(self.clock())
        except Exception:  # the store is down: /readyz says so; the other metrics still answer
            summary = {}
        for kind, counts in sorted(summary.items()):
            for state in _STATES:
                gauge.add_metric([kind, state], getattr(counts, state))
        yield gauge


class Telemetry:
    """The daemon's metrics and the calls that update them."""

    def __init__(self, store: StateStore, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.responses = Counter(
            "nps_sync_responses_received",
            "Survey responses received, new or changed, by source and how they arrived",
            ["source", "via"],
            registry=self.registry,
        )
        self.webhooks = Counter(
            "nps_sync_webhooks",
            "Verified webhooks by source and outcome (stored, unchanged, duplicate, ignored)",
            ["source", "outcome"],
            registry=self.registry,
        )
        self.rejections = Counter(
            "nps_sync_webhook_rejections",
            "Webhooks refused before storing, by source and reason (signature, too_large, "
            "timeout, unknown_source)",
            ["source", "reason"],
            registry=self.registry,
        )
        self.store_failures = Counter(
            "nps_sync_webhook_store_failures",
            "Verified webhooks answered 503 because the state store could not take them",
            ["source"],
            registry=self.registry,
        )
        self.polls = Counter(
            "nps_sync_source_polls",
            "Polls of each survey source by how they ended (ok, error, deferred)",
            ["source", "outcome"],
            registry=self.registry,
        )
        self.pulled = Counter(
            "nps_sync_responses_pulled",
            "New or changed responses pulled by polling, by source",
            ["source"],
            registry=self.registry,
        )
        self.routed = Counter(
            "nps_sync_responses_routed",
            "Responses routed through the rules, by source (by any pass: poll or real-time)",
            ["source"],
            registry=self.registry,
        )
        self.passes = Histogram(
            "nps_sync_pass_duration_seconds",
            "Duration of the daemon's passes by job (poll, drain, reconcile)",
            ["job"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
            registry=self.registry,
        )
        self.effects = Counter(
            "nps_sync_action_results",
            "What the daemon's passes did with actions, by kind of result",
            ["result"],
            registry=self.registry,
        )
        self.registry.register(_OutboxCollector(store, clock))

    def received(self, source: str, outcome: str) -> None:
        self.webhooks.labels(source, outcome).inc()
        if outcome == "stored":
            self.responses.labels(source, "webhook").inc()

    def rejected(self, source: str, reason: str) -> None:
        self.rejections.labels(source, reason).inc()

    def store_failed(self, source: str) -> None:
        self.store_failures.labels(source).inc()

    def observe(self, job: str, report: RunReport) -> None:
        """A finished pass: its duration, what it pulled and what it did with actions."""
        self.passes.labels(job).observe(report.seconds)
        for source, outcome in report.polls.items():
            self.polls.labels(source, outcome).inc()
        for source, count in report.pulled_by_source.items():
            self.pulled.labels(source).inc(count)
            if count:
                self.responses.labels(source, "poll").inc(count)
        for source, count in report.routed_by_source.items():
            self.routed.labels(source).inc(count)
        for result in (
            "tasks_created",
            "tickets_created",
            "tickets_attached",
            "found_existing",
            "notifications_sent",
            "retried",
            "deferred",
            "dead",
        ):
            count = getattr(report, result)
            if count:
                self.effects.labels(result).inc(count)

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format."""
        return generate_latest(self.registry)
