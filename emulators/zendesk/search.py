"""General search (``search.json``): users, tickets and organizations, each tagged with
``result_type``.

Only exact ``key:value`` terms are answered (see ``_FILTERS``); anything fuzzier (free text,
ranges, negation, wildcards) is refused with 400 ``UnsupportedQuery`` rather than guessed at,
because a sync that matches on a guess attaches data to the wrong record. As in Zendesk, new
records stay out of the results until indexed (``search_index_delay_seconds``), results are
paged by offset (``page``, ``per_page`` up to 100) and no page may reach past the first 1,000
results (422 ``invalid``).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from emulators.base import Response

from . import render
from .context import Call, Context, ok
from .errors import ApiError, bad_request
from .paging import MAX_PAGE_SIZE
from .records import Ticket
from .store import Store, fold

MAX_RESULTS = 1000
_TERM = re.compile(r"^(?P<key>[a-z_]+):(?P<value>[^<>*]+)$", re.IGNORECASE)

Filter = Callable[[Store, Any, str], bool]


def _user_email(store: Store, user: Any, value: str) -> bool:
    return fold(user.email) == fold(value)


def _external_id(store: Store, record: Any, value: str) -> bool:
    if isinstance(record, Ticket):
        return record.external_id == value
    return fold(record.external_id) == fold(value)


def _requester(store: Store, ticket: Any, value: str) -> bool:
    if value.isdigit():
        return bool(ticket.requester_id == int(value))
    requester = store.users.get(ticket.requester_id)
    return requester is not None and fold(requester.email) == fold(value)


def _status(store: Store, ticket: Any, value: str) -> bool:
    return bool(ticket.status == value.lower())


def _tag(store: Store, record: Any, value: str) -> bool:
    return value.lower() in record.tags


def _organization(store: Store, record: Any, value: str) -> bool:
    return value.isdigit() and record.organization_id == int(value)


def _name(store: Store, record: Any, value: str) -> bool:
    return fold(record.name) == fold(value)


_FILTERS: dict[str, dict[str, Filter]] = {
    "user": {
        "email": _user_email,
        "external_id": _external_id,
        "organization_id": _organization,
        "tags": _tag,
        "tag": _tag,
    },
    "ticket": {
        "external_id": _external_id,
        "requester": _requester,
        "requester_id": _requester,
        "status": _status,
        "tags": _tag,
        "tag": _tag,
        "organization_id": _organization,
    },
    "organization": {"external_id": _external_id, "name": _name, "tags": _tag, "tag": _tag},
}


def search(ctx: Context, call: Call) -> Response:
    query = call.request.arg("query")
    if not query or not query.strip():
        raise bad_request("invalid", "Query parameter is required")
    kind, terms = _parse(query)
    for field, value in terms:
        if field == "email" and value.lower() in ctx.rejected_searches:
            raise bad_request("InvalidSearch", f"The search query could not be parsed: {query}")
    visible_after = ctx.now() - ctx.search_index_delay_seconds
    found = [
        record
        for record in _records(ctx.store, kind)
        if record.created_at <= visible_after
        and all(_FILTERS[kind][field](ctx.store, record, value) for field, value in terms)
    ]
    found = _sorted(found, call.request.arg("sort_by"), call.request.arg("sort_order"))
    return ok(_page(ctx, call, kind, found))


def _parse(query: str) -> tuple[str, list[tuple[str, str]]]:
    try:
        words = shlex.split(query)
    except ValueError:
        raise _unsupported(query) from None
    kind: str | None = None
    terms: list[tuple[str, str]] = []
    for word in words:
        match = _TERM.match(word)
        if match is None:
            raise _unsupported(query)
        key, value = match.group("key").lower(), match.group("value").strip()
        if key == "type":
            kind = value.lower()
        else:
            terms.append((key, value))
    if kind not in _FILTERS or not terms:
        raise _unsupported(query)
    allowed = _FILTERS[kind]
    if any(field not in allowed for field, _value in terms):
        raise _unsupported(query)
    return kind, terms


def _unsupported(query: str) -> ApiError:
    return bad_request(
        "UnsupportedQuery",
        "This emulator answers search only for `type:user|ticket|organization` with exact "
        f"key:value terms: {query}",
    )


def _records(store: Store, kind: str) -> list[Any]:
    if kind == "user":
        return list(store.users.values())
    if kind == "ticket":
        return list(store.tickets.values())
    return list(store.organizations.values())


def _sorted(records: list[Any], sort_by: str | None, sort_order: str | None) -> list[Any]:
    """Relevance (here: by id) unless ``sort_by`` asks for a time; ``desc`` by default."""
    if sort_by in ("created_at", "updated_at"):
        attribute = sort_by
        return sorted(
            records, key=lambda r: (getattr(r, attribute), r.id), reverse=sort_order != "asc"
        )
    return sorted(records, key=lambda r: r.id)


def _page(ctx: Context, call: Call, kind: str, found: list[Any]) -> dict[str, Any]:
    request = call.request
    page = _positive(request.arg("page"), 1)
    per_page = min(_positive(request.arg("per_page"), MAX_PAGE_SIZE), MAX_PAGE_SIZE)
    start = (page - 1) * per_page
    if start >= MAX_RESULTS:
        raise ApiError(
            422,
            {
                "error": "invalid",
                "description": "Invalid search: Requested response size was greater than "
                "Search Response Limits",
            },
        )
    chunk = found[start : min(start + per_page, MAX_RESULTS)]
    more = start + per_page < min(len(found), MAX_RESULTS)

    def link(number: int) -> str:
        params = {name: values[-1] for name, values in request.query.items()}
        params["page"] = str(number)
        return f"{request.base_url}{request.path}?{urlencode(sorted(params.items()))}"

    return {
        "results": [_render(ctx, call, kind, record) for record in chunk],
        "facets": None,
        "next_page": link(page + 1) if more else None,
        "previous_page": link(page - 1) if page > 1 else None,
        "count": len(found),
    }


def _render(ctx: Context, call: Call, kind: str, record: Any) -> dict[str, Any]:
    if kind == "user":
        body = render.user(record, call.base, ctx.store)
    elif kind == "ticket":
        body = render.ticket(record, call.base, ctx.store)
    else:
        body = render.organization(record, call.base, ctx.store)
    body["result_type"] = kind
    return body


def _positive(raw: str | None, default: int) -> int:
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise bad_request("InvalidPaginationParameter", "page and per_page must be positive")
    return int(raw)
