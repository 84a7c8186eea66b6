"""What the customer context of a Task and of a ticket share.

Both show when the customer answered, the person's answers in the order they gave them (the one
at hand marked, the others labelled earlier or later by when they were answered, not by when
nps-sync saw them), their unsolved Zendesk tickets, and links to the records made for the same
response. The executors gather these facts per batch; this module shapes them for the templates.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from connectors.errors import ConnectorError
from connectors.models import category_of
from connectors.zendesk.records import OpenTicket
from sync.core.ports import OpenTickets
from sync.state import PastResponse

log = logging.getLogger(__name__)

#: Longest comment of another answer shown in full.
COMMENT_CHARS = 500


def answered_at(payload: Mapping[str, Any]) -> datetime | None:
    """When the customer answered (the response's ``submitted_at``), in UTC."""
    response = payload.get("response") or {}
    try:
        at = datetime.fromisoformat(str(response.get("submitted_at")))
    except ValueError:
        return None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def moment(at: datetime | None) -> str | None:
    """An absolute time a reader in any time zone can place: ``2026-12-01 14:03 UTC``."""
    if at is None:
        return None
    utc = at if at.tzinfo is UTC else at.astimezone(UTC)
    # ``isoformat`` and a slice: the same text as ``strftime("%Y-%m-%d %H:%M")``, in a third
    # of the time (every answer of every Task's and ticket's history is shown so).
    return f"{utc.isoformat(' ', 'minutes')[:16]} UTC"


def response_data(payload: Mapping[str, Any]) -> dict[str, object]:
    """The ``response`` variable: the payload's response, with ``answered`` as a moment."""
    response = dict(payload.get("response") or {})
    for name in ("score", "category", "comment", "submitted_at", "link", "survey_type"):
        response.setdefault(name, None)
    response["answered"] = moment(answered_at(payload))
    return response


def account_data(payload: Mapping[str, Any]) -> dict[str, object]:
    """The ``account`` variable: the matched account (every name present, None if unknown)."""
    account = dict(payload.get("account") or {})
    arr = account.get("arr")
    account["arr_text"] = f"{float(arr):,.0f}" if isinstance(arr, int | float) and arr else None
    owner = account.get("owner_email") or account.get("owner_id")
    if owner and account.get("owner_active") is False:  # left: nobody to ask there
        owner = f"{owner} (deactivated in Salesforce)"
    account["owner"] = owner
    for name in ("name", "tier", "renewal_date", "owner_id", "owner_email"):
        account.setdefault(name, None)
    return account


def timeline(
    answers: Sequence[PastResponse],
    source: str,
    response_id: str,
    payload: Mapping[str, Any],
    limit: int,
) -> list[dict[str, object]]:
    """The person's answers oldest first: up to ``limit`` before the one at hand, that one
    (``this``), and up to ``limit`` after it, each labelled by when it was answered."""
    ordered = sorted(answers, key=lambda a: (a.created_at, a.source, a.response_id))
    mine = next(
        (i for i, a in enumerate(ordered) if (a.source, a.response_id) == (source, response_id)),
        None,
    )
    if mine is None:  # not stored (yet): place it by its own answer time
        at = answered_at(payload)
        response = payload.get("response") or {}
        current = PastResponse(
            source,
            response_id,
            at or datetime.max.replace(tzinfo=UTC),
            int(response.get("score") or 0),
            str(response.get("comment") or ""),
        )
        ordered.append(current)
        ordered.sort(key=lambda a: (a.created_at, a.source, a.response_id))
        mine = ordered.index(current)
    start = max(mine - limit, 0)
    rows: list[dict[str, object]] = []
    for index, answer in enumerate(ordered[start : mine + limit + 1], start=start):
        when = "this answer" if index == mine else "earlier" if index < mine else "later"
        rows.append(
            {
                **_answer_row(answer),
                "when": when,
                "this": index == mine,
                "earlier": index < mine,
                "later": index > mine,
            }
        )
    return rows


@functools.lru_cache(maxsize=4096)
def _answer_row(answer: PastResponse) -> dict[str, object]:
    """What a history row shows of one answer, worked out once: a person's answers appear in
    the history of each of their Tasks and tickets. Callers copy it, never change it."""
    return {
        "date": answer.created_at.date().isoformat(),
        "at": moment(answer.created_at),
        "score": answer.score,
        "category": category_of(answer.score),
        "comment": shorten(answer.comment),
    }


def ticket_rows(tickets: Sequence[OpenTicket] | None) -> list[dict[str, object]] | None:
    """Unsolved tickets as ``{id, subject}``; None when they are not known."""
    if tickets is None:
        return None
    rows: list[dict[str, object]] = [{"id": t.id, "subject": t.subject} for t in tickets]
    return rows


def fetch_open_tickets(
    helpdesk: OpenTickets | None, user_ids: Sequence[int], seconds: float
) -> dict[int, list[OpenTicket]]:
    """Each requester's unsolved tickets, as far as Zendesk tells within about ``seconds``.

    The context is a courtesy: a Task or ticket without its open tickets beats none at all, so
    it is asked for once, with no retry, and no failure here (not even a refusal or a rate
    limit) stops the records being made. The time limit keeps the batch well inside its lease:
    another worker takes over a batch whose lease ran out, and must not find it half made.
    """
    ids = sorted(set(user_ids))
    if helpdesk is None or not ids:
        return {}
    try:
        return helpdesk.open_tickets(ids, until=time.monotonic() + seconds)
    except ConnectorError as exc:
        log.warning("open tickets left out of the customer context: %s", exc)
        return {}


def context_seconds(lease_seconds: float) -> float:
    """The time a batch may give the open tickets: a tenth of the lease, at most 10 s."""
    return min(lease_seconds / 10, 10.0)


def ticket_url(base: str, ticket_id: int | str) -> str:
    """The agent's view of a Zendesk ticket (``base`` is ``https://SUBDOMAIN.zendesk.com``)."""
    return f"{base.rstrip('/')}/agent/tickets/{ticket_id}"


def task_url(instance_url: str, task_id: str) -> str:
    """A Salesforce Task record on the org's instance."""
    return f"{instance_url.rstrip('/')}/lightning/r/Task/{task_id}/view"


def shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= COMMENT_CHARS else text[: COMMENT_CHARS - 1] + "…"


def sample_context(
    render: Callable[[Mapping[str, Any], Sequence[OpenTicket], list[dict[str, object]]], str],
) -> str | None:
    """Why a context template fails on a believable Task or ticket (an undefined name, an
    attribute the sandbox refuses), or None: it is rendered at start-up with made-up data, so
    that a mistake shows then, not as a warning and a missing block on every record made."""
    from rules import RenderError
    from sync.state.tickets import PastResponse

    at = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    payload: dict[str, Any] = {
        "email": "ann@acme.example",
        "person_name": "Ann Example",
        "submitted_at": at.isoformat(),
        "response": {"score": 3, "category": "detractor", "comment": "Too slow",
                     "submitted_at": at.isoformat(), "link": "https://survey.example/r/1",
                     "survey_type": "relationship"},
        "account": {"id": "001000000000001AAA", "name": "Acme", "tier": "Enterprise",
                    "arr": 120000.0, "renewal_date": "2026-09-30", "owner_email": "o@acme.example",
                    "owner_id": "005000000000001AAA"},
    }  # fmt: skip
    answers = [
        PastResponse("delighted", "earlier", datetime(2025, 11, 3, tzinfo=UTC), 8, "Fine"),
        PastResponse("delighted", "this", at, 3, "Too slow"),
    ]
    history = timeline(answers, "delighted", "this", payload, 3)
    tickets = [OpenTicket(id=12, subject="Export fails")]
    try:
        render(payload, tickets, history)
    except RenderError as error:
        return str(error)
    return None
