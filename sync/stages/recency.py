"""Which responses are recent enough to act on (``routing.act_on_responses_newer_than``).

An answer is news for a while; a year-old complaint is history. A response submitted longer ago
than the window when it is routed is still stored, matched and counted in the NPS fields, but no
rule acts on it, and its decision says why. The age counts from the original submission, so an
edit (the comment arriving later) does not make an old answer new again. Live routing, ``rules
explain`` and ``rules replay`` all decide with :func:`too_old`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from rules import format_duration

#: The config setting, named in every note so that a reader knows what to change.
SETTING = "routing.act_on_responses_newer_than"


def too_old(submitted_at: datetime, routed_at: datetime, window: timedelta | None) -> str | None:
    """Why a response submitted at ``submitted_at`` and routed at ``routed_at`` gets no action;
    None when it is newer than ``window`` (None: every response is acted on)."""
    if window is None or routed_at - submitted_at < window:
        return None
    days = (routed_at - submitted_at).days
    return (
        f"too old to act on: answered {submitted_at.date().isoformat()}, "
        f"{days} day{'s' if days != 1 else ''} ago; acts only on responses newer than "
        f"{format_duration(window)} ({SETTING})"
    )


#: How a decision's note begins when an unfinished backfill's range made the answer history.
BACKFILL_HISTORY = "history: answered inside the range of an unfinished backfill"


def being_backfilled(
    submitted_at: datetime, backfilling: tuple[datetime, datetime] | None
) -> str | None:
    """Why a response answered inside an unfinished backfill's range gets no action: the
    backfill records it as history, and it must not matter who reads it first."""
    if backfilling is None or not backfilling[0] <= submitted_at < backfilling[1]:
        return None
    since, until = (moment.date().isoformat() for moment in backfilling)
    return f"{BACKFILL_HISTORY} ({since} to {until}); no action, as the backfill records it"


def recorded_as_backfill_history(decision: Mapping[str, Any] | None) -> str | None:
    """The note live routing left on a response that an unfinished backfill's range made
    history, so that ``rules explain`` and ``rules replay`` take it as routing did."""
    notes = (decision or {}).get("notes") or ()
    return next((n for n in notes if isinstance(n, str) and n.startswith(BACKFILL_HISTORY)), None)


def history_summary(count: int, window: timedelta, *, backfilling: bool = False) -> str:
    """The line a pass prints when it stored responses as history only (``backfilling``: an
    unfinished backfill's range made some of them history)."""
    which = f"older than {format_duration(window)}" + (
        " or answered inside the unfinished backfill's range" if backfilling else ""
    )
    return (
        f"{count} response{'s' if count != 1 else ''} {which} "
        f"stored as history only: no Tasks, tickets or notifications, but their scores count in "
        f"the NPS fields ({SETTING}). To import history deliberately before the first run, use "
        "`nps-sync backfill --since DATE`."
    )
