"""Bulk jobs of a backlog polled together: the jobs Zendesk runs for more than 100 tickets are
in flight at once, and each round of polls asks for all of them in one request.

The real zenpy client talks to the Zendesk emulator over loopback sockets; every job takes two
polls to complete.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from emulators.world import EmulatedWorld
from tests.routing.conftest import EngineFactory, write_rules
from tests.routing.test_rt_lookups import ACTING, answer, rules


@pytest.fixture
def world() -> Iterator[EmulatedWorld]:
    options = {"job_polls_to_complete": 2}
    with EmulatedWorld(seed=5, accounts=6, responses=0, zendesk_options=options) as w:
        yield w


def test_the_jobs_of_150_new_tickets_and_their_requesters_are_polled_together(
    world: EmulatedWorld, make_engine: EngineFactory, rules_path: Path
) -> None:
    write_rules(rules_path, rules(create_requester=True))
    for n in range(150):
        answer(world, f"stranger{n}@unknown-customer.example", 2)

    report = make_engine(routing=ACTING).run_once()

    assert report.tickets_created == 150, report.errors
    calls = world.zendesk.calls
    assert calls["users_create_many"] == 2
    assert calls["tickets_create_many"] == 2
    # two jobs of requesters, then two of tickets: two rounds of one poll each, not one per job
    assert calls["job_statuses_show_many"] == 4
    assert calls["job_statuses"] == 0
