"""Zendesk's error bodies, raised from handlers as :class:`ApiError` and rendered by the app.

The shapes follow recorded traffic: ``{"error", "description"}`` for most errors, plus
``details {field: [{description, error}]}`` for 422 ``RecordInvalid`` and ``max_count`` for
``TooManyValues``.
"""

from __future__ import annotations

from typing import Any

MAX_BATCH = 100


class ApiError(Exception):
    """An HTTP error answer in Zendesk's format."""

    def __init__(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {body.get('error')}")
        self.status = status
        self.body = body
        self.headers = dict(headers or {})


def not_found() -> ApiError:
    return ApiError(404, {"error": "RecordNotFound", "description": "Not found"})


def too_many_users(verb: str) -> ApiError:
    """Zendesk words the user bulk limits differently, and without ``max_count``."""
    return ApiError(
        400,
        {
            "error": "TooManyValues",
            "description": f"Maximum {MAX_BATCH} users may be {verb} per call",
        },
    )


def invalid_endpoint() -> ApiError:
    return ApiError(404, {"error": "InvalidEndpoint", "description": "Not found"})


def unauthenticated() -> ApiError:
    return ApiError(
        401,
        {"error": "Couldn't authenticate you"},
        {"WWW-Authenticate": 'Basic realm="Web Password"'},
    )


def rate_limited(retry_after: int) -> ApiError:
    return ApiError(
        429,
        {
            "error": "APIRateLimitExceeded",
            "description": "Number of allowed API requests per minute exceeded",
        },
        {"Retry-After": str(retry_after)},
    )


def bad_request(error: str, description: str) -> ApiError:
    return ApiError(400, {"error": error, "description": description})


def too_many_values(
    description: str = "Parameter  cannot specify more than 100 values",
) -> ApiError:
    """400 TooManyValues; the default text is the one Zendesk sends for body arrays."""
    return ApiError(
        400, {"error": "TooManyValues", "description": description, "max_count": MAX_BATCH}
    )


class Invalid:
    """Collects validation failures for one record, then raises them as one 422."""

    def __init__(self) -> None:
        self.details: dict[str, list[dict[str, Any]]] = {}

    def add(self, field: str, description: str, error: str, **extra: Any) -> None:
        entry: dict[str, Any] = {"description": description, "error": error}
        entry.update(extra)
        self.details.setdefault(field, []).append(entry)

    def __bool__(self) -> bool:
        return bool(self.details)

    def raise_if_any(self) -> None:
        if self.details:
            raise record_invalid(self.details)


def record_invalid(details: dict[str, list[dict[str, Any]]]) -> ApiError:
    return ApiError(
        422,
        {"error": "RecordInvalid", "description": "Record validation errors", "details": details},
    )


def summary(error: ApiError) -> str:
    """One line for a failed bulk item, as job results report it in ``details``."""
    details = error.body.get("details")
    if isinstance(details, dict):
        for entries in details.values():
            if entries:
                return str(entries[0].get("description", ""))
    return str(error.body.get("description", error.body.get("error", "")))
