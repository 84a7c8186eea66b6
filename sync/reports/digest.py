"""The team leads' weekly digest: new detractors, open loops past their SLA, repeat themes and
segments that moved.

Pure. The week is the seven days up to the moment it is made for, labelled with the ISO week
that holds most of them (``2026-W44``; a digest made on Monday morning is the week before's),
which also keys its sends: one digest per week and recipient.

- **new detractors**: answers scored 0-6 in the week, lowest score first, then largest ARR;
- **past SLA**: loops still open past a deadline they have not met (answers of the last
  :data:`LOOKBACK`), most overdue first;
- **repeat themes**: themes that detractors' comments of the week mention :data:`REPEAT_AT` or
  more times (only when comment themes are computed: ``themes`` given);
- **segment movements**: tiers, regions and industries whose NPS over the last
  :data:`MOVEMENT_WINDOW` differs from the window before by more than the 95% interval of the
  difference (:func:`sync.reports.nps.moved`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sync.loop.metrics import Overdue, overdue
from sync.reports.answers import Answer, latest_each
from sync.reports.executive import SEGMENTS
from sync.reports.nps import Nps, moved, nps_of

WEEK = timedelta(days=7)
LOOKBACK = timedelta(days=90)
MOVEMENT_WINDOW = timedelta(days=28)
REPEAT_AT = 3

#: The comment themes of an answer (from comment text analysis, when it exists).
Themes = Callable[[Answer], Sequence[str]]


@dataclass(frozen=True, slots=True)
class Movement:
    dimension: str
    segment: str
    before: Nps
    now: Nps


@dataclass(frozen=True, slots=True)
class Digest:
    label: str
    since: datetime
    until: datetime
    week: Nps
    new_detractors: list[Answer]
    past_sla: list[Overdue]
    #: None when comment themes are not computed.
    repeat_themes: list[tuple[str, int]] | None
    movements: list[Movement]


def week_label(until: datetime) -> str:
    """The ISO week holding the middle of the seven days up to ``until``."""
    year, week, _ = (until - timedelta(days=3.5)).isocalendar()
    return f"{year}-W{week:02d}"


def stored_themes(answer: Answer) -> Sequence[str]:
    """The themes the comment analysis stored for the answer."""
    return answer.themes or ()


def digest(answers: Sequence[Answer], until: datetime, themes: Themes | None = None) -> Digest:
    """The digest of the week up to ``until`` from ``answers`` (those after it are left out);
    ``themes`` gives an answer's comment themes (None: not computed)."""
    since = until - WEEK
    known = [a for a in answers if a.answered_at <= until]
    week = [a for a in known if a.answered_at > since]
    detractors = sorted(
        (a for a in week if a.score <= 6),
        key=lambda a: (a.score, -(a.arr or 0.0), a.answered_at, a.source, a.response_id),
    )
    loops = [a.loop for a in known if a.loop is not None and a.answered_at > until - LOOKBACK]
    # Owners as the new detractors show them (the account owner's email), where one is known.
    owner_of = {(a.source, a.response_id): a.owner_email for a in known if a.owner_email}
    late = sorted(
        (
            replace(o, owner=owner_of.get((o.source, o.response_id), o.owner))
            for o in overdue(loops, until)
        ),
        key=lambda o: (-o.hours_over, o.source, o.response_id),
    )
    repeat = None
    if themes is not None:
        counts = Counter(theme for a in detractors for theme in dict.fromkeys(themes(a)))
        repeat = sorted(
            ((t, c) for t, c in counts.items() if c >= REPEAT_AT), key=lambda x: (-x[1], x[0])
        )
    return Digest(
        label=week_label(until),
        since=since,
        until=until,
        week=nps_of(a.score for a in latest_each(week)),
        new_detractors=detractors,
        past_sla=late,
        repeat_themes=repeat,
        movements=movements(known, until),
    )


def movements(answers: Sequence[Answer], until: datetime) -> list[Movement]:
    """Segments whose NPS of the last window moved beyond the interval from the window before."""
    recent_start, older_start = until - MOVEMENT_WINDOW, until - 2 * MOVEMENT_WINDOW
    found: list[Movement] = []
    for dimension, key in SEGMENTS.items():
        recent: dict[str, list[int]] = defaultdict(list)
        older: dict[str, list[int]] = defaultdict(list)
        for a in latest_each([a for a in answers if recent_start < a.answered_at <= until]):
            recent[key(a)].append(a.score)
        for a in latest_each([a for a in answers if older_start < a.answered_at <= recent_start]):
            older[key(a)].append(a.score)
        for segment in sorted(recent):
            before, now = nps_of(older.get(segment, [])), nps_of(recent[segment])
            if moved(before, now):
                found.append(Movement(dimension, segment, before, now))
    return found


def digest_json(d: Digest) -> dict[str, Any]:
    """The digest's figures by name (``nps-sync digest --json``). Comments are left out: the
    digest goes to channels wider than the account's owner."""
    return {
        "week": d.label,
        "since": d.since,
        "until": d.until,
        "nps": d.week.to_json(),
        "new_detractors": [
            {
                "source": a.source,
                "response_id": a.response_id,
                "person": a.person_name or None,
                "email": a.email,
                "score": a.score,
                "answered_at": a.answered_at,
                "account": a.account_name or None,
                "arr": a.arr,
                "owner": a.owner,
                "loop_state": a.loop.state if a.loop else None,
            }
            for a in d.new_detractors
        ],
        "past_sla": [
            {
                "source": o.source,
                "response_id": o.response_id,
                "owner": o.owner,
                "state": o.state,
                "deadline": o.deadline,
                "due": o.due,
                "hours_over": round(o.hours_over, 1),
            }
            for o in d.past_sla
        ],
        "repeat_themes": None
        if d.repeat_themes is None
        else [{"theme": t, "detractors": c} for t, c in d.repeat_themes],
        "segment_movements": [
            {
                "dimension": m.dimension,
                "segment": m.segment,
                "before": m.before.to_json(),
                "now": m.now.to_json(),
            }
            for m in d.movements
        ],
    }


def digest_text(d: Digest, limit: int = 15) -> str:
    """The digest as plain text for Slack and email (no survey comments)."""
    n = d.week
    score = (
        "no answers"
        if n.score is None
        else f"NPS {n.score:+.0f} ({n.low:+.0f} to {n.high:+.0f}, n={n.n})"
    )
    lines = [f"NPS digest {d.label} ({d.since:%Y-%m-%d} to {d.until:%Y-%m-%d}): {score}", ""]
    lines.append(f"New detractors: {len(d.new_detractors)}")
    for a in d.new_detractors[:limit]:
        arr = f", ARR {a.arr:,.0f}" if a.arr else ""
        lines.append(
            f"- {a.score}: {a.person_name or a.email} at {a.account_name or '(no account)'}"
            f"{arr}, owner {a.owner}"
        )
    if len(d.new_detractors) > limit:
        lines.append(f"- and {len(d.new_detractors) - limit} more")
    lines += ["", f"Open loops past SLA: {len(d.past_sla)}"]
    by_owner = Counter(o.owner for o in d.past_sla)
    for owner, count in sorted(by_owner.items(), key=lambda x: (-x[1], x[0]))[:limit]:
        worst = max(o.hours_over for o in d.past_sla if o.owner == owner)
        lines.append(f"- {owner}: {count} (longest {worst / 24:.1f} days over)")
    lines.append("")
    if d.repeat_themes is None:
        lines.append("Repeat themes: comment themes are not computed.")
    elif d.repeat_themes:
        themes = ", ".join(f"{t} ({c})" for t, c in d.repeat_themes)
        lines.append(f"Repeat themes among detractors: {themes}")
    else:
        lines.append(f"Repeat themes: none mentioned {REPEAT_AT}+ times by detractors.")
    lines.append("")
    if d.movements:
        lines.append(
            "Segments that moved (last 28 days against the 28 before, beyond the 95% interval):"
        )
        for m in d.movements:
            lines.append(
                f"- {m.dimension} {m.segment}: {m.before.score:+.0f} -> {m.now.score:+.0f} "
                f"(n={m.before.n} -> {m.now.n})"
            )
    else:
        lines.append("No segment moved beyond its interval in the last 28 days.")
    return "\n".join(lines)
