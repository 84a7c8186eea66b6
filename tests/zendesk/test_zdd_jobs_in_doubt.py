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
from datetime import UTC, datetime, timedelta

import pytest

from connectors.transport import make_session
from connectors.zendesk.client import ZendeskConnector, ZendeskCredentials, connect
from emulators.base import Fault
from emulators.zendesk import DEFAULT_AGENT_EMAIL, DEFAULT_TOKEN, ZendeskEmulator
from sync.stages.act import drain
from sync.stages.executors.zendesk import TicketSettings, ZendeskTicketExecutor
from sync.stages.executors.zendesk_comments import marker
from sync.state import StateStore
from tests.zendesk.conftest import ANA, BEN, CAL, FAST_RETRY, PUBLIC, Outbox, Serve, ticket_payload

#: The job runs this long after it is accepted, whatever the polls say.
JOB_SECONDS = 1.5
#: The bulk write of each case: new tickets, or comments on open tickets (one per ticket).
WRITES = {"tickets": "tickets_create_many", "comments": "tickets_update_many"}


def connector(url: str, *, job_timeout: float) -> ZendeskConnector:
    session = make_session({PUBLIC: url}, label="zendesk")
    credentials = ZendeskCredentials("acme", email=DEFAULT_AGENT_EMAIL, token=DEFAULT_TOKEN)
    return ZendeskConnector(
        connect(credentials, session=session), poll_interval=0.01, job_timeout=job_timeout
    )


def drain_as(owner: str, desk: ZendeskConnector, store: StateStore, later: timedelta) -> None:
    executor = ZendeskTicketExecutor(desk, FAST_RETRY, store=store, settings=TicketSettings())
    drain(
        store,
        [executor],
        owner=owner,
        lease=timedelta(minutes=5),
        max_failures=8,
        now=lambda: datetime.now(UTC) + later,
    )


def effects(emulator: ZendeskEmulator, key: str) -> int:
    tickets = [t for t in emulator.tickets() if t.get("external_id") == key]
    comments = sum(
        marker(key) in c["body"] for t in emulator.tickets() for c in emulator.comments(t["id"])
    )
    return len(tickets) + comments


def actions(case: str, outbox: Outbox, desk: ZendeskConnector, store: StateStore) -> list[str]:
    """Three new tickets, or three comments (each on its requester's open ticket)."""
    people = (ANA, BEN, CAL)
    if case == "tickets":
        return [outbox.add(p, ticket_payload(p)) for p in people]
    for person in people:  # one ticket each first, made one request at a time
        outbox.add(person, ticket_payload(person, attach=True, comment="First."))
        drain_as("setup", desk, store, timedelta(0))
    return [outbox.add(p, ticket_payload(p, attach=True, comment="Again.")) for p in people]


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
    keys = actions(case, outbox, desk, store)
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
    keys = actions("tickets", outbox, desk, store)
    drain_as("worker-a", desk, store, timedelta(0))
    emulator.clock.advance(2 * 3600)  # the job ran and its status expired

    drain_as("worker-b", desk, store, timedelta(minutes=1))

    assert [effects(emulator, k) for k in keys] == [1, 1, 1]
    assert {r.status for r in store.outbox.actions(keys=keys)} == {"done"}
    assert emulator.calls[WRITES["tickets"]] == 1
