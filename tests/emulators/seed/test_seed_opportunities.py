"""The seed's opportunities: consistent with the book, and their outcomes tied to the answers
only when the effect is planted."""

from __future__ import annotations

import dataclasses
from collections import Counter

from emulators.seed import REFERENCE_END, generate_seed
from emulators.seed_model import Seed
from emulators.seed_opportunities import account_sentiments, sentiment

PLANTED = generate_seed(7)
FLAT = generate_seed(7, opportunity_effect=False)


def test_the_effect_changes_the_opportunities_and_nothing_else() -> None:
    def without_deals(seed: Seed) -> dict[str, object]:
        return {k: v for k, v in dataclasses.asdict(seed).items() if k != "opportunities"}

    assert without_deals(PLANTED) == without_deals(FLAT)
    assert PLANTED.opportunities != FLAT.opportunities


def test_opportunities_belong_to_accounts_and_follow_the_renewal_cycle() -> None:
    accounts = {a.id: a for a in PLANTED.accounts}
    ids = [o.id for o in PLANTED.opportunities]
    assert len(ids) == len(set(ids))
    assert all(i.startswith("006") for i in ids)
    renewals: dict[str, list[str]] = {}
    for o in PLANTED.opportunities:
        account = accounts[o.account_id]
        assert o.owner_id == account.owner_id
        if o.type == "Renewal":
            renewals.setdefault(o.account_id, []).append(o.stage)
            assert o.amount == account.arr
            assert o.stage.startswith("Closed") is (o.close_date <= REFERENCE_END.date())
    lost = [stages for stages in renewals.values() if "Closed Lost" in stages]
    assert lost
    assert all(stages == ["Closed Lost"] for stages in lost)  # a lost account renews no more


def test_renewals_are_won_more_often_by_happier_accounts_only_when_planted() -> None:
    def won_share(seed: Seed, mood: str) -> float:
        moods = account_sentiments(seed)
        outcomes = Counter(
            o.stage
            for o in seed.opportunities
            if o.type == "Renewal" and o.stage.startswith("Closed") and moods[o.account_id] == mood
        )
        return outcomes["Closed Won"] / sum(outcomes.values())

    assert won_share(PLANTED, "promoter") - won_share(PLANTED, "detractor") > 0.25
    assert abs(won_share(FLAT, "promoter") - won_share(FLAT, "detractor")) < 0.15


def test_sentiment_is_the_category_of_the_average_score() -> None:
    assert [sentiment([]), sentiment([10, 8]), sentiment([9, 6]), sentiment([6])] == [
        "none",
        "promoter",
        "passive",
        "detractor",
    ]
