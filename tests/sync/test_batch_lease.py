"""A batch's leases are renewed before its writes, but not again while a renewal is fresh."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from sync.stages.lease import BatchLease, LeaseLostError
from sync.state import ActionIntent, StateStore
from sync.state import schema as t

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def leases_until(store: StateStore) -> set[datetime | None]:
    with store.transaction() as conn:
        return set(conn.execute(sa.select(t.actions.c.lease_until)).scalars())


def claimed(store: StateStore, owner: str, clock: Clock) -> BatchLease:
    intents = [
        ActionIntent(f"k{i}", "delighted", f"r{i}", "rule", "task", "salesforce_task", {}, "h")
        for i in range(3)
    ]
    store.outbox.enqueue(intents, clock.now)
    actions = store.outbox.claim(owner, limit=10, lease=LEASE, now=clock.now)
    return BatchLease(store, owner, actions, lease=LEASE, now=clock)


@pytest.mark.parametrize(
    ("second_check_after", "renewed_again"),
    [
        (timedelta(seconds=1), False),  # the writes of one batch, seconds apart
        (LEASE / 10 - timedelta(seconds=1), False),
        (LEASE / 10, True),
        (timedelta(minutes=4), True),
        (-timedelta(minutes=1), True),  # the clock went back: never trust the last renewal
    ],
)
def test_a_fresh_renewal_is_not_repeated_before_the_next_write(
    store: StateStore, second_check_after: timedelta, renewed_again: bool
) -> None:
    clock = Clock()
    lease = claimed(store, "worker-a", clock)
    clock.now = T0 + timedelta(seconds=10)
    lease.check()
    assert leases_until(store) == {clock.now + LEASE}

    clock.now += second_check_after
    lease.check()
    expected = clock.now + LEASE if renewed_again else T0 + timedelta(seconds=10) + LEASE
    assert leases_until(store) == {expected}


def test_a_lease_taken_over_after_it_ran_out_is_found_lost_at_the_next_renewal(
    store: StateStore,
) -> None:
    clock = Clock()
    lease = claimed(store, "worker-a", clock)
    lease.check()
    # Worker A stalls past its lease; worker B claims the actions.
    clock.now = T0 + LEASE + timedelta(seconds=1)
    assert len(store.outbox.claim("worker-b", limit=10, lease=LEASE, now=clock.now)) == 3
    with pytest.raises(LeaseLostError):
        lease.check()
