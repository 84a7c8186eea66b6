"""Offset and cursor pagination over an ordered list, with absolute self-URLs.

A request that carries ``page[size]``, ``page[after]`` or ``page[before]`` gets cursor
pagination (``meta`` + ``links``); any other gets offset pagination (``next_page``,
``previous_page``, ``count``). Cursors are opaque base64 tokens over the sort key, like
Zendesk's, so a page boundary stays put when records are added before it.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlencode

from emulators.base import Request

from .errors import ApiError, bad_request

MAX_PAGE_SIZE = 100
_T = TypeVar("_T")


def is_cursor_request(request: Request) -> bool:
    return any(name in request.query for name in ("page[size]", "page[after]", "page[before]"))


def paginate(
    request: Request,
    items: Sequence[_T],
    key: str,
    render: Callable[[_T, bool], dict[str, Any]],
    sort_key: Callable[[_T], int],
) -> dict[str, Any]:
    """One page of ``items`` (already in ``sort_key`` order) as a Zendesk list body.

    ``render(item, cursor)`` builds one item; ``cursor`` tells it which pagination style is in
    use, since Zendesk's item shapes differ slightly between the two.
    """
    if is_cursor_request(request):
        return _cursor_page(request, items, key, render, sort_key)
    return _offset_page(request, items, key, render)


def _offset_page(
    request: Request,
    items: Sequence[_T],
    key: str,
    render: Callable[[_T, bool], dict[str, Any]],
) -> dict[str, Any]:
    page = _positive_int(request, "page", 1)
    per_page = min(_positive_int(request, "per_page", MAX_PAGE_SIZE), MAX_PAGE_SIZE)
    start = (page - 1) * per_page
    chunk = items[start : start + per_page]
    more = start + per_page < len(items)
    return {
        key: [render(item, False) for item in chunk],
        "next_page": _link(request, {"page": str(page + 1)}) if more else None,
        "previous_page": _link(request, {"page": str(page - 1)}) if page > 1 else None,
        "count": len(items),
    }


def _cursor_page(
    request: Request,
    items: Sequence[_T],
    key: str,
    render: Callable[[_T, bool], dict[str, Any]],
    sort_key: Callable[[_T], int],
) -> dict[str, Any]:
    size = _positive_int(request, "page[size]", MAX_PAGE_SIZE)
    if size > MAX_PAGE_SIZE:
        raise bad_request(
            "InvalidPaginationParameter",
            f"page[size] is greater than the maximum allowed: {MAX_PAGE_SIZE}",
        )
    after, before = request.arg("page[after]"), request.arg("page[before]")
    if before:
        upper = decode_cursor(before)
        earlier = [item for item in items if sort_key(item) < upper]
        chunk = earlier[-size:]
        has_more = len(earlier) > size
    else:
        lower = decode_cursor(after) if after else None
        later = [item for item in items if lower is None or sort_key(item) > lower]
        chunk = later[:size]
        has_more = len(later) > size
    first = encode_cursor(sort_key(chunk[0])) if chunk else None
    last = encode_cursor(sort_key(chunk[-1])) if chunk else None
    return {
        key: [render(item, True) for item in chunk],
        "meta": {"has_more": has_more, "after_cursor": last, "before_cursor": first},
        "links": {
            "prev": _link(request, {"page[before]": first}, drop=("page[after]",))
            if first
            else None,
            "next": _link(request, {"page[after]": last}, drop=("page[before]",)) if last else None,
        },
    }


def encode_cursor(value: int) -> str:
    return base64.b64encode(json.dumps({"o": "id", "v": value}).encode()).decode()


def decode_cursor(token: str) -> int:
    try:
        payload = json.loads(base64.b64decode(token.encode(), validate=True))
        value = payload["v"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise _bad_cursor() from None
    if not isinstance(value, int):
        raise _bad_cursor()
    return value


def _bad_cursor() -> ApiError:
    return bad_request("InvalidPaginationParameter", "The page cursor is not valid")


def _positive_int(request: Request, name: str, default: int) -> int:
    raw = request.arg(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request("InvalidPaginationParameter", f"{name} must be an integer") from None
    if value < 1:
        raise bad_request("InvalidPaginationParameter", f"{name} must be positive")
    return value


def _link(request: Request, changes: dict[str, str | None], drop: tuple[str, ...] = ()) -> str:
    """This request's absolute URL with some query parameters replaced or removed."""
    params: dict[str, str] = {
        name: values[-1] for name, values in request.query.items() if name not in drop
    }
    for name, value in changes.items():
        if value is not None:
            params[name] = value
    return f"{request.base_url}{request.path}?{urlencode(sorted(params.items()))}"


def absolute(request: Request, path: str, params: dict[str, str] | None = None) -> str:
    """An absolute URL on the client's public origin."""
    query = f"?{urlencode(sorted(params.items()))}" if params else ""
    return f"{request.base_url}{path}{query}"
