"""Reads that look at a long history take what they need from an index in order: a person's
previous score and a cooldown key's claims within a routing window cost the same whether the
person answered five times or five hundred."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connectors.models import SurveyResponse
from sync.state import StateStore
from sync.state import schema as t
from sync.state.cooldowns import CooldownClaim
from tests.sync.test_claim_order import sqlite_plans

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def answered(rid: str, at: datetime, score: int) -> SurveyResponse:
    return SurveyResponse(
        source="delighted",
        response_id=rid,
        email="pat@example.com",
        score=score,
        comment="",
        created_at=at,
        updated_at=at,
    )


def test_a_previous_score_is_the_last_index_entry_before_the_answer(store: StateStore) -> None:
    answers = [answered(f"r{i:03d}", T0 + timedelta(days=i), i % 11) for i in range(200)]
    store.inbox.ingest_page("delighted", answers, None, T0)
    asked = [("pat@example.com", T0 + timedelta(days=150)), ("pat@example.com", T0)]

    plans = sqlite_plans(store, "WITH asked", lambda: store.inbox.previous_scores(asked))

    assert store.inbox.previous_scores(asked) == {asked[0]: 149 % 11}  # none before the first
    assert plans
    assert all(str(t.responses_email_order.name) in plan for plan in plans)
    assert not any("TEMP B-TREE" in plan for plan in plans)  # no sort of the person's answers


def test_a_cooldown_keys_claims_in_a_window_are_one_range_of_the_index(
    store: StateStore,
) -> None:
    claims = [
        CooldownClaim("one-a-month", "001ACME", "delighted", f"r{i:03d}", T0 + timedelta(days=i))
        for i in range(200)
    ]
    store.cooldowns.add(claims, T0)
    window = (T0 + timedelta(days=99), T0 + timedelta(days=103))

    def read() -> list[CooldownClaim]:
        return store.cooldowns.claims([("one-a-month", "001ACME")], between=window)

    plans = sqlite_plans(store, "SELECT nps_cooldowns", read)

    assert [c.response_id for c in read()] == ["r100", "r101", "r102"]
    assert plans
    assert all(
        f"{t.cooldowns_key_order.name} (rule=? AND key_value=? AND at>? AND at<?)" in plan
        for plan in plans
    )
