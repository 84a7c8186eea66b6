"""The unfinished backfill's range: the hull of the backfills that started, gone when one
covering it finishes."""

from __future__ import annotations

from datetime import UTC, datetime

from sync.app.report import unfinished_backfill_warnings
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


def test_the_warning_names_a_command_that_covers_the_whole_range() -> None:
    (line,) = unfinished_backfill_warnings(
        0, ["2025-12-01T00:00:00+00:00", "2026-12-07T05:00:00.250000+00:00"]
    )
    # The end rounded up to the second: a re-run with it reads every answer of the range.
    assert "`nps-sync backfill --since 2025-12-01 --until 2026-12-07T05:00:01Z`" in line
