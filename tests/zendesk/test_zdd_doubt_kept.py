"""A doubt is kept until something resolves it: a batch that is told to wait does not forget it.

A bulk submit gets no answer while its job is queued (``late``): the tickets are held until the
settle window has passed. If the next batch of the same actions is deferred as a whole (a 429
with a long ``Retry-After`` on the lookup every attempt makes first), nothing about the earlier
submit was learnt: the batch after it must still hold the tickets, not look them up while the
job is still queued, miss them and submit them a second time.
"""

from __future__ import annotations

import time
from datetime import timedelta

from emulators.base import Fault
from sync.stages.executors.zendesk import TicketSettings
from sync.state import StateStore
from tests.zendesk.bulk_jobs import drain_as, effects, job_connector
from tests.zendesk.conftest import ANA, BEN, CAL, Outbox, Serve, ticket_payload

#: The client's patience, how long the lost answer hangs, when the queued job runs after its
#: submit, and the settle window of the engine (longer than the job's wait).
TIMEOUT = 0.3
HANG = 0.4
JOB_SECONDS = 2.5
SETTLE = timedelta(seconds=3.2)


def test_a_batch_deferred_as_a_whole_keeps_its_tickets_held_and_each_ticket_exists_once(
    serve: Serve, store: StateStore, outbox: Outbox
) -> None:
    emulator, url = serve(
        job_apply="on_completion",
        job_polls_to_complete=10_000,
        job_seconds_to_complete=JOB_SECONDS,
    )
    desk = job_connector(url, job_timeout=5.0, timeout=TIMEOUT)
    settings = TicketSettings(settle_window=SETTLE)
    keys = [outbox.add(p, ticket_payload(p, attach=True)) for p in (ANA, BEN, CAL)]
    emulator.inject(Fault("late", count=1, endpoint="^tickets_create_many$", hang_seconds=HANG))

    drain_as("worker", desk, store, timedelta(0), settings)  # queued; the answer is lost
    sent = time.monotonic()
    assert {(r.status, r.failures) for r in store.outbox.actions(keys=keys)} == {("pending", 0)}

    # The lookup every attempt of these actions makes first is told to wait a minute.
    emulator.inject(Fault("429", count=1, endpoint="^tickets_list$", retry_after=60))
    drain_as("worker", desk, store, timedelta(minutes=5), settings)
    assert all("429" in (r.last_error or "") for r in store.outbox.actions(keys=keys))

    # The minute has passed, the job has not run yet: the tickets are still held.
    drain_as("worker", desk, store, timedelta(minutes=10), settings)
    assert emulator.calls["tickets_create_many"] == 1
    assert time.monotonic() - sent < JOB_SECONDS, "too slow to test the job still queued"
    assert {r.status for r in store.outbox.actions(keys=keys)} == {"pending"}

    time.sleep(max(0.0, SETTLE.total_seconds() + 0.05 - (time.monotonic() - sent)))
    drain_as("worker", desk, store, timedelta(minutes=15), settings)

    assert [effects(emulator, k) for k in keys] == [1, 1, 1]
    rows = store.outbox.actions(keys=keys)
    assert {(r.status, r.failures) for r in rows} == {("done", 0)}
    assert emulator.calls["tickets_create_many"] == 1
