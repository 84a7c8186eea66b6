"""The unfinished backfill's range: the hull of the backfills that started, gone when one
covering it finishes."""

from __future__ import annotations

from datetime import UTC, datetime

from sync.state import StateStore

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def day(n: int) -> datetime:
    return datetime(2026, 11, n, tzinfo=UTC)


def test_overlapping_unfinished_backfills_keep_the_range_covering_them_all(
    store: StateStore,
) -> None:
    assert store.backfills.range() is None
    store.backfills.begin(day(5), day(10), NOW)
    store.backfills.begin(day(8), day(20), NOW)
    assert store.backfills.range() == (day(5), day(20))
    store.backfills.finish(day(8), day(20))  # the first one is still unfinished
    assert store.backfills.range() == (day(5), day(20))
    store.backfills.finish(day(1), day(25))
    assert store.backfills.range() is None
    assert "backfill:unfinished" not in store.cursors.all()
