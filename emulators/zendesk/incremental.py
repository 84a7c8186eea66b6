"""Incremental exports: tickets and users by cursor; tickets, users and ticket events by time.

Records stream in ``updated_at`` order; every write moves a record to the end of the stream, so
a record updated after it was exported shows up again on a later page, a deleted ticket shows
up once more with status ``deleted`` and a deleted user once more inactive. The cursor is the
position of the last record returned, which a client may store and resume from at any time.

Time-based pages (``incremental/tickets``, ``incremental/users``) follow recorded traffic: a
page spanning several seconds ends with ``end_time`` = its last record's second, and the
``next_page`` starts there again, so records sharing that second come twice (clients must drop
the duplicates); a page within one second holds that whole second, however many records it
has, and its ``end_time`` is the next second.

The ticket event export lists each ticket update (an audit) as an ``Audit`` event whose
``child_events`` are the audit's events. A comment is a child event that says only whether it is
there and public, unless ``include=comment_events`` asks for the comment itself (its body).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from emulators.base import Request, Response

from . import render, sideloads
from .context import Call, Context, ok
from .errors import bad_request
from .paging import absolute
from .records import Ticket, User
from .store import Store

MAX_PER_PAGE = 1000
MIN_AGE_SECONDS = 60

Position = tuple[float, int]
#: A record of a time-based export: when it changed, a tie-break, how to draw it, the record.
_Timed = tuple[float, int, Callable[[Any], dict[str, Any]], Any]


def export_page(store: Store, request: Request) -> dict[str, Any]:
    """One page of the cursor-based ticket export."""

    def draw(ticket: Ticket) -> dict[str, Any]:
        return render.ticket(ticket, request.base_url, store, generated_timestamp=True)

    records = [(t.updated_at, t.sequence, draw, t) for t in _all_tickets(store)]
    body, page = _cursor_page(request, store.clock.now(), "tickets", records)
    if "metric_sets" in sideloads.includes(request):
        body["metric_sets"] = [sideloads.metric_set(store, t, request.base_url) for t in page]
    return body


def export_users_page(store: Store, request: Request) -> dict[str, Any]:
    """One page of the cursor-based user export: every user, end users and staff, deleted
    ones inactive (and without email)."""
    records = [
        (u.updated_at, u.id, _user_drawer(request.base_url, store), u) for u in store.users.values()
    ]
    return _cursor_page(request, store.clock.now(), "users", records)[0]


def _user_drawer(base: str, store: Store) -> Callable[[User], dict[str, Any]]:
    def draw(user: User) -> dict[str, Any]:
        body = render.user(user, base, store)
        if user.deleted:
            body["permanently_deleted"] = False
        return body

    return draw


def _cursor_page(
    request: Request, now: float, key: str, records: Sequence[_Timed]
) -> tuple[dict[str, Any], list[Any]]:
    """One cursor page over ``(updated_at, tiebreak, render, record)`` tuples: its body, and
    the records it holds (for sideloads)."""
    position = _start_position(request, now)
    per_page = _per_page(request)
    stream = sorted((r for r in records if (r[0], r[1]) > position), key=lambda r: (r[0], r[1]))
    page = stream[:per_page]
    last = (page[-1][0], page[-1][1]) if page else position
    cursor = encode(last)
    params = {"cursor": cursor}
    if request.arg("per_page"):
        params["per_page"] = str(per_page)
    body: dict[str, Any] = {
        key: [draw(record) for _updated, _order, draw, record in page],
        "after_url": absolute(request, request.path, params),
        "before_url": None,
        "after_cursor": cursor,
        "before_cursor": None,
        "end_of_stream": len(stream) <= per_page,
    }
    return body, [record for _updated, _order, _draw, record in page]


def _all_tickets(store: Store) -> list[Ticket]:
    return [*store.tickets.values(), *store.deleted_tickets.values()]


def _start_position(request: Request, now: float) -> Position:
    cursor = request.arg("cursor")
    if cursor:
        return decode(cursor)
    return (float(_start_time(request, now)), -1)


def _start_time(request: Request, now: float) -> int:
    start_time = request.arg("start_time")
    if start_time is None or start_time == "":
        raise bad_request("InvalidPaginationParameter", "start_time or cursor is required")
    try:
        start = int(start_time)
    except ValueError:
        raise bad_request("InvalidValue", "start_time must be a Unix timestamp") from None
    if start > now - MIN_AGE_SECONDS:
        raise bad_request(
            "InvalidValue", "Too recent start_time. Use a start_time older than 1 minute"
        )
    return start


def _per_page(request: Request) -> int:
    raw = request.arg("per_page")
    if not raw:
        return MAX_PER_PAGE
    try:
        value = int(raw)
    except ValueError:
        raise bad_request("InvalidValue", "per_page must be an integer") from None
    return max(1, min(value, MAX_PER_PAGE))


def encode(position: Position) -> str:
    return base64.b64encode(f"{position[0]!r}||{position[1]}|".encode()).decode()


def decode(token: str) -> Position:
    try:
        updated, _, sequence, _ = base64.b64decode(token, validate=True).decode().split("|")
        return (float(updated), int(sequence))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise bad_request("InvalidValue", "The cursor is not valid") from None


def export(ctx: Context, call: Call) -> Response:
    return ok(export_page(ctx.store, call.request))


def export_users(ctx: Context, call: Call) -> Response:
    return ok(export_users_page(ctx.store, call.request))


def export_tickets_by_time(ctx: Context, call: Call) -> Response:
    def render_ticket(ticket: Ticket) -> dict[str, Any]:
        return render.ticket(ticket, call.base, ctx.store, generated_timestamp=True)

    records = [(t.updated_at, t.sequence, render_ticket, t) for t in _all_tickets(ctx.store)]
    return ok(_time_page(call.request, ctx.now(), "tickets", records))


def export_users_by_time(ctx: Context, call: Call) -> Response:
    draw = _user_drawer(call.base, ctx.store)
    records = [(u.updated_at, u.id, draw, u) for u in ctx.store.users.values()]
    return ok(_time_page(call.request, ctx.now(), "users", records))


def export_ticket_events(ctx: Context, call: Call) -> Response:
    """One page of ``incremental/ticket_events``: every ticket update, deleted tickets' too."""
    comments = "comment_events" in sideloads.includes(call.request)

    def draw(audit: dict[str, Any]) -> dict[str, Any]:
        return _ticket_event(audit, comments=comments)

    records = [
        (datetime.fromisoformat(audit["created_at"]).timestamp(), int(audit["id"]), draw, audit)
        for ticket in _all_tickets(ctx.store)
        for audit in ticket.audits
    ]
    return ok(_time_page(call.request, ctx.now(), "ticket_events", records))


#: How the event export names the channel of an update made through the API.
_API_VIA = "Web service"


def _ticket_event(audit: dict[str, Any], *, comments: bool) -> dict[str, Any]:
    created = datetime.fromisoformat(audit["created_at"])
    return {
        "id": audit["id"],
        "ticket_id": audit["ticket_id"],
        "timestamp": int(created.timestamp()),
        "created_at": audit["created_at"],
        "updater_id": audit["author_id"],
        "via": _API_VIA,
        "system": dict(audit.get("metadata", {}).get("system") or {}),
        "event_type": "Audit",
        "child_events": [_child_event(e, audit, comments=comments) for e in audit["events"]],
        "merged_ticket_ids": [],
    }


def _child_event(event: dict[str, Any], audit: dict[str, Any], *, comments: bool) -> dict[str, Any]:
    kind = str(event.get("type"))
    base: dict[str, Any] = {"id": event["id"], "via_reference_id": None}
    if kind == "Comment" and comments:
        return {
            **base,
            "via": render.via("api"),
            "type": "Comment",
            "author_id": event.get("author_id"),
            "body": event.get("body"),
            "html_body": event.get("html_body"),
            "public": event.get("public"),
            "attachments": list(event.get("attachments") or []),
            "audit_id": audit["id"],
            "created_at": audit["created_at"],
            "event_type": "Comment",
        }
    if kind == "Comment":
        return {
            **base,
            "via": _API_VIA,
            "comment_present": True,
            "comment_public": bool(event.get("public")),
            "event_type": "Comment",
        }
    child = {**base, "via": _API_VIA, "event_type": kind}
    if "field_name" in event:
        child[str(event["field_name"])] = event.get("value")
    if "previous_value" in event:
        child["previous_value"] = event["previous_value"]
    return child


def _time_page(request: Request, now: float, key: str, records: Sequence[_Timed]) -> dict[str, Any]:
    """One time-based page over ``(updated_at, tiebreak, render, record)`` tuples."""
    start = _start_time(request, now)
    per_page = _per_page(request)
    stream = sorted((r for r in records if int(r[0]) >= start), key=lambda r: (r[0], r[1]))
    page = stream[:per_page]
    if page and int(page[0][0]) == int(page[-1][0]):
        # A page within one second takes that whole second and ends after it.
        second = int(page[0][0])
        page = [r for r in stream if int(r[0]) == second]
        end_time = second + 1
    elif page:
        end_time = int(page[-1][0])
    else:
        end_time = start
    rest = len(stream) - len(page)
    params = {"start_time": str(end_time)}
    if request.arg("per_page"):
        params["per_page"] = str(per_page)
    return {
        key: [draw(record) for _updated, _order, draw, record in page],
        "count": len(page),
        "end_of_stream": rest == 0,
        "next_page": absolute(request, request.path, params),
        "end_time": end_time,
    }
