"""Loop metrics: how fast and how often detractors are reached, resolved and won back (pure).

Everything here is a function of plain records, so every figure can be checked by hand:

- **detractors**: responses scored 0-6 answered in the window;
- **contacted within SLA**: detractors first contacted by their first-contact deadline (those
  without a deadline count as within it once contacted), over all detractors;
- **time to contact / to resolution**: from the answer to the first contact / to the end of a
  resolved loop, in hours; the median (the mean of the two middle values for an even count) and
  the 90th percentile by nearest rank (the value at rank ``ceil(0.9 * n)``);
- **resolved**: detractors whose loop is ``resolved``; **never contacted**: detractors nobody has
  reached so far (no loop, ``open``, or ``closed`` without contact);
- **score recovery**: each detractor's next answer from the same person (by email), with the
  count of such pairs, the mean score before and after, and how many came back at 7 or more;
- **resurvey**: detractors whose loop was resurveyed (the survey tool was asked to survey them
  again), how many of those answered it (an answer naming the loop in its ``NPS Loop``
  property; the first one counts), the response rate, the mean score before and after, and how
  many came back at 7 or more;
- **past SLA**: loops still open past a deadline they have not met, by owner.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

DETRACTOR_MAX = 6
#: A later answer at or above this is a recovery.
RECOVERED_MIN = 7


@dataclass(frozen=True, slots=True)
class LoopRecord:
    """One response with what the loop report needs to know of it."""

    source: str
    response_id: str
    email: str
    score: int
    answered_at: datetime
    #: Who and what it belongs to, for ``--by``.
    owner: str = "(none)"
    team: str = "(none)"
    tier: str = "(none)"
    rule: str = "(none)"
    #: Its loop (None: no Task or ticket was made for it).
    state: str | None = None
    contacted_at: datetime | None = None
    ended_at: datetime | None = None
    #: Deadlines from the SLA that applies to it (None: no SLA).
    contact_due: datetime | None = None
    resolution_due: datetime | None = None
    #: Its loop was resurveyed; the loop this answer is a resurvey of (``source:response id``).
    resurveyed: bool = False
    follows: str | None = None
    #: The matched account, and how an ended loop ended: ``resolved``, ``churn_risk`` (resolved
    #: with that outcome) or the reason it closed without contact.
    account_id: str | None = None
    ending: str | None = None

    @property
    def detractor(self) -> bool:
        return self.score <= DETRACTOR_MAX


@dataclass(frozen=True, slots=True)
class Recovery:
    pairs: int = 0
    mean_before: float | None = None
    mean_after: float | None = None
    recovered: int = 0


@dataclass(frozen=True, slots=True)
class Resurvey:
    sent: int = 0
    answered: int = 0
    mean_before: float | None = None
    mean_after: float | None = None
    recovered: int = 0

    @property
    def response_rate(self) -> float | None:
        return self.answered / self.sent if self.sent else None


@dataclass(frozen=True, slots=True)
class Overdue:
    """An open loop past a deadline it has not met."""

    source: str
    response_id: str
    owner: str
    state: str
    #: ``first_contact`` or ``resolution``
    deadline: str
    due: datetime
    hours_over: float


@dataclass(frozen=True, slots=True)
class LoopMetrics:
    detractors: int = 0
    contacted_within_sla: int = 0
    contacted: int = 0
    resolved: int = 0
    never_contacted: int = 0
    contact_hours_median: float | None = None
    contact_hours_p90: float | None = None
    resolution_hours_median: float | None = None
    resolution_hours_p90: float | None = None
    #: Deadlines missed: first contact late or missing past its due time; resolution likewise.
    contact_breaches: int = 0
    resolution_breaches: int = 0
    recovery: Recovery = field(default_factory=Recovery)
    resurvey: Resurvey = field(default_factory=Resurvey)

    def share(self, count: int) -> float | None:
        return count / self.detractors if self.detractors else None


def hours(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 3600


def median(values: Sequence[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def p90(values: Sequence[float]) -> float | None:
    """The 90th percentile by nearest rank."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(0.9 * len(ordered)), 1) - 1]


def _late(due: datetime | None, done: datetime | None, now: datetime) -> bool:
    if due is None:
        return False
    return done > due if done is not None else now > due


def loop_metrics(
    records: Sequence[LoopRecord], now: datetime, *, history: Sequence[LoopRecord] | None = None
) -> LoopMetrics:
    """The metrics of ``records``; ``history`` (default: ``records``) holds the answers that
    later answers are looked up in for score recovery."""
    detractors = [r for r in records if r.detractor]
    contacts = [(r, r.contacted_at) for r in detractors if r.contacted_at is not None]
    within = [r for r, at in contacts if r.contact_due is None or at <= r.contact_due]
    ends = [(r, r.ended_at) for r in detractors if r.state == "resolved" and r.ended_at]
    to_contact = [hours(r.answered_at, at) for r, at in contacts]
    to_resolve = [hours(r.answered_at, at) for r, at in ends]
    resolution_ends = {(r.source, r.response_id): at for r, at in ends}
    return LoopMetrics(
        detractors=len(detractors),
        contacted_within_sla=len(within),
        contacted=len(contacts),
        resolved=len(ends),
        never_contacted=len(detractors) - len(contacts),
        contact_hours_median=median(to_contact),
        contact_hours_p90=p90(to_contact),
        resolution_hours_median=median(to_resolve),
        resolution_hours_p90=p90(to_resolve),
        contact_breaches=sum(_late(r.contact_due, r.contacted_at, now) for r in detractors),
        resolution_breaches=sum(
            _late(r.resolution_due, resolution_ends.get((r.source, r.response_id)), now)
            for r in detractors
            if r.state != "closed"
        ),
        recovery=recovery(detractors, history if history is not None else records),
        resurvey=resurvey(detractors, history if history is not None else records),
    )


def recovery(detractors: Iterable[LoopRecord], answers: Iterable[LoopRecord]) -> Recovery:
    """Each detractor's next answer from the same person, after theirs."""
    by_person: dict[str, list[LoopRecord]] = defaultdict(list)
    for answer in answers:
        by_person[answer.email.lower()].append(answer)
    for person in by_person.values():
        person.sort(key=lambda r: (r.answered_at, r.source, r.response_id))
    before: list[int] = []
    after: list[int] = []
    for r in detractors:
        later = [a for a in by_person.get(r.email.lower(), ()) if a.answered_at > r.answered_at]
        if later:
            before.append(r.score)
            after.append(later[0].score)
    if not before:
        return Recovery()
    return Recovery(
        pairs=len(before),
        mean_before=statistics.fmean(before),
        mean_after=statistics.fmean(after),
        recovered=sum(score >= RECOVERED_MIN for score in after),
    )


def resurvey(detractors: Iterable[LoopRecord], answers: Iterable[LoopRecord]) -> Resurvey:
    """The resurveyed detractors and the first answer naming each one's loop."""
    first: dict[str, LoopRecord] = {}
    for answer in sorted(answers, key=lambda r: (r.answered_at, r.source, r.response_id)):
        if answer.follows:
            first.setdefault(answer.follows, answer)
    sent = [r for r in detractors if r.resurveyed]
    pairs = [
        (r.score, first[k].score) for r in sent if (k := f"{r.source}:{r.response_id}") in first
    ]
    if not pairs:
        return Resurvey(sent=len(sent))
    return Resurvey(
        sent=len(sent),
        answered=len(pairs),
        mean_before=statistics.fmean(before for before, _ in pairs),
        mean_after=statistics.fmean(after for _, after in pairs),
        recovered=sum(after >= RECOVERED_MIN for _, after in pairs),
    )


def by_group(
    records: Sequence[LoopRecord], key: Callable[[LoopRecord], str], now: datetime
) -> dict[str, LoopMetrics]:
    """The metrics of each group of ``records`` (score recovery looks at every answer)."""
    groups: dict[str, list[LoopRecord]] = defaultdict(list)
    for r in records:
        groups[key(r)].append(r)
    return {name: loop_metrics(rows, now, history=records) for name, rows in sorted(groups.items())}


def overdue(records: Iterable[LoopRecord], now: datetime) -> list[Overdue]:
    """Open loops past a deadline they have not met, by owner and most overdue first."""
    found: list[Overdue] = []
    for r in records:
        if r.state not in ("open", "contacted"):
            continue
        if r.contacted_at is None and r.contact_due is not None and now > r.contact_due:
            found.append(
                Overdue(
                    r.source,
                    r.response_id,
                    r.owner,
                    r.state,
                    "first_contact",
                    r.contact_due,
                    hours(r.contact_due, now),
                )
            )
        elif r.resolution_due is not None and now > r.resolution_due:
            found.append(
                Overdue(
                    r.source,
                    r.response_id,
                    r.owner,
                    r.state,
                    "resolution",
                    r.resolution_due,
                    hours(r.resolution_due, now),
                )
            )
    return sorted(found, key=lambda o: (o.owner, -o.hours_over, o.source, o.response_id))
