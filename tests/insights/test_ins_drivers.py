"""Drivers of detractors: risk ratios, account-bootstrap intervals, a planted driver found."""

from __future__ import annotations

import random

import pytest

from insights.drivers import Case, cases, detractor_drivers, times
from insights.segments import Respondent


def planted(seed: int = 1, accounts: int = 200, effect: float = 3.0) -> list[Case]:
    """Five people per account; those with 2+ open tickets are ``effect`` times as often
    detractors; region has no effect at all."""
    rng = random.Random(seed)
    out = []
    for a in range(accounts):
        region = rng.choice(("NA", "EMEA", "APAC"))
        for _ in range(5):
            tickets = rng.random() < 0.25
            detractor = rng.random() < 0.12 * (effect if tickets else 1.0)
            support = "2+ open tickets" if tickets else "no open ticket"
            out.append(
                Case(f"a{a}", detractor, frozenset({f"support={support}", f"region={region}"}))
            )
    return out


def test_risk_ratio_and_shares_match_the_hand_computed_ones() -> None:
    # Feature x: 3 detractors of 6; without it: 2 of 12. (3/6) / (2/12) = 3.0.
    found = [
        *(Case(f"a{i}", i < 3, frozenset({"x=yes"})) for i in range(6)),
        *(Case(f"b{i}", i < 2, frozenset()) for i in range(12)),
    ]
    (driver,) = detractor_drivers(found, min_accounts=1)
    assert driver.risk_ratio == pytest.approx(3.0)
    assert (driver.with_feature.part, driver.with_feature.whole) == (3, 6)
    assert (driver.without_feature.part, driver.without_feature.whole) == (2, 12)
    assert (driver.attribute, driver.value, driver.accounts) == ("x", "yes", 6)


def test_a_planted_driver_is_found_and_a_null_attribute_is_not() -> None:
    drivers = {d.feature: d for d in detractor_drivers(planted())}
    tickets = drivers["support=2+ open tickets"]
    assert tickets.significant
    assert tickets.low is not None
    assert tickets.high is not None
    assert tickets.low < 3.0 < tickets.high
    assert tickets.reading.startswith("Respondents with support 2+ open tickets: ")
    assert "as likely to be detractors (95% interval" in tickets.reading
    assert not any(d.significant for f, d in drivers.items() if f.startswith("region="))
    assert next(iter(drivers)) == "support=2+ open tickets"  # drivers first


def test_no_driver_is_found_where_none_was_planted() -> None:
    assert not any(d.significant for d in detractor_drivers(planted(effect=1.0)))


def test_a_feature_of_too_few_accounts_is_never_a_driver() -> None:
    # Two accounts of ten happy people each against twenty accounts of mixed ones.
    found = [Case(f"h{a}", False, frozenset({"tier=Gold"})) for a in range(2) for _ in range(10)]
    found += [Case(f"m{a}", i % 2 == 0, frozenset()) for a in range(20) for i in range(4)]
    (gold,) = detractor_drivers(found)
    assert gold.accounts == 2
    assert not gold.significant
    assert "from 2 accounts: too few to tell" in gold.reading


def test_same_data_gives_the_same_intervals() -> None:
    first = detractor_drivers(planted(seed=3))
    assert detractor_drivers(planted(seed=3)) == first


def test_rare_features_are_left_out() -> None:
    found = [
        Case(f"a{i}", i % 3 == 0, frozenset({"rare=yes"} if i < 4 else set())) for i in range(30)
    ]
    assert detractor_drivers(found) == []


def test_cases_take_attribute_values_and_themes() -> None:
    people = [
        Respondent(3, "A", attributes={"tier": "Gold", "region": ""}, themes=frozenset({"price"})),
        Respondent(9, "", attributes={"tier": "Silver"}),
    ]
    assert cases(people, ("tier", "region")) == [
        Case("A", True, frozenset({"tier=Gold", "theme=price"})),
        Case("#1", False, frozenset({"tier=Silver"})),
    ]


@pytest.mark.parametrize(
    ("value", "text"), [(0.984, "0.98x"), (1.0, "1.0x"), (3.14, "3.1x"), (376.8, "377x")]
)
def test_ratios_read_without_rounding_across_one(value: float, text: str) -> None:
    assert times(value) == text


def test_cases_leave_themes_out_when_asked() -> None:
    person = Respondent(3, "A", attributes={"tier": "Gold"}, themes=frozenset({"price"}))
    assert cases([person], ("tier",), themes=False) == [Case("A", True, frozenset({"tier=Gold"}))]


def test_a_comment_theme_is_a_driver_read_in_words() -> None:
    # Forty accounts of one respondent each, 11 detractors. Onboarding is mentioned by 10, 8 of
    # them detractors; of the 30 who do not mention it, 3 are: (8/10) / (3/30) = 8.0.
    people = []
    for i in range(40):
        detractor = i < 8 or 10 <= i < 13
        themes = {"onboarding"} if i < 10 else set()
        if i % 4 == 0:
            themes.add("pricing")
        people.append(Respondent(3 if detractor else 9, f"a{i}", themes=frozenset(themes)))
    drivers = {d.feature: d for d in detractor_drivers(cases(people, ()))}

    onboarding = drivers["theme=onboarding"]
    assert (onboarding.with_feature.part, onboarding.with_feature.whole) == (8, 10)
    assert (onboarding.without_feature.part, onboarding.without_feature.whole) == (3, 30)
    assert onboarding.risk_ratio == pytest.approx(8.0)
    assert onboarding.significant
    assert onboarding.low is not None
    assert onboarding.high is not None
    assert 1 < onboarding.low < 8.0 < onboarding.high
    assert onboarding.reading.startswith(
        "Respondents who mention onboarding: 8.0x as likely to be detractors (95% interval "
    )
    assert onboarding.reading.endswith("; 10 respondents).")

    pricing = drivers["theme=pricing"]
    # Pricing: every fourth (0, 4, ..., 36), 10 mentions; detractors 0, 4 and 12: 3 of 10,
    # against 8 of the 30 without it: 0.3 / 0.267 = 1.1x, no clear difference.
    assert (pricing.with_feature.part, pricing.with_feature.whole) == (3, 10)
    assert (pricing.without_feature.part, pricing.without_feature.whole) == (8, 30)
    assert pricing.risk_ratio == pytest.approx((3 / 10) / (8 / 30))
    assert not pricing.significant
    assert "no clear difference" in pricing.reading
