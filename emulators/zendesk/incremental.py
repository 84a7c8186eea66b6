"""Cursor-based incremental ticket export (``incremental/tickets/cursor``).

Tickets stream in ``updated_at`` order; every write moves a ticket to the end of the stream, so
a ticket updated after it was exported shows up again on a later page. The cursor is the
position of the last ticket returned, which a client may store and resume from at any time.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from emulators.base import Request, Response

from . import render
from .context import Call, Context, ok
from .errors import bad_request
from .paging import absolute
from .records import Ticket
from .store import Store

MAX_PER_PAGE = 1000
MIN_AGE_SECONDS = 60

Position = tuple[float, int]


def export_page(store: Store, request: Request) -> dict[str, Any]:
    position = _start_position(request, store.clock.now())
    per_page = _per_page(request)
    stream = sorted((t for t in store.tickets.values() if _position(t) > position), key=_position)
    page = stream[:per_page]
    last = _position(page[-1]) if page else position
    cursor = encode(last)
    params = {"cursor": cursor}
    if request.arg("per_page"):
        params["per_page"] = str(per_page)
    return {
        "tickets": [
            render.ticket(t, request.base_url, store, generated_timestamp=True) for t in page
        ],
        "after_url": absolute(request, request.path, params),
        "before_url": None,
        "after_cursor": cursor,
        "before_cursor": None,
        "end_of_stream": len(stream) <= per_page,
    }


def _position(ticket: Ticket) -> Position:
    return (ticket.updated_at, ticket.sequence)


def _start_position(request: Request, now: float) -> Position:
    cursor, start_time = request.arg("cursor"), request.arg("start_time")
    if cursor:
        return decode(cursor)
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
    return (float(start), -1)


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
