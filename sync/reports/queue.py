"""The frontline call list: whom an account owner should call today, why, and what to do.

Who is on it: the owner's detractors (0-6) whose loop is not over (no Task or ticket yet, or
open, or contacted and not resolved), and passives (7-8) whose account renews within
:data:`RENEWAL_SOON` and who nobody has contacted yet.

The order (most urgent first) compares, in turn:

1. the loop's SLA: past a deadline first, then due within :data:`DUE_SOON`, then the rest;
2. the score, lowest first;
3. the account's ARR, largest first (unknown last);
4. the renewal date, soonest first (unknown last);
5. when they answered, oldest first (then source and response id, so the order is total).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from sync.reports.answers import Answer

RENEWAL_SOON = timedelta(days=90)
DUE_SOON = timedelta(hours=24)
OVER = ("resolved", "closed")

PAST_SLA, DUE_TODAY, IN_TIME = "past_sla", "due_today", "in_time"
SLA_RANK = {PAST_SLA: 0, DUE_TODAY: 1, IN_TIME: 2}


@dataclass(frozen=True, slots=True)
class Call:
    """One person to call, with why and what to do."""

    answer: Answer
    sla: str
    #: The deadline that sets ``sla`` (the first contact's until contacted, then resolution).
    due: datetime | None
    reasons: tuple[str, ...]
    next_step: str

    def urgency(self) -> tuple[int, int, float, date, datetime, str, str]:
        a = self.answer
        return (
            SLA_RANK[self.sla],
            a.score,
            -(a.arr if a.arr is not None else -1.0),
            a.renewal_date or date.max,
            a.answered_at,
            a.source,
            a.response_id,
        )


def on_the_list(answer: Answer, today: date) -> bool:
    loop = answer.loop
    state = loop.state if loop else None
    if state in OVER:
        return False
    if answer.score <= 6:
        return True
    contacted = loop is not None and loop.contacted_at is not None
    renews = answer.renewal_date
    return (
        answer.score <= 8
        and not contacted
        and renews is not None
        and today <= renews <= today + RENEWAL_SOON
    )


def call_of(answer: Answer, now: datetime) -> Call:
    loop = answer.loop
    contacted = loop is not None and loop.contacted_at is not None
    due = None
    if loop is not None:
        due = loop.resolution_due if contacted else loop.contact_due
    if due is not None and now > due:
        sla = PAST_SLA
    elif due is not None and due - now <= DUE_SOON:
        sla = DUE_TODAY
    else:
        sla = IN_TIME
    return Call(
        answer, sla, due, _reasons(answer, sla, due, contacted, now), _step(answer, contacted)
    )


def _reasons(
    a: Answer, sla: str, due: datetime | None, contacted: bool, now: datetime
) -> tuple[str, ...]:
    reasons = [f"{a.category} (score {a.score})"]
    step = "resolution" if contacted else "first contact"
    if sla == PAST_SLA and due is not None:
        reasons.append(f"{step} overdue by {_hours(now - due)}")
    elif sla == DUE_TODAY and due is not None:
        reasons.append(f"{step} due in {_hours(due - now)}")
    if a.renewal_date is not None:
        days = (a.renewal_date - now.date()).days
        if 0 <= days <= RENEWAL_SOON.days:
            reasons.append(f"renews in {days} days")
    if a.arr:
        reasons.append(f"ARR {a.arr:,.0f}")
    return tuple(reasons)


def _hours(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours:.0f} h" if hours < 48 else f"{hours / 24:.0f} days"


def _step(a: Answer, contacted: bool) -> str:
    who = a.person_name or a.email
    if contacted:
        return f"Follow up with {who} on what was agreed, then resolve the loop"
    if a.score >= 7:
        return (
            f"Check in with {who} before the renewal on {a.renewal_date}: "
            "ask what would make it a 9"
        )
    if a.comment.strip():
        return f"Call {who}: acknowledge their comment and agree a fix with a date"
    return f"Call {who}: ask what drove the score of {a.score} and agree a fix"


def call_list(answers: Iterable[Answer], owner: str, now: datetime) -> list[Call]:
    """``owner``'s calls for today (by owner email, any case), most urgent first: one per
    person, the most urgent of their open answers, saying how many more they left."""
    wanted = owner.strip().lower()
    calls = [
        call_of(a, now) for a in answers if a.owner_email == wanted and on_the_list(a, now.date())
    ]
    by_person: dict[str, list[Call]] = {}
    for call in sorted(calls, key=Call.urgency):
        by_person.setdefault(call.answer.email, []).append(call)
    once: list[Call] = []
    for first, *more in by_person.values():
        if more:
            also = f"{len(more)} more open answer{'s' if len(more) > 1 else ''} of theirs"
            first = replace(first, reasons=(*first.reasons, also))
        once.append(first)
    return sorted(once, key=Call.urgency)


def call_json(call: Call) -> dict[str, object]:
    a = call.answer
    loop = a.loop
    return {
        "source": a.source,
        "response_id": a.response_id,
        "person": a.person_name or None,
        "email": a.email,
        "score": a.score,
        "category": a.category,
        "comment": a.comment,
        "answered_at": a.answered_at,
        "account": {
            "id": a.account_id,
            "name": a.account_name or None,
            "tier": a.tier or None,
            "arr": a.arr,
            "renewal_date": a.renewal_date,
        },
        "loop": {
            "state": loop.state if loop else None,
            "contacted_at": loop.contacted_at if loop else None,
            "sla": call.sla,
            "due": call.due,
        },
        "reasons": list(call.reasons),
        "next_step": call.next_step,
    }


def call_text(calls: list[Call], owner: str, now: datetime) -> str:
    """The list as plain text, for email and Slack: one paragraph per call."""
    if not calls:
        return f"No one to call today ({now:%Y-%m-%d}), {owner}: every loop is closed or in time."
    lines = [f"{len(calls)} to call today ({now:%Y-%m-%d}), most urgent first:", ""]
    for i, call in enumerate(calls, 1):
        a = call.answer
        account = a.account_name or "(no account)"
        lines.append(f"{i}. {a.person_name or a.email} at {account}: {'; '.join(call.reasons)}")
        if a.comment.strip():
            lines.append(f'   Said: "{a.comment.strip()}"')
        lines.append(f"   Next: {call.next_step}")
    return "\n".join(lines)
