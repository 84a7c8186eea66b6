"""Emerging themes on a simulated stream, repeat themes, and clusters of unthemed comments."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest

from insights.text.emerging import (
    Mention,
    cluster_unthemed,
    emerging_themes,
    weekly_trends,
)

START = datetime(2026, 1, 5, 9, tzinfo=UTC)  # a Monday
STEADY = {"pricing": 0.20, "support": 0.15, "onboarding": 0.08, "billing": 0.04}


def simulated_week(week: int, rng: random.Random, extra: dict[str, float]) -> list[Mention]:
    """200 comments of one week; each theme appears with its share, independently."""
    shares = {**STEADY, **extra}
    comments = []
    for i in range(200):
        themes = tuple(t for t, p in shares.items() if rng.random() < p)
        at = START + timedelta(weeks=week, minutes=i * 40)
        comments.append(Mention(at, themes, detractor=rng.random() < 0.3))
    return comments


def week_start(week: int) -> date:
    return (START + timedelta(weeks=week)).date()


@pytest.mark.parametrize("seed", range(5))
def test_a_new_complaint_is_flagged_in_its_first_week_and_stable_weeks_are_not(seed: int) -> None:
    rng = random.Random(seed)
    stream: list[Mention] = []
    for week in range(8):  # eight stable weeks: no false alarm in any of them
        stream += simulated_week(week, rng, {})
        assert emerging_themes(stream, week_start(week)) == frozenset(), week
    # a new complaint (an outage, 6% of comments) appears in week 5 of a fresh stream
    fresh: list[Mention] = []
    for week in range(4):
        fresh += simulated_week(week, rng, {})
    fresh += simulated_week(4, rng, {"outage": 0.06})
    assert emerging_themes(fresh, week_start(4)) == {"outage"}


def test_a_doubled_share_of_an_existing_theme_is_flagged_with_its_statistics() -> None:
    rng = random.Random(7)
    stream: list[Mention] = []
    for week in range(6):
        stream += simulated_week(week, rng, {})
    stream += simulated_week(6, rng, {"billing": 0.16})
    [billing] = [t for t in weekly_trends(stream, week_start(6)) if t.theme == "billing"]
    assert billing.emerging
    assert billing.share > 2 * billing.baseline_share
    assert billing.p_value < 1e-4


def test_three_detractor_mentions_in_a_week_make_a_repeat_theme() -> None:
    at = START
    stream = [Mention(at, ("export",), detractor=True) for _ in range(3)]
    stream += [Mention(at, ("login",), detractor=True) for _ in range(2)]
    stream += [Mention(at, ("login",), detractor=False) for _ in range(5)]
    repeats = {t.theme for t in weekly_trends(stream) if t.repeat}
    assert repeats == {"export"}


def test_unthemed_comments_form_named_clusters() -> None:
    texts = [
        "the mobile app crashes on startup",
        "app crashes every time on my phone, mobile app is broken",
        "mobile app crashes after the update",
        "dark mode would be nice",
        "please add dark mode to the dashboard",
        "dark mode please, my eyes hurt",
        "random remark",
    ]
    clusters = cluster_unthemed(texts)
    named = {c.phrases[0]: set(c.members) for c in clusters}
    assert any("crash" in p or "mobile" in p for p in named)
    assert any("dark" in p for p in named)
    assert {0, 1, 2} in named.values()
    assert {3, 4, 5} in named.values()
