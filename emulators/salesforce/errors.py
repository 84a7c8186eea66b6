"""The two kinds of failure the emulator reports, in Salesforce's own shapes.

:class:`ApiError` fails a whole request (HTTP status + a JSON *array* of
``{"message","errorCode"[,"fields"]}``). :class:`RejectedRecordError` fails one record: a
single-record endpoint turns it into a 400 array, sObject Collections and Bulk 2.0 into a
per-record result.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A request-level error answered with ``status`` and a Salesforce error array."""

    def __init__(
        self, status: int, code: str, message: str, fields: list[str] | None = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields

    def body(self) -> list[dict[str, Any]]:
        item: dict[str, Any] = {"message": self.message, "errorCode": self.code}
        if self.fields is not None:
            item["fields"] = list(self.fields)
        return [item]


class RejectedRecordError(Exception):
    """One record was rejected (validation, lock, bad value): ``statusCode`` in collections."""

    def __init__(self, code: str, message: str, fields: list[str] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.fields = list(fields or [])

    def collection_error(self) -> dict[str, Any]:
        """The error as sObject Collections report it."""
        return {"statusCode": self.code, "message": self.message, "fields": list(self.fields)}

    def as_api_error(self) -> ApiError:
        """The error as a single-record endpoint reports it (400 with ``fields``)."""
        return ApiError(400, self.code, self.message, self.fields)


def not_found() -> ApiError:
    return ApiError(404, "NOT_FOUND", "The requested resource does not exist")


def invalid_session() -> ApiError:
    return ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")


def json_parser_error(detail: str) -> ApiError:
    return ApiError(400, "JSON_PARSER_ERROR", detail)
