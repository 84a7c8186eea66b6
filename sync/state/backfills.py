"""The answer dates of a backfill that started reading its sources and has not finished.

Until it finishes, an answer given inside that range is history to routing, whoever pulls it
first: what the backfill had not read when it was killed must not become Tasks and tickets when
the daemon reads it instead. Kept as one row of ``nps_cursors`` (``backfill:unfinished``,
``SINCE/UNTIL``), so ``status`` shows it with the cursors; overlapping unfinished backfills
keep the range that covers them all.
"""

from __future__ import annotations

from datetime import datetime

from sync.state.runs import Cursors

UNFINISHED_KEY = "backfill:unfinished"


def as_iso(moments: tuple[datetime, datetime] | None) -> list[str] | None:
    """A range as run reports and JSON documents keep it (ISO 8601 start and end)."""
    return [moment.isoformat() for moment in moments] if moments else None


def parse_range(value: str | None) -> tuple[datetime, datetime] | None:
    """The range as its cursor row keeps it (``SINCE/UNTIL``), or None."""
    if not value:
        return None
    since, _, until = value.partition("/")
    return datetime.fromisoformat(since), datetime.fromisoformat(until)


class UnfinishedBackfill:
    """Where history is being imported: answers from ``since`` up to ``until``."""

    def __init__(self, cursors: Cursors) -> None:
        self._cursors = cursors

    def range(self) -> tuple[datetime, datetime] | None:
        """The unfinished range, or None when every backfill that started has finished."""
        return parse_range(self._cursors.get(UNFINISHED_KEY))

    def range_iso(self) -> list[str] | None:
        """:meth:`range` as :func:`as_iso` gives it."""
        return as_iso(self.range())

    def begin(self, since: datetime, until: datetime, now: datetime) -> None:
        """Mark ``[since, until)`` as being imported (before the first page is read)."""
        current = self.range()
        if current is not None:
            since, until = min(since, current[0]), max(until, current[1])
        self._cursors.set(UNFINISHED_KEY, f"{since.isoformat()}/{until.isoformat()}", now)

    def finish(self, since: datetime, until: datetime) -> None:
        """A backfill of ``[since, until)`` read every source to the end: the mark goes when
        that covers it (another unfinished range keeps it)."""
        current = self.range()
        if current is not None and since <= current[0] and current[1] <= until:
            self._cursors.delete(UNFINISHED_KEY)
