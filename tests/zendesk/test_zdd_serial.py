"""Ticket actions of one requester, one at a time; marker lookups that survive a steady fault rate.

A later response of a requester must not open a second ticket while an earlier ticket action of
that requester may have opened one without it being recorded yet (in flight under another
worker's lease, or retrying after an attempt cut short): it waits, deferred rather than failed,
and then joins that ticket. Marker lookups go one call per key, each retried on its own, so a
fault fails only the action whose lookup it hit.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import pytest

from connectors.zendesk.client import ZendeskConnector
from emulators.base import Fault
from emulators.zendesk import ZendeskEmulator
from sync.core.retry import RetryPolicy
from sync.stages.executors.zendesk import TicketSettings, ZendeskTicketExecutor
from sync.stages.executors.zendesk_comments import marker
from sync.state import StateStore
from tests.zendesk.conftest import ANA, BEN, FAST_RETRY, Outbox, our_tickets, ticket_payload


def executor(
    desk: ZendeskConnector, store: StateStore, outbox: Outbox, retry: RetryPolicy = FAST_RETRY
) -> ZendeskTicketExecutor:
    return ZendeskTicketExecutor(
        desk, retry, store=store, settings=TicketSettings(), clock=lambda: outbox.now
    )


def open_tickets_of(emulator: ZendeskEmulator, user_id: int) -> list[dict[str, Any]]:
    return [
        t
        for t in our_tickets(emulator)
        if t["requester_id"] == user_id and t["status"] not in ("solved", "closed")
    ]


def test_a_later_response_waits_while_the_first_ticket_is_in_flight(
    emulator: ZendeskEmulator, desk: ZendeskConnector, store: StateStore, outbox: Outbox
) -> None:
    run = executor(desk, store, outbox)
    first_key = outbox.add(ANA, ticket_payload(ANA, attach=True, comment="Slow."))
    first = outbox.claim(owner="worker-1")
    (made,) = run.execute(first)  # created in Zendesk; worker-1 is still working (or died)
    assert made.result == "done"

    outbox.now += timedelta(seconds=5)
    later_key = outbox.add(ANA, ticket_payload(ANA, attach=True, comment="Still slow."))
    later = outbox.claim(owner="worker-2")
    assert [a.key for a in later] == [later_key]
    (waiting,) = run.execute(later)
    outbox.record(later, [waiting], owner="worker-2")

    assert waiting.result == "defer"
    assert waiting.not_before is not None
    assert waiting.not_before > outbox.now
    assert len(open_tickets_of(emulator, ANA.user_id)) == 1

    outbox.pass_lease()  # worker-1 died: its action is taken over and found by its key
    outcomes = outbox.run(run)
    by_key = {o.key: o for o in outcomes}
    assert by_key[first_key].found_existing
    if later_key not in by_key:  # not due yet in that round: its turn comes next
        outbox.now += timedelta(minutes=2)
        by_key.update({o.key: o for o in outbox.run(run)})
    assert by_key[later_key].result == "done"
    assert by_key[later_key].external_id == made.external_id
    (ticket,) = open_tickets_of(emulator, ANA.user_id)
    assert sum(marker(later_key) in c["body"] for c in emulator.comments(ticket["id"])) == 1
    assert {a.status for a in store.outbox.actions()} == {"done"}


def test_a_later_response_waits_for_a_retrying_first_ticket(
    emulator: ZendeskEmulator, desk: ZendeskConnector, store: StateStore, outbox: Outbox
) -> None:
    """The first create landed but its answer was lost: it is retrying, its ticket unrecorded."""
    run = executor(desk, store, outbox, retry=RetryPolicy(attempts=1))
    first_key = outbox.add(ANA, ticket_payload(ANA, attach=True))
    emulator.inject(Fault("late", count=1, endpoint="^tickets_create$", hang_seconds=0.01))
    emulator.inject(Fault("500", count=1, endpoint="^tickets_list$"))  # its lookup fails too
    (lost,) = outbox.run(run)
    assert lost.result == "retry"
    assert len(our_tickets(emulator)) == 1

    outbox.now += timedelta(seconds=5)
    later_key = outbox.add(ANA, ticket_payload(ANA, attach=True))
    other_key = outbox.add(BEN, ticket_payload(BEN, attach=True))  # another requester goes on
    outcomes = {o.key: o for o in outbox.run(run)}
    assert first_key not in outcomes  # still backing off
    assert outcomes[later_key].result == "defer"
    assert outcomes[other_key].result == "done"
    assert len(open_tickets_of(emulator, ANA.user_id)) == 1

    for _ in range(4):
        outbox.now += timedelta(minutes=2)
        outbox.run(run)
    assert {a.status for a in store.outbox.actions()} == {"done"}
    (ticket,) = open_tickets_of(emulator, ANA.user_id)
    assert ticket["external_id"] == first_key


def test_an_unresolved_lookup_holds_back_its_requesters_new_tickets_in_the_batch(
    emulator: ZendeskEmulator, desk: ZendeskConnector, store: StateStore, outbox: Outbox
) -> None:
    run = executor(desk, store, outbox, retry=RetryPolicy(attempts=1))
    first_key = outbox.add(ANA, ticket_payload(ANA, attach=True))
    run.execute(outbox.claim())  # created; the worker dies
    outbox.pass_lease()
    later_key = outbox.add(ANA, ticket_payload(ANA, attach=True))
    emulator.inject(Fault("500", count=1, endpoint="^tickets_list$"))  # the first's lookup fails

    outcomes = {o.key: o for o in outbox.run(run)}

    assert outcomes[first_key].result == "retry"
    assert outcomes[later_key].result == "defer"
    assert len(our_tickets(emulator)) == 1


# -- a steady fault rate ---------------------------------------------------------------------------
PEOPLE = 40


@pytest.mark.timeout(120)
def test_retried_ticket_actions_move_under_a_steady_fault_rate(
    emulator: ZendeskEmulator, desk: ZendeskConnector, store: StateStore, outbox: Outbox
) -> None:
    """Every action was claimed before (so each is looked up by its key first); with one call in
    ten failing, a round still settles nearly all of them."""
    run = executor(desk, store, outbox, retry=RetryPolicy(attempts=4, initial_wait=0.001))
    keys = [
        outbox.add(None, ticket_payload(None, email=f"p{i}@acme.example", attach=True))
        for i in range(PEOPLE)
    ]
    outbox.claim()  # a worker claimed them all and died before any call
    outbox.pass_lease()
    emulator.inject(Fault("500", rate=0.10))

    started = time.perf_counter()
    rounds = 0
    while rounds < 3 and any(a.status != "done" for a in store.outbox.actions()):
        rounds += 1
        outbox.run(run)
        outbox.now += timedelta(minutes=2)
    emulator.clear_faults()

    assert {a.status for a in store.outbox.actions()} == {"done"}, f"after {rounds} rounds"
    assert sorted(t["external_id"] for t in our_tickets(emulator)) == sorted(keys)
    print(
        f"{PEOPLE} retried ticket actions under 10% faults: {rounds} round(s), "
        f"{time.perf_counter() - started:.2f} s"
    )


def answered(payload: dict[str, Any], at: datetime) -> dict[str, Any]:
    """The payload of an answer given at ``at`` (the route stage records it)."""
    return {**payload, "response": {**payload["response"], "submitted_at": at.isoformat()}}


def test_a_requesters_first_answer_opens_the_ticket_whatever_the_keys_or_routing_order(
    emulator: ZendeskEmulator, desk: ZendeskConnector, store: StateStore, outbox: Outbox
) -> None:
    """Answers routed together (or the newer one first, after a fault held the older back) go
    in the order the customer gave them: the first answer's ticket, the others as comments."""
    run = executor(desk, store, outbox)
    base = outbox.now - timedelta(days=30)
    moments = [base + timedelta(days=d) for d in (20, 0, 10)]  # routed newest first
    keys = [
        outbox.add(
            ANA,
            answered(ticket_payload(ANA, attach=True, comment=f"Answer {i}."), at),
            created_at=at,
        )
        for i, at in enumerate(moments)
    ]
    first = keys[1]
    outcomes = {o.key: o for o in outbox.run(run)}
    while any(o.result == "defer" for o in outcomes.values()):
        outbox.now += timedelta(minutes=2)
        outcomes.update({o.key: o for o in outbox.run(run)})

    (ticket,) = open_tickets_of(emulator, ANA.user_id)
    assert ticket["external_id"] == first
    assert not outcomes[first].attached
    assert all(outcomes[k].attached for k in keys if k != first)


def test_a_newer_answer_waits_for_an_older_one_routed_after_it(
    emulator: ZendeskEmulator, desk: ZendeskConnector, store: StateStore, outbox: Outbox
) -> None:
    run = executor(desk, store, outbox)
    newer_at = outbox.now - timedelta(days=1)
    newer = outbox.add(
        ANA, answered(ticket_payload(ANA, attach=True), newer_at), created_at=newer_at
    )
    outbox.now += timedelta(seconds=5)
    older_at = outbox.now - timedelta(days=9)
    older = outbox.add(
        ANA, answered(ticket_payload(ANA, attach=True), older_at), created_at=older_at
    )
    claimed = [a for a in outbox.claim(owner="worker-2") if a.key == newer]
    (waiting,) = run.execute(claimed)
    assert waiting.result == "defer"
    assert open_tickets_of(emulator, ANA.user_id) == []

    outbox.pass_lease()
    outcomes = {o.key: o for o in outbox.run(run)}
    (ticket,) = open_tickets_of(emulator, ANA.user_id)
    assert ticket["external_id"] == older
    assert outcomes[newer].attached
