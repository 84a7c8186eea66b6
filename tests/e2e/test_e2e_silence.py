"""Key accounts nobody has answered for get one "lack of response" Task per period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connectors.models import Account
from emulators.world import EmulatedWorld
from sync.core.config import LoopSilence
from sync.loop.silence import silence_intents, silence_key
from tests.e2e.conftest import EngineFactory

SILENCE = {"silence": {"tiers": ["Enterprise"], "after": "60d", "period": "30d", "due_in": "2d"}}


def test_silent_key_accounts_get_one_task_for_their_owner_per_period(
    world: EmulatedWorld, make_engine: EngineFactory
) -> None:
    engine = make_engine(loop=SILENCE)
    assert engine.run_once().errors == []
    now = engine.clock()
    last = engine.store.loops.last_answers(a["Id"] for a in world.salesforce.records("Account"))
    expected = {
        a["Id"]
        for a in world.salesforce.records("Account")
        if a.get("Tier__c") == "Enterprise"
        and (a["Id"] not in last or now - last[a["Id"]] >= timedelta(days=60))
    }
    assert expected  # the seeded year ends long enough ago for some to be silent

    for _ in range(2):  # nightly, twice in the period, then the passes that act
        assert make_engine(loop=SILENCE).reconcile().errors == []
        assert make_engine(loop=SILENCE).run_once().errors == []

    tasks = [
        t
        for t in world.salesforce.records("Task")
        if str(t.get("Subject", "")).startswith("No NPS")
    ]
    assert sorted(t["WhatId"] for t in tasks) == sorted(expected)
    owners = {a["Id"]: a["OwnerId"] for a in world.salesforce.records("Account")}
    assert all(t["OwnerId"] == owners[t["WhatId"]] for t in tasks)


T0 = datetime(2026, 3, 2, tzinfo=UTC)
RULE = LoopSilence(tiers=("Enterprise",), after="60d", period="30d")


def test_a_silent_account_is_alerted_once_per_period_and_not_once_it_answers() -> None:
    quiet = Account("001A00000000001AAA", "Quiet", owner_id="005X", tier="Enterprise", arr=5e5)
    talking = Account("001A00000000002AAA", "Talking", owner_id="005X", tier="Enterprise")
    ownerless = Account("001A00000000003AAA", "Nobody's", tier="Enterprise")
    answers = {quiet.id: T0 - timedelta(days=61), talking.id: T0 - timedelta(days=59)}

    first = silence_intents([quiet, talking, ownerless], answers, RULE, T0)
    same_period = silence_intents([quiet], answers, RULE, T0 + timedelta(hours=1))
    next_period = silence_intents([quiet], answers, RULE, T0 + timedelta(days=30))

    (intent,) = first
    assert intent.response_id == quiet.id
    assert intent.payload["owner_id"] == "005X"
    assert "since 2025-12-31" in intent.payload["description"]
    assert "ARR 500,000" in intent.payload["description"]
    assert [i.key for i in same_period] == [intent.key]
    assert [i.key for i in next_period] != [intent.key]
    assert intent.key == silence_key(quiet.id, int(T0.timestamp() // (30 * 86_400)))
