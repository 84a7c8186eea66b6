"""After a state restore: what may exist already is looked up before it is created.

The outbox is what keeps an action from happening twice. A state database restored from a
backup (or replaced by an empty one) has forgotten the Tasks and tickets made since: the next
passes pull those answers again and would make them again. ``nps-sync state restored`` records
the moment up to which the world may be ahead of the store (``verify:answered-before`` among the
cursors): every action of an answer given before it is looked up by its key before its first
create, as an action whose create was cut short is, and one found is recorded as done. Actions
of later answers are created as usual. The mark goes once no answer before it can be acted on
(the act window has passed it).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sync.state.runs import Cursors

VERIFY_KEY = "verify:answered-before"


class RestoredState:
    """The moment before which answers' actions are looked up before they are created."""

    def __init__(self, cursors: Cursors) -> None:
        self._cursors = cursors

    def verify_before(self) -> datetime | None:
        value = self._cursors.get(VERIFY_KEY)
        return datetime.fromisoformat(value) if value else None

    def mark(self, answered_before: datetime, now: datetime) -> datetime:
        """Verify the actions of answers given before ``answered_before`` (a later mark
        already there stays); returns the moment in force."""
        current = self.verify_before()
        moment = max(answered_before, current) if current else answered_before
        self._cursors.set(VERIFY_KEY, moment.isoformat(), now)
        return moment

    def in_force(
        self, now: datetime, act_window: timedelta | None, stored: str | None
    ) -> datetime | None:
        """The moment of the mark as ``stored`` (its cursor row's value), or None; the mark is
        dropped once every answer before it is older than the act window (none of them can be
        acted on any more)."""
        moment = datetime.fromisoformat(stored) if stored else None
        if moment is not None and act_window is not None and moment + act_window < now:
            self._cursors.delete(VERIFY_KEY)
            return None
        return moment
