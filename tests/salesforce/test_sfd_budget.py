"""The API budget: a run stops at the reserve kept for other integrations, says what it left,
and the next run (once the allowance allows) finishes exactly that, nothing twice."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from connectors.errors import DeferError
from connectors.models import FieldUpdate
from connectors.salesforce.client import SalesforceConnector
from connectors.salesforce.limits import ApiReserve, ApiUsage, UsageMeter, parse_limit_info
from emulators.base import Fault
from emulators.salesforce import SalesforceEmulator
from emulators.world import EmulatedWorld
from rules import load_rules
from sync.app.engine import Engine, RunReport
from sync.app.runtime import connect_all, open_store
from sync.core.config import Config
from sync.core.retry import RetryPolicy
from tests.salesforce.conftest import ConnectorFactory
from tests.support import acting_on_the_seeded_year

FAST = RetryPolicy(attempts=3, initial_wait=0.001, max_wait=0.01)


@pytest.mark.parametrize(
    ("header", "usage"),
    [
        ("api-usage=18/5000", ApiUsage(18, 5000)),
        ("api-usage=25/5000; per-app-api-usage=17/250(appName=sample)", ApiUsage(25, 5000)),
        ("per-app-api-usage=17/250(appName=sample)", None),
        ("garbage", None),
    ],
)
def test_the_limit_header_is_read(header: str, usage: ApiUsage | None) -> None:
    assert parse_limit_info(header) == usage


@pytest.mark.parametrize(
    ("reserve", "used", "refused"),
    [(0.2, 7_999, False), (0.2, 8_000, True), (0.0, 9_999, False), (0.5, 5_000, True)],
)
def test_the_reserve_draws_the_line(reserve: float, used: int, refused: bool) -> None:
    guard = ApiReserve(reserve)
    if refused:
        with pytest.raises(DeferError, match="API reserve reached"):
            guard.check(ApiUsage(used, 10_000))
        assert guard.consume_stop() is not None
        assert guard.consume_stop() is None
    else:
        guard.check(ApiUsage(used, 10_000))
        assert guard.consume_stop() is None
    guard.check(None)  # unknown usage never refuses


def test_an_old_reading_no_longer_decides() -> None:
    now = [100.0]
    meter = UsageMeter(clock=lambda: now[0])
    answer = requests.Response()
    answer.headers["Sforce-Limit-Info"] = "api-usage=9/10"
    meter.observe(answer)
    assert meter.fresh(300) == ApiUsage(9, 10)
    now[0] += 301
    assert meter.fresh(300) is None
    assert meter.latest == ApiUsage(9, 10)


def test_the_connector_refuses_calls_past_the_line_without_sending_them(
    org: SalesforceEmulator, connect: ConnectorFactory
) -> None:
    org.daily_limit = 100
    org.api_used = 78
    crm: SalesforceConnector = connect(api_reserve=0.2)
    crm.query_all("SELECT Id FROM Account")
    crm.query_all("SELECT Id FROM Account")
    with pytest.raises(DeferError, match="80 of 100 daily API calls"):
        crm.query_all("SELECT Id FROM Account")
    assert org.api_used == 80
    assert crm.api_usage() == (80, 100)


@pytest.fixture
def world() -> Iterator[EmulatedWorld]:
    with EmulatedWorld(seed=11, accounts=40, responses=150) as w:
        yield w


def engine_for(world: EmulatedWorld, state: Path) -> Engine:
    """A new process: fresh connections (and usage readings) on the same state store."""
    config = Config.model_validate(
        world.config_data(
            state_url=f"sqlite:///{state}", batch_size=50, routing=acting_on_the_seeded_year()
        )
    )
    return Engine(
        config, open_store(config), connect_all(config), load_rules(config.rules), retry=FAST
    )


def test_a_nearly_spent_org_stops_at_the_reserve_and_the_next_run_finishes(
    world: EmulatedWorld, tmp_path: Path
) -> None:
    org = world.salesforce
    org.daily_limit = 10_000
    line = 8_000  # the default reserve keeps 20% for other integrations
    org.api_used = line - 1  # one call left: the first lookups of the pass meet the reserve

    first_engine = engine_for(world, tmp_path / "state.db")
    first = first_engine.run_once()
    first_engine.store.close()
    budget = first.budget
    assert budget is not None
    assert budget["stopped"] is True
    assert (budget["used"], budget["allowance"], budget["reserve"]) == (line, 10_000, 0.2)
    assert budget["deferred_responses"] > 0
    assert budget["deferred_actions"] + budget["deferred_write_backs"] >= 0
    # Not an error: the work waits for the next run, which the report says.
    assert first.errors == []
    assert "salesforce" in first.deferred_until
    assert first.waiting["responses"] == budget["deferred_responses"]
    assert org.api_used == line
    tasks_before = len(org.records("Task"))

    org.api_used = 0  # the rolling window moved on
    second_engine = engine_for(world, tmp_path / "state.db")
    second = second_engine.run_once()
    store = second_engine.store
    assert second.budget is not None
    assert second.budget["stopped"] is False
    assert second.routed == budget["deferred_responses"]
    assert store.inbox.pending(1000, second_engine.clock()) == []
    assert store.write_backs.queued().contacts == {}
    pending_tasks = [a for a in store.outbox.actions() if a.kind == "salesforce_task"]
    assert {a.status for a in pending_tasks} == {"done"}
    markers = [t["NPS_Sync_Key__c"] for t in org.records("Task")]
    assert len(markers) == len(set(markers)) == len(pending_tasks) > tasks_before
    store.close()


def test_a_run_report_shows_usage_when_nothing_stopped(
    world: EmulatedWorld, tmp_path: Path
) -> None:
    engine = engine_for(world, tmp_path / "state.db")
    report: RunReport = engine.run_once()
    engine.store.close()
    assert report.budget is not None
    assert report.budget["stopped"] is False
    assert report.budget["used"] == world.salesforce.api_used


def test_a_spent_allowance_defers_instead_of_failing(
    org: SalesforceEmulator, connect: ConnectorFactory
) -> None:
    crm = connect()  # no reserve of our own: the org's 403 is the only limit
    org.api_used = org.daily_limit
    with pytest.raises(DeferError, match="REQUEST_LIMIT_EXCEEDED") as caught:
        crm.query_all("SELECT Id FROM Account")
    assert caught.value.not_before is not None


def test_a_locked_row_fails_only_its_record_as_retryable(
    org: SalesforceEmulator, crm: SalesforceConnector
) -> None:
    ids = [org.insert_record("Contact", {"LastName": f"P{i}"}) for i in range(3)]
    org.inject(Fault("lock", count=1, endpoint="composite_update"))
    results = crm.update_records([FieldUpdate("Contact", i, {"Title": "CFO"}) for i in ids])
    assert [r.ok for r in results].count(False) == 1
    [locked] = [r for r in results if not r.ok]
    assert locked.code == "UNABLE_TO_LOCK_ROW"
    assert locked.tier == "retry"
