"""Sideloads (``?include=``) on user lists: ``open_ticket_count``.

Zendesk answers ``users/show_many?ids=...&include=open_ticket_count`` with the users plus
``"open_ticket_count": {"<user id>": n}``: how many unsolved tickets (new, open, pending, on
hold) each user has requested. A client learns the load of a whole batch of requesters in one
request instead of one ``tickets/requested`` call per user.
"""

from __future__ import annotations

from typing import Any

from emulators.base import Request

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
