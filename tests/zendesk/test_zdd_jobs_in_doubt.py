"""A bulk job we lost track of is waited for, never sent again while it may still run.

Zendesk applies a ``create_many`` or ``update_many`` job when it runs, not when it accepts it.
Here the emulator does the same (``job_apply="on_completion"``) and the job outlives the
connector's patience, or its status polls fail: the actions wait (deferred, no failure counted)
while the job runs, a second worker taking them over waits too, and once the job has run they are
found done. Each ticket or comment exists once, and the write was sent once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

import pytest

from connectors.zendesk.client import ZendeskConnector
from emulators.base import Fault
from emulators.zendesk import ZendeskEmulator
from sync.state import StateStore
from tests.zendesk.bulk_jobs import WRITES, bulk_actions, drain_as, effects, job_connector
from tests.zendesk.conftest import Outbox, Serve

#: The job runs this long after it is accepted, whatever the polls say.
JOB_SECONDS = 1.5


def connector(url: str, *, job_timeout: float) -> ZendeskConnector:
    return job_connector(url, job_timeout=job_timeout)


Stall = Callable[[ZendeskEmulator], None]


def slow_job(emulator: ZendeskEmulator) -> None:
    """Polls never finish the job: it ends only when its time comes."""


def lost_status(emulator: ZendeskEmulator) -> None:
    """Every status poll fails: the job runs unseen."""
    emulator.inject(Fault("500", rate=1.0, endpoint="^job_statuses"))


@pytest.mark.parametrize("stall", [slow_job, lost_status], ids=["slow-job", "lost-status"])
@pytest.mark.parametrize("case", sorted(WRITES))
def test_an_action_whose_job_may_still_run_waits_for_it_and_is_done_once(
    serve: Serve, store: StateStore, outbox: Outbox, case: str, stall: Stall
) -> None:
    emulator, url = serve(
        job_apply="on_completion",
        job_polls_to_complete=10_000,
        job_seconds_to_complete=JOB_SECONDS,
    )
    desk = connector(url, job_timeout=0.3)
    keys = bulk_actions(case, outbox, desk, store)
    stall(emulator)
    submitted = time.monotonic()

    drain_as("worker-a", desk, store, timedelta(0))  # the job is accepted, then lost sight of
    rows = store.outbox.actions(keys=keys)
    assert {r.status for r in rows} == {"pending"}
    if stall is slow_job:
        assert {r.failures for r in rows} == {0}  # waiting on Zendesk is not a failure
    assert [effects(emulator, k) for k in keys] == [0, 0, 0]  # not applied yet

    # A second worker, after the deferral: the job still runs, so it waits too.
    drain_as("worker-b", desk, store, timedelta(minutes=1))
    assert {r.status for r in store.outbox.actions(keys=keys)} == {"pending"}
    assert emulator.calls[WRITES[case]] == 1

    time.sleep(max(0.0, JOB_SECONDS + 0.2 - (time.monotonic() - submitted)))
    emulator.clear_faults()
    drain_as("worker-b", desk, store, timedelta(minutes=2))  # the job has run: found, done

    assert [effects(emulator, k) for k in keys] == [1, 1, 1]
    assert {r.status for r in store.outbox.actions(keys=keys)} == {"done"}
    assert emulator.calls[WRITES[case]] == 1


def test_a_job_zendesk_no_longer_knows_has_ended_and_its_records_are_looked_up(
    serve: Serve, store: StateStore, outbox: Outbox
) -> None:
    emulator, url = serve(
        job_apply="on_completion",
        job_polls_to_complete=10_000,
        job_seconds_to_complete=JOB_SECONDS,
    )
    desk = connector(url, job_timeout=0.3)
    keys = bulk_actions("tickets", outbox, desk, store)
    drain_as("worker-a", desk, store, timedelta(0))
    emulator.clock.advance(2 * 3600)  # the job ran and its status expired

    drain_as("worker-b", desk, store, timedelta(minutes=1))

    assert [effects(emulator, k) for k in keys] == [1, 1, 1]
    assert {r.status for r in store.outbox.actions(keys=keys)} == {"done"}
    assert emulator.calls[WRITES["tickets"]] == 1
