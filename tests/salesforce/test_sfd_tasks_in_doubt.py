"""A Task create that got no answer is never sent again while Salesforce may still carry it out.

The emulator holds the sObject Collections create longer than the client waits and commits it
afterwards (``held``), as a slow org does with a request its client gave up on; or drops the
connection before doing anything (``reset``). Either way the client only knows it got no answer.
The actions are looked up, then held (a deferral, no failure counted) until the settle window
has passed since the create was sent, also for a second worker that takes them over meanwhile;
then the Tasks that landed are adopted and the missing ones created. Each Task exists once.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from connectors.salesforce.client import SalesforceConnector
from connectors.transport import make_session
from emulators.base import EmulatorServer, Fault
from emulators.salesforce import SalesforceEmulator
from sync.core.retry import RetryPolicy
from sync.stages.act import drain
from sync.stages.executors.salesforce import SalesforceTaskExecutor, TaskSettings
from sync.state import ActionIntent, StateStore
from tests.salesforce.conftest import ORIGINS, PASSWORD_LOGIN, Relay

#: The client's patience, how long the org takes to commit the held create, and how long the
#: engine waits after an unanswered create before it may create again (the org's own limit).
TIMEOUT = 0.5  # room for a loaded machine: at 0.25 s an unfaulted request timed out once
HOLD = 1.0
SETTLE = timedelta(seconds=1.5)
FAST = RetryPolicy(attempts=3, initial_wait=0.001, max_wait=0.01)
MARKER = "NPS_Sync_Key__c"


@pytest.fixture
def impatient(
    org: SalesforceEmulator, relay: tuple[Relay, EmulatorServer]
) -> Iterator[SalesforceConnector]:
    """The real connector on a session that waits :data:`TIMEOUT` for each answer."""
    _, server = relay
    session = make_session(dict.fromkeys(ORIGINS, server.url), timeout=TIMEOUT)
    yield SalesforceConnector.connect(PASSWORD_LOGIN, session=session)
    session.close()


def enqueue(store: StateStore, owner: str, count: int) -> list[str]:
    keys = [f"task-{i}" for i in range(count)]
    payload = {
        "subject": "NPS 3: call back",
        "description": "Comment: too slow",
        "owner_id": owner,
        "due_in_seconds": 86_400,
        "priority": "High",
    }
    intents = [
        ActionIntent(k, "delighted", k, "detractors", "task", "salesforce_task", payload, "hash")
        for k in keys
    ]
    store.outbox.enqueue(intents, datetime.now(UTC))
    return keys


def drain_as(
    owner: str, crm: SalesforceConnector, store: StateStore, claim_ahead: timedelta
) -> None:
    """One act stage of ``owner``; it claims as if ``claim_ahead`` later (so deferred actions are
    due), while the executor keeps the real time the org commits by."""
    executor = SalesforceTaskExecutor(
        crm, FAST, store=store, settings=TaskSettings(context_template="", settle_window=SETTLE)
    )
    drain(
        store,
        [executor],
        owner=owner,
        lease=timedelta(minutes=5),
        max_failures=8,
        now=lambda: datetime.now(UTC) + claim_ahead,
    )


def tasks_per_key(org: SalesforceEmulator) -> Counter[str]:
    return Counter(t[MARKER] for t in org.records("Task"))


@pytest.mark.parametrize(
    ("fault", "landed"),
    [("held", True), ("reset", False)],
    ids=["committed-after-the-timeout", "never-carried-out"],
)
def test_an_unanswered_task_create_waits_out_the_settle_window_and_each_task_exists_once(
    org: SalesforceEmulator,
    impatient: SalesforceConnector,
    store: StateStore,
    fault: str,
    landed: bool,
) -> None:
    keys = enqueue(store, org.default_user_id, 3)
    org.inject(Fault(fault, count=1, endpoint="^composite_create$", hang_seconds=HOLD))
    sent = time.monotonic()

    drain_as("worker-a", impatient, store, timedelta(0))  # no answer within the timeout
    rows = store.outbox.actions(keys=keys)
    assert {(r.status, r.failures) for r in rows} == {("pending", 0)}  # held, not failed
    assert tasks_per_key(org) == Counter()
    doubt = {r.key: r.last_error for r in rows}
    assert all("no answer" in (e or "") for e in doubt.values())

    # Another worker takes them over before the window has passed: it waits too.
    drain_as("worker-b", impatient, store, timedelta(minutes=5))
    assert {r.status for r in store.outbox.actions(keys=keys)} == {"pending"}
    assert org.calls["composite_create"] == 1

    time.sleep(max(0.0, SETTLE.total_seconds() + 0.05 - (time.monotonic() - sent)))
    drain_as("worker-b", impatient, store, timedelta(minutes=10))

    assert tasks_per_key(org) == Counter(dict.fromkeys(keys, 1))
    rows = store.outbox.actions(keys=keys)
    assert {r.status for r in rows} == {"done"}
    assert {r.external_id for r in rows} == {t["Id"] for t in org.records("Task")}
    assert org.calls["composite_create"] == (1 if landed else 2)


def test_tasks_a_crashed_worker_never_sent_go_out_while_its_unanswered_ones_wait(
    org: SalesforceEmulator, crm: SalesforceConnector, store: StateStore
) -> None:
    keys = [f"task-{i:03d}" for i in range(250)]  # claimed in this order
    payload = {
        "subject": "NPS 3: call back",
        "description": "Comment: too slow",
        "owner_id": org.default_user_id,
        "due_in_seconds": 86_400,
        "priority": "High",
    }
    store.outbox.enqueue(
        [
            ActionIntent(k, "delighted", k, "detractors", "task", "salesforce_task", payload, "h")
            for k in keys
        ],
        datetime.now(UTC),
    )
    # A worker sent the first collection of 200 and died before the answer was recorded.
    store.outbox.note_sent(keys[:200], datetime.now(UTC))

    drain_as("worker-b", crm, store, timedelta(0))

    assert set(tasks_per_key(org)) == set(keys[200:])  # sent at once, not after the window
    waiting = store.outbox.actions(keys=keys[:200])
    assert {(r.status, r.failures) for r in waiting} == {("pending", 0)}
