"""Translation of simple-salesforce and transport errors into our error tiers.

The table maps a Salesforce ``errorCode`` to what the caller should do; the HTTP status decides
only where the code says nothing. A test enumerates every exception class of
``simple_salesforce.exceptions`` and fails if one is not handled here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from simple_salesforce import exceptions as sfx

from connectors.errors import (
    UNAVAILABLE_STATUSES,
    ConfigError,
    ConnectorError,
    DeferError,
    RecordError,
    RetryableError,
    UnreachableError,
    WriteInDoubtError,
)
from connectors.models import Tier, WriteResult
from connectors.salesforce.error_text import plain_error
from connectors.transport import GATEWAY_STATUSES, describe_failure, lost_after_sending

SYSTEM = "salesforce"

#: errorCode -> tier. Codes not listed fall back to the HTTP status.
ERROR_CODES: dict[str, type[ConnectorError]] = {
    "REQUEST_LIMIT_EXCEEDED": DeferError,
    "UNABLE_TO_LOCK_ROW": RetryableError,
    "SERVER_UNAVAILABLE": RetryableError,
    "QUERY_TIMEOUT": RetryableError,
    "INVALID_SESSION_ID": RetryableError,
    "INVALID_FIELD": ConfigError,
    "INVALID_TYPE": ConfigError,
    "INVALID_FIELD_FOR_INSERT_UPDATE": ConfigError,
    "INSUFFICIENT_ACCESS": ConfigError,
    "INSUFFICIENT_ACCESS_OR_READONLY": ConfigError,
    "API_DISABLED_FOR_ORG": ConfigError,
    "MALFORMED_QUERY": ConfigError,
    "FIELD_CUSTOM_VALIDATION_EXCEPTION": RecordError,
    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST": RecordError,
    "STRING_TOO_LONG": RecordError,
    "REQUIRED_FIELD_MISSING": RecordError,
    "INVALID_CROSS_REFERENCE_KEY": RecordError,
    "INACTIVE_OWNER_OR_USER": RecordError,
    "ENTITY_IS_DELETED": RecordError,
    "FIELD_INTEGRITY_EXCEPTION": RecordError,
    "DUPLICATE_VALUE": RecordError,
    "NOT_FOUND": RecordError,
}

#: HTTP status -> tier, for answers without a known errorCode.
STATUS_TIERS: dict[int, type[ConnectorError]] = {
    300: RecordError,
    400: RecordError,
    401: ConfigError,
    403: ConfigError,
    404: RecordError,
    408: RetryableError,
    429: RetryableError,
    500: RetryableError,
    502: RetryableError,
    503: RetryableError,
    504: RetryableError,
}

#: What simple-salesforce and the transport raise: the only exceptions translated at the edge
#: (anything else is a bug of ours and must not pass for a Salesforce error).
CLIENT_ERRORS: tuple[type[Exception], ...] = (
    sfx.SalesforceError,
    sfx.SalesforceOperationError,
    requests.RequestException,
)

#: What a call may raise: the client's errors, and our own raised inside a call (an answer that
#: does not match its request).
CALL_ERRORS: tuple[type[Exception], ...] = (ConnectorError, *CLIENT_ERRORS)

#: Login fault codes that mean "try again later" rather than "wrong credentials".
TRANSIENT_LOGIN_CODES = frozenset({"SERVER_UNAVAILABLE", "REQUEST_LIMIT_EXCEEDED"})

#: How long a spent daily allowance defers work before we look again.
QUOTA_DEFER = timedelta(hours=1)


def error_code(content: Any) -> tuple[str, str]:
    """(errorCode, message) of a Salesforce error body (a JSON array of errors)."""
    if isinstance(content, list) and content and isinstance(content[0], dict):
        first = content[0]
        return str(first.get("errorCode", "")), str(first.get("message", ""))
    if isinstance(content, dict):
        return str(content.get("error", "")), str(content.get("error_description", ""))
    return "", str(content)[:300]


def _fields(content: list[Any]) -> list[str]:
    first = content[0] if content and isinstance(content[0], dict) else {}
    fields = first.get("fields")
    return [str(f) for f in fields] if isinstance(fields, list) else []


def tier_for(code: str, status: int | None) -> type[ConnectorError]:
    if code in ERROR_CODES:
        return ERROR_CODES[code]
    if status is not None and status in STATUS_TIERS:
        return STATUS_TIERS[status]
    if status is not None and status >= 500:
        return RetryableError
    return ConnectorError


def record_tier(code: str) -> Tier:
    """What a failed record's ``statusCode`` means for the caller; codes not in the table skip
    the record (it is reported, the rest of its batch landed)."""
    return ERROR_CODES.get(code, RecordError).tier


def write_result(
    key: str, item: dict[str, Any], sent: Mapping[str, Any] | None = None
) -> WriteResult:
    """One record of an sObject Collections answer, failed ones with their tier from the table
    and an error that quotes none of the record's values (``sent``: the record as sent)."""
    if item.get("success"):
        return WriteResult(record_id=key, ok=True, external_id=str(item.get("id") or ""))
    errs = item.get("errors") or []
    text = "; ".join(
        plain_error(
            str(e.get("statusCode", "")), str(e.get("message", "")), e.get("fields") or (), sent
        )
        for e in errs
    )
    code = str(errs[0].get("statusCode", "")) if errs else ""
    return WriteResult(
        record_id=key,
        ok=False,
        error=text or "unknown error",
        code=code,
        tier=record_tier(code),
    )


def build(
    tier: type[ConnectorError], message: str, *, record_id: str | None = None, code: str = ""
) -> ConnectorError:
    if tier is DeferError:
        return DeferError(
            message, system=SYSTEM, record_id=record_id, not_before=datetime.now(UTC) + QUOTA_DEFER
        )
    if tier is RecordError:
        return RecordError(message, system=SYSTEM, record_id=record_id, code=code)
    if tier is RetryableError:
        return RetryableError(message, system=SYSTEM, record_id=record_id)
    return tier(message, system=SYSTEM, record_id=record_id)


def _status_error(exc: sfx.SalesforceError, tier: type[ConnectorError]) -> type[ConnectorError]:
    """The tier of an answer, an outage's own where the status says the service is down."""
    if tier is RetryableError and exc.status in UNAVAILABLE_STATUSES:
        return UnreachableError
    return tier


def is_expired_session(exc: BaseException) -> bool:
    """A 401 ``INVALID_SESSION_ID``: the session ended (timeout, logout, password change)."""
    if not isinstance(exc, sfx.SalesforceExpiredSession):
        return False
    code, _ = error_code(exc.content)
    return code in ("INVALID_SESSION_ID", "")


def translate(exc: BaseException, *, record_id: str | None = None) -> ConnectorError:
    """Our tier for any exception raised while talking to Salesforce."""
    if isinstance(exc, ConnectorError):
        return exc
    if isinstance(exc, sfx.SalesforceAuthenticationFailed):
        # simple-salesforce raises this for any failed login answer; an HTTP status as the code
        # (a non-XML body) of 429 or 5xx is the service being unavailable, not bad credentials.
        if isinstance(exc.code, int) and (exc.code == 429 or exc.code >= 500):
            return RetryableError(f"login unavailable: HTTP {exc.code}", system=SYSTEM)
        if exc.code in TRANSIENT_LOGIN_CODES:
            return RetryableError(f"login unavailable: {exc.code}", system=SYSTEM)
        # The answer's own text (``exc.message`` is the class's unformatted template).
        text = getattr(exc, "auth_message", "") or str(exc)
        return ConfigError(f"login failed: {exc.code}: {text}", system=SYSTEM)
    if isinstance(exc, sfx.SalesforceError):
        code, message = error_code(exc.content)
        tier = tier_for(code, exc.status)
        text = f"{code or exc.status}: {message}" if message else f"HTTP {exc.status}"
        content: Any = exc.content  # the parsed body, whatever the stubs say
        if code and isinstance(content, list):  # a record error: no value of it quoted
            text = plain_error(code, message, _fields(content))
        return build(_status_error(exc, tier), text, record_id=record_id, code=code)
    if isinstance(exc, sfx.SalesforceOperationError):
        return RetryableError(f"bulk operation failed: {exc}", system=SYSTEM, record_id=record_id)
    if isinstance(exc, requests.Timeout | requests.ConnectionError):
        # no connection at all is an outage; one lost or timed out mid-request is that request's
        kind = UnreachableError if lost_after_sending(exc) is False else RetryableError
        return kind(describe_failure(exc), system=SYSTEM, record_id=record_id)
    if isinstance(exc, requests.RequestException):
        return RetryableError(f"HTTP error: {type(exc).__name__}", system=SYSTEM)
    if isinstance(exc, ValueError):
        # simple-salesforce raises ValueError for an unparsable answer.
        return RetryableError(f"unreadable answer: {exc}", system=SYSTEM, record_id=record_id)
    return ConnectorError(f"unexpected {type(exc).__name__}: {exc}", system=SYSTEM)


def sent_unanswered(exc: BaseException) -> bool:
    """Whether a failed request may have reached Salesforce and taken effect there: a timeout
    waiting for the answer, a connection lost once the request was sent, a gateway's 5xx, or an
    answer that could not be read. A refused or unreachable connection, a 4xx, Salesforce's own
    500 and 503 ("could not be completed", not handled at all), an expired session or a spent
    allowance mean it was not carried out."""
    lost = lost_after_sending(exc)
    if lost is not None:
        return lost
    if isinstance(exc, sfx.SalesforceError):
        return exc.status in GATEWAY_STATUSES
    return isinstance(exc, WriteInDoubtError | ValueError)


def translate_write(exc: BaseException) -> ConnectorError:
    """As :func:`translate`, but a create that may have landed is a :class:`WriteInDoubtError`."""
    translated = translate(exc)
    if isinstance(translated, RetryableError) and sent_unanswered(exc):
        return WriteInDoubtError(translated.message, system=SYSTEM)
    return translated
