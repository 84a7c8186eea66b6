"""/metrics counts, per survey source, the polls (by how they ended), the responses pulled and
the responses routed: a pass of the real engine against the emulators, scraped as Prometheus
would read it."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from emulators.base import Fault
from emulators.world import EmulatedWorld
from rules import load_rules
from sync.app.engine import Engine
from sync.app.runtime import connect_all, open_store
from sync.app.telemetry import Telemetry
from sync.core.config import Config
from sync.core.retry import RetryPolicy
from tests.support import acting_on_the_seeded_year

ONE_TRY = RetryPolicy(attempts=1, initial_wait=0.01, max_wait=0.01)


def samples(telemetry: Telemetry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = telemetry.exposition().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_polls_pulled_and_routed_are_counted_per_source(tmp_path: Path) -> None:
    with EmulatedWorld(seed=8, accounts=8, responses=25) as world:
        data = world.config_data(
            state_url=f"sqlite:///{tmp_path / 'state.db'}", routing=acting_on_the_seeded_year()
        )
        config = Config.model_validate(data)
        store = open_store(config)
        engine = Engine(config, store, connect_all(config), load_rules(config.rules), retry=ONE_TRY)
        telemetry = Telemetry(store)
        try:
            telemetry.observe("poll", engine.poll())
            world.delighted.inject(Fault("500", rate=1.0))
            telemetry.observe("poll", engine.poll())
        finally:
            store.close()

    seen = samples(telemetry)
    source = (("source", "delighted"),)
    assert seen[("nps_sync_source_polls_total", (("outcome", "ok"), *source))] == 1
    assert seen[("nps_sync_source_polls_total", (("outcome", "error"), *source))] == 1
    assert seen[("nps_sync_responses_pulled_total", source)] == 25
    assert seen[("nps_sync_responses_routed_total", source)] == 25
    assert seen[("nps_sync_responses_received_total", (*source, ("via", "poll")))] == 25
