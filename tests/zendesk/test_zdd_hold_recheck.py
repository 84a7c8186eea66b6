"""Tickets and comments held after a bulk submit that got no answer are looked for again in a few
requests.

Zendesk finds a ticket by ``external_id`` one request each, so a hold of 50 tickets looked up
every minute would cost 50 requests a minute of the account's budget for as long as the hold
lasts. Search is no substitute: its index lags, so it cannot show that a ticket was not made.
The incremental ticket export from just before the submit shows every ticket changed since, a
thousand a request: the held tickets are rechecked from it, what it shows is adopted, what it
misses stays held, and only the lookup after the window lets a ticket be created again. Comments
are the same: a ticket's comments are read one request each, the ticket event export shows the
comments added to every ticket since, a thousand updates a request.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta

import pytest

from connectors.zendesk.client import ZendeskConnector
from emulators.base import Fault
from emulators.zendesk import ZendeskEmulator
from sync.stages.executors.zendesk import TicketSettings
from sync.state import StateStore
from tests.zendesk.bulk_jobs import bulk_actions, effects, job_connector
from tests.zendesk.bulk_jobs import drain_as as drain_with
from tests.zendesk.conftest import PEOPLE, Outbox, Serve, ticket_payload

HELD = 50
#: The client's patience, how long the lost answer hangs, and how long after its submit the
#: queued job runs; the settle window is Zendesk's default hour.
TIMEOUT = 0.3
HANG = 0.4
JOB_SECONDS = 0.8
#: Endpoints that find tickets: one ticket by ``external_id``, or the incremental export.
LOOKUPS = ("tickets_list", "incremental_tickets")


#: A bulk submit whose answer is lost after its job was queued, or that never reached Zendesk.
LOST_SUBMITS = [("late", True), ("reset", False)]


@pytest.fixture
def queued_jobs(serve: Serve) -> tuple[ZendeskEmulator, ZendeskConnector]:
    """An emulator whose bulk jobs run :data:`JOB_SECONDS` after their submit, and a connector
    that waits :data:`TIMEOUT` for an answer."""
    emulator, url = serve(
        job_apply="on_completion",
        job_polls_to_complete=10_000,
        job_seconds_to_complete=JOB_SECONDS,
    )
    return emulator, job_connector(url, job_timeout=5.0, timeout=TIMEOUT)


def lookups(
    calls: Counter[str], before: Counter[str], names: tuple[str, ...] = LOOKUPS
) -> dict[str, int]:
    return {name: calls[name] - before[name] for name in names}


@pytest.mark.parametrize(
    ("fault", "queued"), LOST_SUBMITS, ids=["queued-answer-lost", "never-queued"]
)
def test_a_hold_of_fifty_tickets_is_rechecked_in_one_request_and_each_ticket_exists_once(
    queued_jobs: tuple[ZendeskEmulator, ZendeskConnector],
    store: StateStore,
    outbox: Outbox,
    fault: str,
    queued: bool,
) -> None:
    emulator, desk = queued_jobs
    keys = [outbox.add(p, ticket_payload(p)) for p in (PEOPLE * HELD)[:HELD]]
    emulator.inject(Fault(fault, count=1, endpoint="^tickets_create_many$", hang_seconds=HANG))
    settings = TicketSettings()

    before = Counter(emulator.calls)
    drain_with("worker-a", desk, store, timedelta(0), settings)  # no answer to the submit
    assert {r.status for r in store.outbox.actions(keys=keys)} == {"pending"}
    assert emulator.calls["tickets_create_many"] == 1
    first = lookups(emulator.calls, before)

    time.sleep(JOB_SECONDS + 0.2)  # a queued job has run by now
    before = Counter(emulator.calls)
    drain_with("worker-b", desk, store, timedelta(minutes=2), settings)  # the first recheck
    recheck = emulator.calls - before

    assert first == {"tickets_list": 0, "incremental_tickets": 1}  # was 50 lookups, one each
    # One request (was 50 lookups and the held tickets' context): the names the executor
    # resolves once aside.
    assert dict(recheck - Counter(ticket_fields=1)) == {"incremental_tickets": 1}
    rows = store.outbox.actions(keys=keys)
    if queued:  # what the lost job made is adopted from the export
        assert {(r.status, r.failures) for r in rows} == {("done", 0)}
        assert [effects(emulator, k) for k in keys] == [1] * HELD
    else:  # nothing made: still held, nothing sent again
        assert {(r.status, r.failures) for r in rows} == {("pending", 0)}
        assert [effects(emulator, k) for k in keys] == [0] * HELD
    assert emulator.calls["tickets_create_many"] == 1


def test_while_the_exports_are_told_to_wait_held_tickets_stay_held_at_no_cost(
    serve: Serve, store: StateStore, outbox: Outbox
) -> None:
    """A 429 on the export is not a failure of the held tickets nor a deferral of the rest."""
    emulator, url = serve()
    desk = job_connector(url, job_timeout=5.0, timeout=TIMEOUT)
    keys = [outbox.add(p, ticket_payload(p)) for p in (PEOPLE * HELD)[:HELD]]
    emulator.inject(Fault("reset", count=1, endpoint="^tickets_create_many$"))
    emulator.inject(Fault("429", count=1, endpoint="^incremental_tickets$", retry_after=600))
    settings = TicketSettings()

    drain_with("worker", desk, store, timedelta(0), settings)  # submit lost, export says wait
    before = Counter(emulator.calls)
    drain_with("worker", desk, store, timedelta(minutes=2), settings)  # exports still paused

    assert lookups(emulator.calls, before) == {"tickets_list": 0, "incremental_tickets": 0}
    rows = store.outbox.actions(keys=keys)
    assert {(r.status, r.failures) for r in rows} == {("pending", 0)}
    assert all("no answer" in (r.last_error or "") for r in rows)
    assert emulator.calls["tickets_create_many"] == 1


#: Endpoints that find comments: one ticket's comments, or the ticket event export.
COMMENT_LOOKUPS = ("tickets_comments", "incremental_ticket_events")


@pytest.mark.parametrize(
    ("fault", "queued"), LOST_SUBMITS, ids=["queued-answer-lost", "never-queued"]
)
def test_held_comments_on_several_tickets_are_rechecked_in_one_request_and_added_once(
    queued_jobs: tuple[ZendeskEmulator, ZendeskConnector],
    store: StateStore,
    fault: str,
    queued: bool,
) -> None:
    emulator, desk = queued_jobs
    keys = bulk_actions("comments", Outbox(store), desk, store)  # three tickets, a comment each
    emulator.inject(Fault(fault, count=1, endpoint="^tickets_update_many$", hang_seconds=HANG))
    settings = TicketSettings()

    before = Counter(emulator.calls)
    drain_with("worker-a", desk, store, timedelta(0), settings)  # no answer to the submit
    first = lookups(emulator.calls, before, COMMENT_LOOKUPS)
    assert {r.status for r in store.outbox.actions(keys=keys)} == {"pending"}

    time.sleep(JOB_SECONDS + 0.2)  # a queued job has run by now
    before = Counter(emulator.calls)
    drain_with("worker-b", desk, store, timedelta(minutes=2), settings)  # the first recheck
    recheck = lookups(emulator.calls, before, COMMENT_LOOKUPS)

    assert first == {"tickets_comments": 0, "incremental_ticket_events": 1}  # was one a ticket
    assert recheck == {"tickets_comments": 0, "incremental_ticket_events": 1}
    rows = store.outbox.actions(keys=keys)
    if queued:  # what the lost job added is adopted from the export
        assert {(r.status, r.failures) for r in rows} == {("done", 0)}
        assert [effects(emulator, k) for k in keys] == [1, 1, 1]
    else:  # nothing added: still held, nothing sent again
        assert {(r.status, r.failures) for r in rows} == {("pending", 0)}
        assert [effects(emulator, k) for k in keys] == [0, 0, 0]
    assert emulator.calls["tickets_update_many"] == 1


def test_held_comments_are_looked_for_in_each_ticket_once_their_window_has_passed(
    serve: Serve, store: StateStore
) -> None:
    """The export may miss a comment (it leaves out the last minute): after the window, each
    ticket's own comments decide, and a comment that is not there is sent again, once."""
    emulator, url = serve()
    desk = job_connector(url, job_timeout=5.0, timeout=TIMEOUT)
    keys = bulk_actions("comments", Outbox(store), desk, store)
    emulator.inject(Fault("reset", count=1, endpoint="^tickets_update_many$"))
    settings = TicketSettings(settle_window=timedelta(seconds=1))
    drain_with("worker-a", desk, store, timedelta(0), settings)  # lost before it was queued
    assert emulator.calls["incremental_ticket_events"] == 1  # looked for there: held

    time.sleep(1.2)
    before = Counter(emulator.calls)
    drain_with("worker-b", desk, store, timedelta(minutes=2), settings)

    looked = lookups(emulator.calls, before, COMMENT_LOOKUPS)
    assert looked == {"tickets_comments": 3, "incremental_ticket_events": 0}
    assert [effects(emulator, k) for k in keys] == [1, 1, 1]
    assert {r.status for r in store.outbox.actions(keys=keys)} == {"done"}
