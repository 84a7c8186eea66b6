"""Key accounts nobody has answered for get one "lack of response" Task per period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.models import Account
from emulators.world import EmulatedWorld
from sync.core.config import LoopSilence
from sync.loop.silence import (
    Coverage,
    coverage_by_account,
    coverage_fell,
    silence_intents,
    silence_key,
)
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


FALLING = LoopSilence(
    tiers=("Enterprise",), after="60d", period="30d", coverage_drop=0.5, coverage_window="90d"
)


def _answers(account_id: str, *days_ago: float, people: str = "abcdefghij") -> list[Any]:
    return [
        (account_id, f"{person}@x.com", T0 - timedelta(days=ago))
        for person, ago in zip(people, days_ago, strict=False)
    ]


@pytest.mark.parametrize(
    ("days_ago", "expected"),
    [
        pytest.param((), {}, id="nobody answered"),
        pytest.param((10, 20, 100), {"001A": Coverage(1, 2)}, id="two now, one before"),
        pytest.param((0, 90, 179.9, 180), {"001A": Coverage(2, 1)}, id="window edges"),
        pytest.param((-1,), {}, id="an answer from the future counts nowhere"),
    ],
)
def test_coverage_counts_distinct_respondents_per_window(
    days_ago: tuple[float, ...], expected: dict[str, Coverage]
) -> None:
    assert coverage_by_account(_answers("001A", *days_ago), T0, timedelta(days=90)) == expected


def test_coverage_counts_a_person_once_per_window() -> None:
    twice = _answers("001A", 5, 6, people="aa") + _answers("001A", 100, people="A")
    assert coverage_by_account(twice, T0, timedelta(days=90)) == {"001A": Coverage(1, 1)}


@pytest.mark.parametrize(
    ("coverage", "fell"),
    [
        (Coverage(previous=4, current=2), True),  # down by half
        (Coverage(previous=10, current=5), True),
        (Coverage(previous=10, current=6), False),  # down 40%
        (Coverage(previous=2, current=0), False),  # too few before to say
        (Coverage(previous=3, current=0), True),
        (Coverage(previous=3, current=5), False),  # grew
        (Coverage(previous=0, current=0), False),
        (None, False),
    ],
)
def test_coverage_fell_by_the_configured_share_from_enough_respondents(
    coverage: Coverage | None, fell: bool
) -> None:
    assert coverage_fell(coverage, FALLING) is fell
    assert coverage_fell(coverage, RULE) is False  # not watched without coverage_drop


def test_falling_coverage_gets_one_task_per_period_and_silence_wins() -> None:
    falling = Account("001A00000000001AAA", "Fading", owner_id="005X", tier="Enterprise")
    silent = Account("001A00000000002AAA", "Quiet", owner_id="005X", tier="Enterprise")
    steady = Account("001A00000000003AAA", "Steady", owner_id="005X", tier="Enterprise")
    answers = {
        falling.id: T0 - timedelta(days=3),
        silent.id: T0 - timedelta(days=61),
        steady.id: T0 - timedelta(days=3),
    }
    coverage = {
        falling.id: Coverage(previous=6, current=2),
        silent.id: Coverage(previous=4, current=0),
        steady.id: Coverage(previous=6, current=5),
    }
    first = silence_intents([falling, silent, steady], answers, FALLING, T0, coverage)
    again = silence_intents([falling], answers, FALLING, T0 + timedelta(hours=1), coverage)

    by_account = {i.response_id: i for i in first}
    assert sorted(by_account) == [falling.id, silent.id]
    fading = by_account[falling.id].payload
    assert fading["subject"] == "Fewer NPS answers from Fading: down 67% in 90 days"
    assert "2 people at Fading answered an NPS survey in the last 90 days" in fading["description"]
    assert "against 6 in the 90 days before" in fading["description"]
    assert by_account[silent.id].payload["subject"].startswith("No NPS answer from Quiet")
    assert [i.key for i in again] == [by_account[falling.id].key]  # the same Task: once
