"""Translation of zenpy and transport errors into our error tiers.

A test enumerates every exception class of ``zenpy.lib.exception`` and fails if one is not handled
here, so a library upgrade cannot slip an unmapped error past the engine.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import requests
from zenpy.lib import exception as zx

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
from connectors.models import Tier
from connectors.transport import GATEWAY_STATUSES, describe_failure, lost_after_sending

SYSTEM = "zendesk"

#: How long work waits after the per-run rate-limit wait budget is spent.
RATE_LIMIT_DEFER = timedelta(minutes=1)

#: HTTP status -> tier.
STATUS_TIERS: dict[int, type[ConnectorError]] = {
    400: RecordError,
    401: ConfigError,
    403: ConfigError,
    404: RecordError,
    409: RetryableError,
    422: RecordError,
    429: RetryableError,
    500: RetryableError,
    502: RetryableError,
    503: RetryableError,
    504: RetryableError,
}

#: Zendesk ``error`` codes whose tier differs from their status's.
ERROR_CODE_TIERS: dict[str, type[ConnectorError]] = {
    # The Idempotency-Key was seen with another body: an earlier attempt created the ticket.
    # Retrying (after the executor's lookup by external_id) resolves it; it is no bad record.
    "IdempotentRequestError": RetryableError,
    # A 404 for a path Zendesk does not serve (as opposed to ``RecordNotFound`` for a record
    # that is gone): a wrong base URL or API path, not a bad record, so nothing is skipped.
    "InvalidEndpoint": ConfigError,
}


#: What zenpy and the transport raise: the only exceptions translated at the edge (anything
#: else is a bug of ours and must not pass for a Zendesk error).
CLIENT_ERRORS: tuple[type[Exception], ...] = (
    zx.APIException,
    zx.ZenpyException,
    requests.RequestException,
)

#: Per-record codes of a finished job -> tier. A job that gave no result for a record, or failed
#: it for a reason not known to last, is asked again (after the executor's lookup by key); a
#: record the job refused for what it holds or names (``job_refused``) is skipped, as are other
#: codes: sending it again would fail again, an hour of resubmitted jobs before the dead letters.
RECORD_CODES: dict[str, Tier] = {
    "missing": "retry",
    "job": "retry",
}

#: The ``error`` tokens of a job's item that no retry changes: the record is invalid, names
#: something that does not exist (a group, a user, a closed ticket), or is not ours to change.
REFUSED_JOB_ERRORS = frozenset(
    {
        "RecordInvalid",
        "RecordNotFound",
        "InvalidValue",
        "PermissionDenied",
        "Forbidden",
        "TicketCreateFailed",
        "TicketUpdateFailed",
        "UserCreateFailed",
        "UserUpdateFailed",
        "OrganizationCreateFailed",
        "OrganizationUpdateFailed",
    }
)


def job_item_code(error: object) -> str:
    """The code of a failed job item: ``job_refused`` when its error will not change."""
    return "job_refused" if str(error or "") in REFUSED_JOB_ERRORS else "job"


def record_tier(code: str) -> Tier:
    """What a failed record's code means for the caller."""
    return RECORD_CODES.get(code, "skip")


def _error_code(exc: zx.APIException) -> str:
    try:
        body = json.loads(str(exc))
    except ValueError:
        return ""
    return str(body.get("error", "")) if isinstance(body, dict) else ""


def _describe(exc: zx.APIException) -> tuple[int | None, str]:
    response = exc.response
    status = response.status_code if response is not None else None
    text = str(exc)
    try:
        body = json.loads(text)
        if isinstance(body, dict):
            parts = [str(body.get("error", "")), str(body.get("description", ""))]
            details = body.get("details")
            if isinstance(details, dict):
                for field, problems in details.items():
                    for problem in problems if isinstance(problems, list) else [problems]:
                        parts.append(f"{field}: {_problem(problem)}")
            text = "; ".join(p for p in parts if p)
    except ValueError:
        pass
    return status, text[:500]


def _problem(problem: object) -> str:
    """What is wrong with one field, as its error token (``InvalidFormat``, ``TooLong``): the
    description quotes the value (``Email: <the address> is not properly formatted``)."""
    token = problem.get("error") if isinstance(problem, dict) else None
    return str(token) if token else "invalid"


def job_item_error(error: object, details: object) -> str:
    """A failed bulk job item's error: its token (``RecordInvalid``) and the field its details
    name, never the rest of the details, which quote the value."""
    field = str(details).partition(":")[0].strip() if details else ""
    named = f" ({field})" if field and len(field) <= 40 and " " not in field.strip() else ""
    return f"{error or 'failed'}{named}"


def _retry_after(exc: zx.APIException) -> float | None:
    response = exc.response
    if response is None:
        return None
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def translate(exc: BaseException, *, record_id: str | None = None) -> ConnectorError:
    """Our tier for any exception raised while talking to Zendesk."""
    if isinstance(exc, ConnectorError):
        return exc
    if isinstance(exc, zx.RatelimitBudgetExceeded):
        return DeferError(
            "rate limited longer than the wait budget",
            system=SYSTEM,
            record_id=record_id,
            not_before=datetime.now(UTC) + RATE_LIMIT_DEFER,
        )
    if isinstance(exc, zx.ZenpyCacheException | zx.ZenpyException):
        return ConfigError(f"client error: {exc}", system=SYSTEM, record_id=record_id)
    if isinstance(exc, zx.TooManyValuesException):
        # We never send more than the documented batch size: this is a bug, not bad data.
        return ConnectorError(f"batch too large: {exc}", system=SYSTEM, record_id=record_id)
    if isinstance(exc, zx.SearchResponseLimitExceeded):
        return RecordError("search matched too many records", system=SYSTEM, record_id=record_id)
    if isinstance(exc, zx.APIException):
        status, text = _describe(exc)
        tier = ERROR_CODE_TIERS.get(_error_code(exc)) or STATUS_TIERS.get(
            status or 0, RetryableError if (status or 0) >= 500 else None
        )
        message = f"HTTP {status}: {text}" if status else text
        if tier is RetryableError:
            kind = UnreachableError if status in UNAVAILABLE_STATUSES else RetryableError
            return kind(message, system=SYSTEM, record_id=record_id, retry_after=_retry_after(exc))
        if tier is RecordError:
            return RecordError(message, system=SYSTEM, record_id=record_id, code=str(status))
        if tier is ConfigError:
            host = urlsplit(exc.response.url).netloc if exc.response is not None else ""
            where = f"{host} answered " if host else ""
            return ConfigError(f"{where}{message}", system=SYSTEM, record_id=record_id)
        return ConnectorError(message, system=SYSTEM, record_id=record_id)
    if isinstance(exc, requests.HTTPError):
        status = exc.response.status_code if exc.response is not None else 0
        if status in UNAVAILABLE_STATUSES:
            return UnreachableError(f"HTTP {status}", system=SYSTEM, record_id=record_id)
        if status >= 500 or status == 429:
            return RetryableError(f"HTTP {status}", system=SYSTEM, record_id=record_id)
        return RecordError(f"HTTP {status}", system=SYSTEM, record_id=record_id)
    if isinstance(exc, requests.RequestException) and lost_after_sending(exc) is False:
        # no connection at all is an outage; one lost or timed out mid-request is that request's
        return UnreachableError(describe_failure(exc), system=SYSTEM, record_id=record_id)
    if isinstance(exc, requests.RequestException):
        return RetryableError(describe_failure(exc), system=SYSTEM, record_id=record_id)
    if isinstance(exc, ValueError):
        # zenpy raises ValueError on a non-integer Retry-After or an unparsable body.
        return RetryableError(f"unreadable answer: {exc}", system=SYSTEM, record_id=record_id)
    return ConnectorError(f"unexpected {type(exc).__name__}: {exc}", system=SYSTEM)


def sent_unanswered(exc: BaseException) -> bool:
    """Whether a failed request may have reached Zendesk and taken effect there: a timeout
    waiting for the answer, a connection lost once the request was sent, or a gateway's 5xx.
    A refused connection, a 4xx, a 429 and Zendesk's own 500 and 503 mean it was not."""
    lost = lost_after_sending(exc)
    if lost is not None:
        return lost
    if isinstance(exc, zx.APIException) and exc.response is not None:
        return exc.response.status_code in GATEWAY_STATUSES
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return exc.response.status_code in GATEWAY_STATUSES
    return isinstance(exc, WriteInDoubtError)


def translate_write(exc: BaseException, *, record_id: str | None = None) -> ConnectorError:
    """As :func:`translate`, but a write that may have been accepted is a
    :class:`WriteInDoubtError`: a bulk job may be queued that nobody knows the id of."""
    translated = translate(exc, record_id=record_id)
    if isinstance(translated, RetryableError) and sent_unanswered(exc):
        return WriteInDoubtError(translated.message, system=SYSTEM, record_id=record_id)
    return translated
