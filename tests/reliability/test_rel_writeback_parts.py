"""A write-back call that fails part way keeps what its other parts wrote.

The field write-back sends Zendesk users and organizations in ``update_many`` jobs of 100 and
Salesforce contacts and accounts in collections of 200. When one job or collection of several
fails, the others' values are remembered as written: the retry, or the next pass, sends only the
part that failed, and the fields end as a clean run leaves them (a reconcile, which reads every
field back, finds nothing to repair). Real clients against the emulators, one request of one
endpoint failed on purpose.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from emulators.base import EmulatorApp, Fault
from emulators.world import EmulatedWorld
from rules import load_rules
from sync.app.engine import Engine, RunReport
from sync.app.runtime import connect_all, open_store
from sync.core.config import Config
from sync.core.retry import RetryPolicy
from sync.fields.fieldmap import suggested_mapping
from sync.stages.writeback import reconcile
from sync.state import StateStore

#: 250 accounts and 400 answers: a write-back of several jobs and collections per system.
SEED, ACCOUNTS, RESPONSES = 5, 250, 400
#: Each pass tries each call once: what a failure leaves is the next pass's work.
ONCE = RetryPolicy(attempts=1)
#: Retried in the pass, as the daemon does.
RETRIED = RetryPolicy(attempts=3, initial_wait=0.01, max_wait=1.0)


def fail_nth(app: EmulatorApp, endpoint: str, nth: int, kind: str = "500") -> None:
    """Fail the ``nth`` request (from 1) to ``endpoint`` from now on, once, with ``kind``."""
    seen = 0

    def observe(name: str, phase: str) -> None:
        nonlocal seen
        if name == endpoint and phase == "received":
            seen += 1
            if seen == nth:
                app.inject(Fault(kind, count=1, endpoint=f"^{endpoint}$"))

    app.observers.append(observe)


@pytest.fixture
def world() -> Iterator[EmulatedWorld]:
    with EmulatedWorld(seed=SEED, accounts=ACCOUNTS, responses=RESPONSES) as w:
        yield w


@pytest.fixture
def config(world: EmulatedWorld, tmp_path: Path) -> Config:
    data = world.config_data(state_url=f"sqlite:///{tmp_path / 'state.db'}")
    data["write_back"] = suggested_mapping(history=False)
    return Config.model_validate(data)


@pytest.fixture
def store(config: Config) -> Iterator[StateStore]:
    store = open_store(config)
    yield store
    store.close()


def engine(config: Config, store: StateStore, retry: RetryPolicy) -> Engine:
    return Engine(config, store, connect_all(config), load_rules(config.rules), retry=retry)


def write_back(sync: Engine) -> RunReport:
    """The write-back stage of one pass."""
    report = RunReport()
    sync.write_back(report)
    return report


def first_pass(
    world: EmulatedWorld, config: Config, store: StateStore, endpoint: str, nth: int
) -> Engine:
    """Route everything, then write back with the ``nth`` ``endpoint`` write failing; the
    counters then start from zero."""
    sync = engine(config, store, ONCE)
    sync.poll()
    app = world.zendesk if endpoint.endswith("_update_many") else world.salesforce
    fail_nth(app, endpoint, nth)
    assert write_back(sync).errors, "the failed write is reported"
    assert store.write_backs.queued(), "and its records stay queued"
    world.zendesk.reset_counters()
    world.salesforce.reset_counters()
    return sync


def assert_fields_right(world: EmulatedWorld, config: Config, store: StateStore) -> None:
    """Every field holds its value: the reconcile reads them all back and repairs nothing."""
    conn = connect_all(config)
    stats = reconcile(store, config, conn.crm, conn.helpdesk, ONCE, datetime.now(UTC))
    assert (stats.errors, stats.drift, stats.updated) == ([], 0, {})


def test_rel_a_failed_update_many_is_the_only_zendesk_chunk_the_next_pass_sends(
    world: EmulatedWorld, config: Config, store: StateStore
) -> None:
    # Organizations go first (two jobs), then users (three): the users' second job fails.
    sync = first_pass(world, config, store, "users_update_many", 2)

    report = write_back(sync)

    assert report.errors == []
    assert not store.write_backs.queued()
    assert world.zendesk.calls["users_update_many"] == 1  # the chunk that failed, alone
    assert world.zendesk.calls["organizations_update_many"] == 0
    assert world.salesforce.calls["composite_update"] == 0
    assert_fields_right(world, config, store)


def test_rel_a_failed_collection_is_the_only_salesforce_part_the_next_pass_sends(
    world: EmulatedWorld, config: Config, store: StateStore
) -> None:
    # Accounts go first (one collection), then contacts (two): the contacts' second fails.
    sync = first_pass(world, config, store, "composite_update", 3)

    report = write_back(sync)

    assert report.errors == []
    assert not store.write_backs.queued()
    assert world.salesforce.calls["composite_update"] == 1  # the collection that failed
    assert world.zendesk.calls.get("users_update_many", 0) == 0
    assert world.zendesk.calls.get("organizations_update_many", 0) == 0
    assert_fields_right(world, config, store)


def test_rel_a_retry_in_the_pass_sends_only_the_failed_chunk(
    world: EmulatedWorld, config: Config, store: StateStore
) -> None:
    sync = engine(config, store, RETRIED)
    sync.poll()
    world.zendesk.reset_counters()
    fail_nth(world.zendesk, "users_update_many", 2, kind="503")

    report = write_back(sync)

    assert report.errors == []
    assert not store.write_backs.queued()
    users = world.zendesk.calls["users_update_many"]
    assert users == 4  # three jobs, and the one refused sent again
    assert world.zendesk.calls["organizations_update_many"] == 2
    assert_fields_right(world, config, store)


def test_rel_retries_start_over_while_they_get_more_collections_written(
    world: EmulatedWorld, config: Config, store: StateStore
) -> None:
    """The contacts' first collection fails twice and their second once: three failures in a
    call of three tries, one part at a time. Before, the tries were shared by the whole call
    and ran out with the second collection unsent; now the tries that wrote the first start
    over for the second, and nothing waits for the next pass."""
    sync = engine(config, store, RETRIED)
    sync.poll()
    world.salesforce.reset_counters()
    # Accounts go first (one collection, request 1), then contacts (two).
    for nth in (2, 3, 5):
        fail_nth(world.salesforce, "composite_update", nth)

    report = write_back(sync)

    assert report.errors == []
    assert not store.write_backs.queued()
    assert world.salesforce.calls["composite_update"] == 6
    assert_fields_right(world, config, store)
