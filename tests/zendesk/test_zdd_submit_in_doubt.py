"""A bulk job whose submit got no answer is never sent again while Zendesk may still run it.

Zendesk queues a ``create_many`` or ``update_many`` job when it accepts the request and applies
it when the job runs. Here the emulator does the same (``job_apply="on_completion"``) and the
answer to the submit is lost once the job is queued (``late``): the client never learns the
job's id. Or the connection drops before anything was queued (``reset``): either way the client
only knows it got no answer. The actions are looked up at once, then held (a deferral, no failure
counted) until the settle window has passed since the submit; a job that ran meanwhile is
adopted, and only a lookup after the window that still finds nothing sends them again. Each
ticket or comment exists once.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from connectors.zendesk.client import ZendeskConnector
from emulators.base import Fault
from sync.stages.act import DrainStats
from sync.stages.executors.zendesk import TicketSettings
from sync.state import StateStore
from tests.zendesk.bulk_jobs import WRITES, bulk_actions, effects, job_connector
from tests.zendesk.bulk_jobs import drain_as as drain_with
from tests.zendesk.conftest import Outbox, Serve

#: The client's patience for an answer, how long the lost answer hangs before the connection
#: drops, how long after its submit the job runs, and the settle window of the engine.
TIMEOUT = 0.3
HANG = 0.4
JOB_SECONDS = 1.2
SETTLE = timedelta(seconds=1.8)


def connector(url: str) -> ZendeskConnector:
    return job_connector(url, job_timeout=5.0, timeout=TIMEOUT)


def drain_as(owner: str, desk: ZendeskConnector, store: StateStore, later: timedelta) -> DrainStats:
    return drain_with(owner, desk, store, later, TicketSettings(settle_window=SETTLE))


@pytest.mark.parametrize(
    ("fault", "queued"),
    [("late", True), ("reset", False)],
    ids=["queued-answer-lost", "never-queued"],
)
@pytest.mark.parametrize("case", sorted(WRITES))
def test_an_unanswered_job_submit_waits_out_the_settle_window_and_each_effect_exists_once(
    serve: Serve, store: StateStore, outbox: Outbox, case: str, fault: str, queued: bool
) -> None:
    emulator, url = serve(
        job_apply="on_completion",
        job_polls_to_complete=10_000,
        job_seconds_to_complete=JOB_SECONDS,
    )
    desk = connector(url)
    keys = bulk_actions(case, outbox, desk, store)
    emulator.inject(Fault(fault, count=1, endpoint=f"^{WRITES[case]}$", hang_seconds=HANG))

    first = drain_as("worker-a", desk, store, timedelta(0))  # no answer to the submit
    sent = time.monotonic()  # the submit left before this
    rows = store.outbox.actions(keys=keys)
    assert {(r.status, r.failures) for r in rows} == {("pending", 0)}  # held, not failed
    # The pass says when they are due again, apart from what a system asked us to wait for.
    assert (set(first.held_until), first.deferred_until) == ({"zendesk"}, {})
    assert first.held_until["zendesk"] == max(r.next_attempt_at for r in rows)
    assert all("no answer" in (r.last_error or "") for r in rows)
    assert emulator.calls[WRITES[case]] == 1

    # Another worker takes them over within the window: it waits too, or adopts what the job
    # made if it has run already; it sends nothing.
    drain_as("worker-b", desk, store, timedelta(minutes=5))
    if not queued:
        assert {r.status for r in store.outbox.actions(keys=keys)} == {"pending"}
    assert emulator.calls[WRITES[case]] == 1

    time.sleep(max(0.0, SETTLE.total_seconds() + 0.05 - (time.monotonic() - sent)))
    drain_as("worker-b", desk, store, timedelta(minutes=10))

    assert [effects(emulator, k) for k in keys] == [1, 1, 1]
    assert {r.status for r in store.outbox.actions(keys=keys)} == {"done"}
    assert emulator.calls[WRITES[case]] == (1 if queued else 2)


@pytest.mark.parametrize("case", sorted(WRITES))
def test_an_account_that_never_answers_ends_the_actions_in_the_dead_letters_with_nothing_twice(
    serve: Serve, store: StateStore, outbox: Outbox, case: str
) -> None:
    """Each submit that got no answer and had not taken effect once the window passed counts
    a failure; the ``max_attempts``-th ends the action instead of another submit."""
    emulator, url = serve()
    desk = connector(url)
    keys = bulk_actions(case, outbox, desk, store)
    emulator.inject(Fault("reset", rate=1.0, endpoint=f"^{WRITES[case]}$"))
    window = timedelta(seconds=0.3)
    settings = TicketSettings(settle_window=window, max_attempts=3)

    for minutes in range(1, 7):
        drain_with("worker", desk, store, timedelta(minutes=minutes), settings)
        time.sleep(window.total_seconds() + 0.05)

    rows = store.outbox.actions(keys=keys)
    assert {(r.status, r.failures) for r in rows} == {("dead", 3)}
    assert all((r.last_error or "").startswith("Zendesk never answered") for r in rows)
    assert emulator.calls[WRITES[case]] == 3
    assert [effects(emulator, k) for k in keys] == [0, 0, 0]
