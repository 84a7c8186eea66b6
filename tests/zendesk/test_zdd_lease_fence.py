"""A lease that would run out under a worker still acting must not let a second worker act too.

Worker A claims a ticket or comment action under a one-second lease and is slowed past it: its
write to Zendesk takes longer than the lease. Worker B drains meanwhile. A keeps its lease while
it works, so B takes nothing over, and the ticket or comment exists once. A worker that did lose
its lease (B took the action over and acted) sends nothing: its write is fenced off.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest

from connectors.zendesk.client import ZendeskConnector
from emulators.zendesk import ZendeskEmulator
from sync.stages.act import drain
from sync.stages.executors.zendesk import TicketSettings, ZendeskTicketExecutor
from sync.stages.executors.zendesk_comments import marker
from sync.stages.lease import BatchLease, LeaseLostError
from sync.state import StateStore
from tests.zendesk.conftest import ANA, BEN, FAST_RETRY, ConnectorFactory, Outbox, ticket_payload

LEASE = timedelta(seconds=1)
#: The Zendesk write of each case: two new tickets in a ``create_many`` job (a lone ticket goes
#: with an ``Idempotency-Key``, which Zendesk itself deduplicates); a comment on an open ticket.
WRITES = {"tickets": "tickets_create_many", "comment": "tickets_update"}


def utcnow() -> datetime:
    return datetime.now(UTC)


def executor(desk: ZendeskConnector, store: StateStore) -> ZendeskTicketExecutor:
    return ZendeskTicketExecutor(desk, FAST_RETRY, store=store, settings=TicketSettings())


def drain_as(owner: str, desk: ZendeskConnector, store: StateStore) -> None:
    drain(store, [executor(desk, store)], owner=owner, lease=LEASE, max_failures=8, now=utcnow)


def effects(emulator: ZendeskEmulator, key: str) -> int:
    """Tickets opened for ``key`` plus comments carrying its marker."""
    tickets = [t for t in emulator.tickets() if t.get("external_id") == key]
    comments = sum(
        marker(key) in c["body"] for t in emulator.tickets() for c in emulator.comments(t["id"])
    )
    return len(tickets) + comments


def actions(case: str, outbox: Outbox, desk: ZendeskConnector, store: StateStore) -> list[str]:
    """The keys of the due actions of ``case``: two tickets, or a comment on an open ticket."""
    if case == "tickets":
        return [outbox.add(p, ticket_payload(p)) for p in (ANA, BEN)]
    outbox.add(ANA, ticket_payload(ANA, attach=True, comment="Slow."))
    drain_as("worker-0", desk, store)
    return [outbox.add(ANA, ticket_payload(ANA, attach=True, comment="Still slow."))]


def each_done_once(emulator: ZendeskEmulator, store: StateStore, keys: list[str]) -> None:
    assert [effects(emulator, key) for key in keys] == [1] * len(keys)
    assert {row.status for row in store.outbox.actions(keys=keys)} == {"done"}


class Held:
    """Holds the first request to one endpoint at the emulator until released."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.arrived = threading.Event()
        self.release = threading.Event()

    def __call__(self, endpoint: str, phase: str) -> None:
        if endpoint == self.endpoint and phase == "received" and not self.arrived.is_set():
            self.arrived.set()
            self.release.wait(timeout=30)


@contextmanager
def holding_first(emulator: ZendeskEmulator, endpoint: str) -> Iterator[Held]:
    held = Held(endpoint)
    emulator.observers.append(held)
    try:
        yield held
    finally:
        held.release.set()
        emulator.observers.remove(held)


@pytest.mark.parametrize("case", sorted(WRITES))
def test_a_worker_slowed_past_its_lease_keeps_it_and_acts_alone(
    emulator: ZendeskEmulator,
    make_connector: ConnectorFactory,
    store: StateStore,
    outbox: Outbox,
    case: str,
) -> None:
    keys = actions(case, outbox, make_connector(), store)
    with holding_first(emulator, WRITES[case]) as held:
        worker_a = threading.Thread(target=drain_as, args=("worker-a", make_connector(), store))
        worker_a.start()
        assert held.arrived.wait(timeout=30)  # A's write is on its way, and slow
        time.sleep(LEASE.total_seconds() * 2)  # longer than the lease A was given
        drain_as("worker-b", make_connector(), store)
        held.release.set()
        worker_a.join(timeout=60)

    each_done_once(emulator, store, keys)


@pytest.mark.parametrize("case", sorted(WRITES))
def test_a_worker_whose_lease_was_taken_over_sends_nothing(
    emulator: ZendeskEmulator,
    make_connector: ConnectorFactory,
    store: StateStore,
    outbox: Outbox,
    case: str,
) -> None:
    keys = actions(case, outbox, make_connector(), store)
    stalled = store.outbox.claim("worker-a", limit=10, lease=LEASE, now=utcnow())
    time.sleep(LEASE.total_seconds() * 1.5)  # A stalls (its renewals do not run) past its lease
    drain_as("worker-b", make_connector(), store)  # B takes the actions over and acts
    each_done_once(emulator, store, keys)

    lease = BatchLease(store, "worker-a", stalled, lease=LEASE, now=utcnow)
    writes = emulator.calls[WRITES[case]]
    with pytest.raises(LeaseLostError), lease.kept():
        executor(make_connector(), store).execute(stalled)  # A wakes up and goes on

    assert emulator.calls[WRITES[case]] == writes  # fenced off before the request was sent
    each_done_once(emulator, store, keys)
