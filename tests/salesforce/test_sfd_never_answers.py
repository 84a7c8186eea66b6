"""An org that never answers a Task create ends its actions in the dead letters, with none twice.

Every sObject Collections create is dropped before Salesforce does anything with it (``reset``):
the client only knows it got no answer. Each time, the actions are held until the settle window
has passed and looked up; a create that got no answer and still had not taken effect then
failed, and counts towards ``max_attempts`` as any other retryable failure does. The failure
that reaches it ends the action in the dead letters, saying that Salesforce never answered,
instead of sending it once more. Put back in the queue (``nps-sync failed retry``), an action
is looked up before anything is sent: a Task that exists by then is adopted, not made again.
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

TIMEOUT = 0.25
SETTLE = timedelta(seconds=0.3)
MAX_ATTEMPTS = 3
FAST = RetryPolicy(attempts=3, initial_wait=0.001, max_wait=0.01)
MARKER = "NPS_Sync_Key__c"


@pytest.fixture
def impatient(
    org: SalesforceEmulator, relay: tuple[Relay, EmulatorServer]
) -> Iterator[SalesforceConnector]:
    _, server = relay
    session = make_session(dict.fromkeys(ORIGINS, server.url), timeout=TIMEOUT)
    yield SalesforceConnector.connect(PASSWORD_LOGIN, session=session)
    session.close()


def enqueue(store: StateStore, owner: str) -> list[str]:
    payload = {
        "subject": "NPS 2: call back",
        "description": "Comment: nobody answers",
        "owner_id": owner,
        "due_in_seconds": 86_400,
    }
    intents = [
        ActionIntent(
            k, "delighted", f"resp-{k}", "detractors", "task", "salesforce_task", payload, "h"
        )
        for k in ("task-a", "task-b")
    ]
    store.outbox.enqueue(intents, datetime.now(UTC))
    return [i.key for i in intents]


def drain_once(crm: SalesforceConnector, store: StateStore, claim_ahead: timedelta) -> None:
    """One act stage, claiming as if ``claim_ahead`` later (what is held or backing off is
    due); the executor keeps the real time the window is measured in."""
    settings = TaskSettings(context_template="", settle_window=SETTLE, max_attempts=MAX_ATTEMPTS)
    drain(
        store,
        [SalesforceTaskExecutor(crm, FAST, store=store, settings=settings)],
        owner="worker",
        lease=timedelta(minutes=5),
        max_failures=MAX_ATTEMPTS,
        now=lambda: datetime.now(UTC) + claim_ahead,
    )


def tasks_per_key(org: SalesforceEmulator) -> Counter[str]:
    return Counter(t[MARKER] for t in org.records("Task"))


def test_an_org_that_never_answers_ends_in_the_dead_letters_and_a_retry_adopts_what_exists(
    org: SalesforceEmulator, impatient: SalesforceConnector, store: StateStore
) -> None:
    keys = enqueue(store, org.default_user_id)
    org.inject(Fault("reset", rate=1.0, endpoint="^composite_create$"))

    for hour in range(1, MAX_ATTEMPTS + 3):  # more passes than it takes: nothing after the end
        drain_once(impatient, store, timedelta(hours=hour))
        time.sleep(SETTLE.total_seconds() + 0.05)

    rows = store.outbox.actions(keys=keys)
    assert {(r.status, r.failures) for r in rows} == {("dead", MAX_ATTEMPTS)}
    assert org.calls["composite_create"] == MAX_ATTEMPTS  # one create per failure, no more
    for row in rows:
        assert (row.last_error or "").startswith("Salesforce never answered")
        assert f"response delighted/{row.response_id}" in (row.last_error or "")
    assert {r.key for r in store.outbox.actions(status="dead")} == set(keys)
    assert tasks_per_key(org) == Counter()

    # The operator fixes the org and puts them back; one Task turned up meanwhile.
    org.clear_faults()
    made = org.insert_record(
        "Task", {MARKER: keys[0], "Subject": "NPS 2: call back", "OwnerId": org.default_user_id}
    )
    assert store.outbox.revive(None, datetime.now(UTC)) == 2
    drain_once(impatient, store, timedelta(hours=MAX_ATTEMPTS + 3))

    after = {r.key: r for r in store.outbox.actions(keys=keys)}
    assert {r.status for r in after.values()} == {"done"}
    (adopted,) = [t for t in org.records("Task") if t[MARKER] == keys[0]]
    assert after[keys[0]].external_id == adopted["Id"]
    assert adopted["Id"].startswith(made[:15])
    assert tasks_per_key(org) == Counter(dict.fromkeys(keys, 1))
    assert org.calls["composite_create"] == MAX_ATTEMPTS + 1
