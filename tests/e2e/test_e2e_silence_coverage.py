"""A key account fewer and fewer people answer for gets one "lack of response" Task, end to end."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from emulators.world import EmulatedWorld
from tests.e2e.conftest import EngineFactory


@pytest.fixture
def world() -> Iterator[EmulatedWorld]:
    with EmulatedWorld(seed=5, accounts=6, responses=0) as w:
        yield w


def test_a_key_account_whose_coverage_fell_gets_a_task_for_its_owner(
    make_engine: EngineFactory, world: EmulatedWorld
) -> None:
    """Three people answered four months ago, one this week: the nightly run queues one Task."""
    account = next(
        a for a in world.book.accounts
        if a.tier and a.owner_id
        and sum(c.account_id == a.id for c in world.book.contacts) >= 3
    )  # fmt: skip
    people = [c for c in world.book.contacts if c.account_id == account.id][:3]
    now = datetime.now(UTC)
    for person in people:
        world.delighted.add_response(
            email=person.email, score=9, created_at=now - timedelta(days=120)
        )
    world.delighted.add_response(email=people[0].email, score=9, created_at=now - timedelta(days=5))
    loop = {
        "silence": {"tiers": [account.tier], "after": "60d", "period": "30d",
                    "coverage_drop": 0.5, "coverage_window": "90d"}
    }  # fmt: skip
    for _ in range(2):  # the nightly run twice in a period, then the passes that act
        assert make_engine(loop=loop).run_once().errors == []
        assert make_engine(loop=loop).reconcile().errors == []
        assert make_engine(loop=loop).run_once().errors == []

    tasks = [
        t for t in world.salesforce.records("Task")
        if str(t.get("Subject", "")).startswith("Fewer NPS answers")
    ]  # fmt: skip
    assert [(t["WhatId"], t["OwnerId"]) for t in tasks] == [(account.id, account.owner_id)]
    assert tasks[0]["Subject"].endswith("down 67% in 90 days")
