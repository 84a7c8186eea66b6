"""Stored comment results, on SQLite and PostgreSQL: one per version and analysis, and the
emerging themes the route stage reads back from them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sync.stages.comment_text import emerging_now
from sync.state import StateStore
from sync.state.comment_text import CommentText

NOW = datetime(2026, 3, 4, 12, tzinfo=UTC)  # a Wednesday


def result(
    response_id: str, version: str, themes: tuple[str, ...], at: datetime, analysis: str = "a1"
) -> CommentText:
    return CommentText("delighted", response_id, version, analysis, -0.5, themes, at, 3)


def test_a_result_is_found_for_its_version_and_analysis_only(store: StateStore) -> None:
    store.comment_text.save([result("r1", "v1", ("pricing",), NOW)], NOW)
    store.comment_text.save([result("r1", "v2", ("support",), NOW, analysis="a2")], NOW)
    keys = [("delighted", "r1", "v1"), ("delighted", "r1", "v2")]
    assert set(store.comment_text.get(keys, "a1")) == {("delighted", "r1", "v1")}
    assert store.comment_text.get(keys, None)[("delighted", "r1", "v2")].themes == ("support",)
    store.comment_text.save([result("r1", "v1", ("billing",), NOW, analysis="a2")], NOW)
    assert store.comment_text.get(keys[:1], "a1") == {}  # replaced by the new analysis
    latest = store.comment_text.since(NOW - timedelta(days=1))
    assert len(latest) == 1  # one row per response: its latest analysed version


def test_a_theme_new_this_week_is_emerging_for_routing(store: StateStore) -> None:
    rows = []
    for week in range(1, 6):  # five weeks of history, 40 comments each, pricing in a quarter
        for i in range(40):
            at = NOW - timedelta(weeks=week, hours=i)
            rows.append(result(f"w{week}-{i}", "v", ("pricing",) if i % 4 == 0 else (), at))
    for i in range(40):  # this week: the same, and an outage in one comment of five
        at = NOW - timedelta(hours=i)
        themes = ("pricing",) if i % 4 == 0 else ()
        rows.append(result(f"now-{i}", "v", themes + (("outage",) if i % 5 == 0 else ()), at))
    store.comment_text.save(rows, NOW)
    assert emerging_now(store, NOW) == {"outage"}
    assert emerging_now(store, NOW - timedelta(weeks=1)) == frozenset()
