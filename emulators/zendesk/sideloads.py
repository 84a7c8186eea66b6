"""Sideloads (``?include=``): ``open_ticket_count`` on user lists, ``users`` on ticket lists
(the requesters, submitters and assignees of the page), ``metric_sets`` on the incremental
ticket export.

Zendesk answers ``users/show_many?ids=...&include=open_ticket_count`` with the users plus
``"open_ticket_count": {"<user id>": n}``: how many unsolved tickets (new, open, pending, on
hold) each user has requested. A client learns the load of a whole batch of requesters in one
request instead of one ``tickets/requested`` call per user.
"""

from __future__ import annotations

from typing import Any

from emulators.base import Request

from . import render
from .clock import iso
from .records import Ticket
from .store import Store

UNSOLVED = frozenset({"new", "open", "pending", "hold"})


def includes(request: Request) -> set[str]:
    """The sideload names asked for (``include=a,b`` or repeated ``include``)."""
    names: set[str] = set()
    for value in request.query.get("include", []):
        names.update(part.strip() for part in value.split(",") if part.strip())
    return names


def for_users(store: Store, request: Request, page: list[dict[str, Any]]) -> dict[str, Any]:
    """The sideloads to add to a body listing the users of ``page``."""
    if "open_ticket_count" not in includes(request):
        return {}
    user_ids = {int(user["id"]) for user in page}
    counts = dict.fromkeys(user_ids, 0)
    for ticket in store.tickets.values():
        if ticket.requester_id in counts and ticket.status in UNSOLVED:
            counts[ticket.requester_id] += 1
    return {"open_ticket_count": {str(user_id): n for user_id, n in sorted(counts.items())}}


def for_tickets(
    store: Store, request: Request, base: str, page: list[dict[str, Any]]
) -> dict[str, Any]:
    """The sideloads to add to a body listing the tickets of ``page``: ``include=users`` adds
    each user the tickets name (requester, submitter, assignee) once, as Zendesk does."""
    if "users" not in includes(request):
        return {}
    wanted = sorted(
        {
            int(t[role])
            for t in page
            for role in ("requester_id", "submitter_id", "assignee_id")
            if t.get(role) is not None
        }
    )
    users = [store.users[i] for i in wanted if i in store.users]
    return {"users": [render.user(u, base, store) for u in users]}


#: Roles whose public comments are replies in the ticket metrics.
AGENT_ROLES = frozenset({"agent", "admin"})


def metric_set(store: Store, ticket: Ticket, base: str) -> dict[str, Any]:
    """The ticket's metric set, as ``include=metric_sets`` sideloads it (``ticket_metrics``).

    ``replies`` counts agents' public comments after the first comment; the reply time runs from
    the ticket's creation to the first of them, in whole minutes (both calendar and business
    values are given the calendar time: the emulator has no schedule). ``solved_at`` is when the
    ticket was last solved, none while it is unsolved.
    """
    replies = [
        c
        for c in ticket.comments[1:]
        if c.public and getattr(store.users.get(c.author_id), "role", "") in AGENT_ROLES
    ]
    reply_minutes: dict[str, int] | None = None
    if replies:
        minutes = int((replies[0].created_at - ticket.created_at) // 60)
        reply_minutes = {"calendar": minutes, "business": minutes}
    solved_at: str | None = None
    reopens = 0
    for audit in ticket.audits:
        for event in audit.get("events") or ():
            if event.get("field_name") != "status" or event.get("type") not in ("Create", "Change"):
                continue
            if event.get("value") in ("solved", "closed"):
                keep = event.get("value") == "closed" and solved_at is not None
                solved_at = solved_at if keep else str(audit["created_at"])
            elif solved_at is not None:
                solved_at = None
                reopens += 1
    return {
        "url": f"{base}/api/v2/ticket_metrics/{ticket.id}.json",
        "id": ticket.id,
        "ticket_id": ticket.id,
        "created_at": iso(ticket.created_at),
        "updated_at": iso(ticket.updated_at),
        "replies": len(replies),
        "reopens": reopens,
        "reply_time_in_minutes": reply_minutes or {"calendar": None, "business": None},
        "solved_at": solved_at if ticket.status in ("solved", "closed") else None,
        "latest_comment_added_at": iso(ticket.comments[-1].created_at) if ticket.comments else None,
    }
