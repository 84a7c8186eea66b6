"""The weekly digest and the scheduled sends, from hand-built answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sync.core.config import ViewsConfig
from sync.loop.metrics import LoopRecord
from sync.reports.answers import Answer
from sync.reports.digest import digest, digest_json, digest_text, week_label
from sync.reports.sends import digest_intents, frontline_intents

NOW = datetime(2026, 11, 4, 9, 0, tzinfo=UTC)  # a Wednesday of ISO week 45


def answer(
    i: int,
    score: int,
    ago: timedelta,
    *,
    tier: str = "Enterprise",
    comment: str = "",
    owner: str = "ana@acme.test",
    due: timedelta | None = None,
    state: str | None = "open",
    loop_owner: str | None = None,
) -> Answer:
    at = NOW - ago
    loop = LoopRecord(
        "s", f"r{i}", f"p{i}@x.test", score, at, owner=owner if loop_owner is None else loop_owner,
        state=state,
        contact_due=NOW + due if due is not None else None,
    )  # fmt: skip
    return Answer(
        "s", f"r{i}", f"p{i}@x.test", f"P{i}", score, comment, at, account_name=f"A{i}",
        tier=tier, arr=1000.0 * i, owner_email=owner, loop=loop,
    )  # fmt: skip


def test_new_detractors_past_sla_and_repeat_themes_of_the_week() -> None:
    day = timedelta(days=1)
    answers = [
        answer(1, 5, 2 * day, comment="slow onboarding and billing"),
        answer(2, 2, 3 * day, comment="onboarding"),
        answer(3, 2, 1 * day, comment="Onboarding again"),
        answer(4, 6, 8 * day, comment="onboarding", due=-3 * day),  # last week: not new
        answer(5, 9, 1 * day, comment="onboarding"),  # a promoter: not a detractor's theme
        answer(6, 4, 2 * day, state="resolved", due=-day),  # resolved: not past SLA
    ]

    def themes(a: Answer) -> list[str]:
        text = a.comment.lower()
        return [t for t in ("onboarding", "billing") if t in text]

    d = digest(answers, NOW, themes)
    assert d.label == week_label(NOW) == "2026-W44"  # five of the seven days are W44's
    # lowest score first, then the larger ARR
    assert [a.response_id for a in d.new_detractors] == ["r3", "r2", "r6", "r1"]
    assert [(o.response_id, o.hours_over) for o in d.past_sla] == [("r4", 72.0)]
    assert d.repeat_themes == [("onboarding", 3)]  # billing once only
    doc = digest_json(d)
    assert doc["repeat_themes"] == [{"theme": "onboarding", "detractors": 3}]
    assert doc["new_detractors"][0]["owner"] == "ana@acme.test"
    assert "comment" not in doc["new_detractors"][0]
    text = digest_text(d)
    assert "New detractors: 4" in text
    assert "- ana@acme.test: 1 (longest 3.0 days over)" in text
    assert "onboarding (3)" in text
    assert "slow" not in text  # no survey comment in a team channel


def test_without_comment_themes_the_digest_says_so() -> None:
    d = digest([answer(1, 3, timedelta(days=1))], NOW)
    assert d.repeat_themes is None
    assert "comment themes are not computed" in digest_text(d)


def test_a_segment_moves_only_beyond_the_interval_of_the_difference() -> None:
    day = timedelta(days=1)
    answers = [
        *(answer(i, 10, 40 * day, tier="SMB") for i in range(20)),  # 28-56 days ago: +100
        *(answer(100 + i, 0, 5 * day, tier="SMB") for i in range(20)),  # last 28 days: -100
        *(answer(200 + i, 10 if i % 2 else 0, 40 * day) for i in range(20)),  # 0 ...
        *(answer(300 + i, 10 if i % 3 else 0, 5 * day) for i in range(20)),  # ... to +30
    ]
    moves = [m for m in digest(answers, NOW).movements if m.dimension == "tier"]
    assert [(m.segment, m.before.score, m.now.score) for m in moves] == [("SMB", 100.0, -100.0)]


def test_sends_are_keyed_by_recipient_and_period() -> None:
    views = ViewsConfig.model_validate(
        {
            "frontline": {"cron": "0 7 * * *", "slack_webhook_envs": {"Ana@acme.test": "ANA"}},
            "digest": {"cron": "0 8 * * mon", "slack_webhook_env": "LEADS", "email_to": ["l@x"]},
        }
    )
    answers = [
        answer(1, 2, timedelta(days=1)),
        answer(2, 10, timedelta(days=1), owner="bo@acme.test"),  # nobody for Bo to call
    ]
    today = frontline_intents(answers, views, NOW)
    later = frontline_intents(answers, views, NOW + timedelta(hours=3))
    tomorrow = frontline_intents(answers, views, NOW + timedelta(days=1))
    assert [(i.action, i.payload.get("to"), i.payload.get("webhook_env")) for i in today] == [
        ("email", ["ana@acme.test"], None),
        ("slack", None, "ANA"),
    ]
    assert [i.key for i in later] == [i.key for i in today]
    assert not {i.key for i in tomorrow} & {i.key for i in today}
    assert "1. P1 at A1" in today[0].payload["text"]

    week = digest_intents(digest(answers, NOW), views)
    same_week = digest_intents(digest(answers, NOW + timedelta(days=1)), views)
    next_week = digest_intents(digest(answers, NOW + timedelta(days=7)), views)
    assert [i.action for i in week] == ["slack", "email"]
    assert [i.key for i in same_week] == [i.key for i in week]
    assert not {i.key for i in next_week} & {i.key for i in week}


def test_a_monday_morning_digest_is_labelled_with_the_week_it_covers() -> None:
    """Made by `0 8 * * mon` on 7 December 2026: the week of 30 November (W49), not W50."""
    monday = datetime(2026, 12, 7, 8, tzinfo=UTC)
    d = digest([], monday)
    assert d.label == "2026-W49"
    assert digest_text(d).startswith("NPS digest 2026-W49 (2026-11-30 to 2026-12-07)")


def test_the_weeks_nps_counts_each_person_once_with_their_latest_answer() -> None:
    day = timedelta(days=1)
    first, latest = answer(1, 2, 3 * day), answer(1, 10, 1 * day)  # the same person, twice
    other = answer(2, 3, 2 * day)
    week = digest([first, other, latest], NOW).week
    assert (week.n, week.score) == (2, 0.0)  # one promoter, one detractor


def test_loops_past_sla_name_the_owner_as_new_detractors_do() -> None:
    """The loop report keys owners by name (or a Salesforce user id when the account has no
    owner); the digest shows the account owner's email in both of its lists where it has one."""
    day = timedelta(days=1)
    by_name = answer(1, 3, 2 * day, due=-day, loop_owner="Ana Lima")
    by_id = answer(2, 3, 2 * day, due=-day, owner="", loop_owner="0055g000000CaR6AAK")

    d = digest([by_name, by_id], NOW)

    owners = {o.response_id: o.owner for o in d.past_sla}
    assert owners == {"r1": "ana@acme.test", "r2": "0055g000000CaR6AAK"}
    assert {a.owner for a in d.new_detractors} == {"ana@acme.test", "(none)"}
