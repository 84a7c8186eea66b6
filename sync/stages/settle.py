"""Creates sent without an answer: not sent again until the system can no longer carry them out.

A create that timed out, lost its connection after the request left, or got a 5xx may have been
committed, or may still be: Salesforce runs an API request for up to ten minutes after its client
stopped waiting. A lookup by key made during that time can miss a record that appears a moment
later, and creating it again would make two. So the time each create is sent is stored with its
actions before the request leaves (:meth:`SettleWindow.sending`, it survives a crash), and an
action whose create is in doubt is looked up and, when not found, held (a deferral, not a
failure) until ``window`` has passed since that send; only a lookup after it that finds nothing
lets it be created again. While it is held it is looked up again every :data:`RECHECK_AFTER`, so
a create that landed late is adopted soon rather than at the end of the window.

A create that got no answer and was still not found once the window had passed failed: it
counts as one failure of its action, as any other retryable failure does, and the failure that
reaches ``max_attempts`` ends the action in the dead letters (:meth:`SettleWindow.given_up`)
instead of sending it again. So a system that never answers cannot keep an action going round
forever, and nothing it was sent can still land once the action is given up.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sync.state import ClaimedAction

#: How long a held action waits before it is looked up again (within the window).
RECHECK_AFTER = timedelta(minutes=1)
#: Salesforce ends an API request at ten minutes; a minute more for clocks and queues.
DEFAULT_WINDOW = timedelta(minutes=11)

#: Stores "these actions' create was sent at this time" (``Outbox.note_sent``).
NoteSent = Callable[[Sequence[str], datetime], None]


@dataclass(frozen=True)
class Hold:
    """An action kept from being created again: until when, and since when it is in doubt."""

    key: str
    until: datetime
    since: datetime
    reason: str


@dataclass(frozen=True)
class SettleWindow:
    """How long a create sent unanswered may still land, the clock, and where sends are noted."""

    clock: Callable[[], datetime]
    window: timedelta = DEFAULT_WINDOW
    note: NoteSent | None = None
    #: Sends of fewer actions than this are not noted: they are made one request each, answered
    #: when done (or safe to repeat), and leave nothing queued that could land after a crash.
    #: Zendesk's bulk jobs start at two.
    note_from: int = 1
    #: The system the creates go to, as its users know it: named when it never answers.
    system: str = ""
    #: Failures that end an action in the dead letters (``max_attempts``); None: never here.
    max_failures: int | None = None

    def sending(self, keys: Sequence[str]) -> datetime:
        """The time a create carrying ``keys`` leaves, noted in the store first."""
        at = self.clock()
        if self.note is not None and keys and len(keys) >= self.note_from:
            self.note(keys, at)
        return at

    def in_doubt(self, actions: Sequence[ClaimedAction]) -> dict[str, datetime]:
        """When each action's create was sent unanswered, for those an earlier attempt left so."""
        return {a.key: a.in_doubt_since for a in actions if a.in_doubt_since is not None}

    def hold(self, key: str, since: datetime, reason: str = "") -> Hold | None:
        """A hold for an action in doubt since ``since`` that was not found; None once the window
        has passed (a lookup that finds nothing then is final)."""
        now = self.clock()
        settled = since + self.window
        if now >= settled:
            return None
        why = reason or "its earlier create got no answer"
        text = f"{why}; waiting until {settled:%H:%M:%S} UTC before creating it again"
        return Hold(key, min(settled, now + RECHECK_AFTER), since, text)

    def within(self, since: datetime) -> bool:
        """Whether a create sent unanswered at ``since`` may still land."""
        return self.clock() < since + self.window

    def holding(self, action: ClaimedAction) -> bool:
        """Whether ``action`` is in doubt and held: it is looked up, never sent, this time."""
        since = action.in_doubt_since
        return since is not None and self.within(since)

    def lapsed(self, in_doubt: Mapping[str, datetime], found: Mapping[str, object]) -> set[str]:
        """The actions whose unanswered create was not found once it could no longer land: that
        create failed (each counts once, as a failure of its action)."""
        return {k for k, since in in_doubt.items() if k not in found and not self.within(since)}

    def given_up(self, action: ClaimedAction, since: datetime) -> str | None:
        """The error that ends ``action`` when its lapsed create (sent at ``since``) is its
        ``max_failures``-th failure; None while it may be sent again."""
        if self.max_failures is None or action.failures + 1 < self.max_failures:
            return None
        system = self.system or "the system"
        return (
            f"{system} never answered: this {action.kind} action (rule {action.rule!r}, "
            f"response {action.source}/{action.response_id}) was last sent at "
            f"{since:%Y-%m-%d %H:%M:%S} UTC, got no answer and had not taken effect "
            f"{_duration(self.window)} later; it has now failed {action.failures + 1} times "
            f"(max_attempts {self.max_failures}) and is not sent again. Retrying it "
            "(nps-sync failed retry) looks it up before sending it"
        )

    def holds(self, in_doubt: Mapping[str, datetime], found: Mapping[str, object]) -> list[Hold]:
        """Holds for the actions in doubt that were not found and are still within the window."""
        held = (self.hold(k, since) for k, since in in_doubt.items() if k not in found)
        return [h for h in held if h is not None]


def _duration(span: timedelta) -> str:
    seconds = span.total_seconds()
    return f"{seconds / 60:g} minutes" if seconds >= 60 else f"{seconds:g} seconds"
