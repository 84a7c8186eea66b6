"""Every exception class of the client libraries maps to the tier a table here names for it.

A library upgrade that adds an exception class fails here until it is mapped on purpose.
"""

from __future__ import annotations

import inspect
from types import ModuleType
from typing import Any

import pytest
import requests
from simple_salesforce import exceptions as sfx
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError
from zenpy.lib import exception as zx

from connectors.errors import (
    ConfigError,
    ConnectorError,
    DeferError,
    RecordError,
    RetryableError,
    UnreachableError,
    WriteInDoubtError,
)
from connectors.salesforce import errors as sf_errors
from connectors.zendesk import errors as zd_errors


def exception_classes(module: ModuleType) -> list[type[BaseException]]:
    return [
        cls
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, BaseException) and cls.__module__ == module.__name__
    ]


#: Each simple-salesforce exception class, the HTTP status it is raised for (simple-salesforce's
#: own status -> class table; None when it carries none) and the tier it must become. A class
#: missing here fails ``test_every_simple_salesforce_exception_class_is_in_the_table``.
SALESFORCE_TIERS: dict[type[BaseException], tuple[int | None, type[ConnectorError]]] = {
    sfx.SalesforceMoreThanOneRecord: (300, RecordError),
    sfx.SalesforceMalformedRequest: (400, RecordError),
    sfx.SalesforceExpiredSession: (401, ConfigError),  # INVALID_SESSION_ID is retried (below)
    sfx.SalesforceRefusedRequest: (403, ConfigError),
    sfx.SalesforceResourceNotFound: (404, RecordError),
    sfx.SalesforceGeneralError: (500, RetryableError),
    sfx.SalesforceError: (502, UnreachableError),  # the service, not the request
    sfx.SalesforceAuthenticationFailed: (None, ConfigError),
    sfx.SalesforceOperationError: (None, RetryableError),
    sfx.SalesforceBulkV2LoadError: (None, RetryableError),
    sfx.SalesforceBulkV2ExtractError: (None, RetryableError),
}


def sf_instance(cls: type[BaseException], status: int | None) -> BaseException:
    if cls is sfx.SalesforceAuthenticationFailed:
        return cls("INVALID_LOGIN", "bad password")
    if issubclass(cls, sfx.SalesforceError):
        assert status is not None
        content: Any = [{"errorCode": "", "message": "m"}]  # the library types it as bytes
        return cls("https://x/services/data", status, "query", content)
    return cls("failed")


def response(status: int, headers: dict[str, str] | None = None) -> requests.Response:
    r = requests.Response()
    r.status_code = status
    r.headers.update(headers or {})
    return r


#: Each zenpy exception class and the tier it must become (exactly: ``ConnectorError`` itself is
#: the tier of our own bugs, neither retried nor blamed on the record).
ZENDESK_TIERS: dict[type[BaseException], type[ConnectorError]] = {
    zx.APIException: RecordError,  # 422 RecordInvalid
    zx.RecordNotFoundException: RecordError,  # 404
    zx.RatelimitBudgetExceeded: DeferError,
    zx.SearchResponseLimitExceeded: RecordError,
    zx.TooManyValuesException: ConnectorError,
    zx.ZenpyException: ConfigError,
    zx.ZenpyCacheException: ConfigError,
}


def zd_instance(cls: type[BaseException]) -> BaseException:
    factory: Any = cls
    if cls is zx.RecordNotFoundException:
        found: BaseException = factory('{"error": "RecordNotFound"}', response=response(404))
        return found
    if issubclass(cls, zx.APIException):
        exc: BaseException = factory('{"error": "RecordInvalid"}', response=response(422))
        return exc
    return cls("failed")


def test_every_simple_salesforce_exception_class_is_in_the_table() -> None:
    assert set(exception_classes(sfx)) == set(SALESFORCE_TIERS)


def test_every_zenpy_exception_class_is_in_the_table() -> None:
    assert set(exception_classes(zx)) == set(ZENDESK_TIERS)


@pytest.mark.parametrize(
    ("cls", "status", "tier"),
    [(cls, status, tier) for cls, (status, tier) in SALESFORCE_TIERS.items()],
    ids=lambda v: getattr(v, "__name__", str(v)),
)
def test_each_simple_salesforce_exception_maps_to_its_tier(
    cls: type[BaseException], status: int | None, tier: type[ConnectorError]
) -> None:
    translated = sf_errors.translate(sf_instance(cls, status))
    assert type(translated) is tier
    assert "unexpected" not in translated.message


@pytest.mark.parametrize(
    ("cls", "tier"), list(ZENDESK_TIERS.items()), ids=lambda v: getattr(v, "__name__", str(v))
)
def test_each_zenpy_exception_maps_to_its_tier(
    cls: type[BaseException], tier: type[ConnectorError]
) -> None:
    translated = zd_errors.translate(zd_instance(cls))
    assert type(translated) is tier
    assert "unexpected" not in translated.message


@pytest.mark.parametrize(
    ("status", "code", "tier"),
    [
        (403, "REQUEST_LIMIT_EXCEEDED", DeferError),
        (400, "UNABLE_TO_LOCK_ROW", RetryableError),
        (401, "INVALID_SESSION_ID", RetryableError),
        (400, "FIELD_CUSTOM_VALIDATION_EXCEPTION", RecordError),
        (400, "INVALID_FIELD", ConfigError),
        (403, "INSUFFICIENT_ACCESS", ConfigError),
        (503, "", UnreachableError),
        (500, "SOMETHING_NEW", RetryableError),
    ],
)
def test_salesforce_error_codes_decide_the_tier(
    status: int, code: str, tier: type[ConnectorError]
) -> None:
    cls = {400: sfx.SalesforceMalformedRequest, 401: sfx.SalesforceExpiredSession}.get(
        status, sfx.SalesforceRefusedRequest if status == 403 else sfx.SalesforceGeneralError
    )
    content: Any = [{"errorCode": code, "message": "m"}]
    exc = cls("https://x", status, "r", content)
    assert type(sf_errors.translate(exc)) is tier


@pytest.mark.parametrize(
    ("status", "tier"),
    [
        (429, RetryableError),
        (500, RetryableError),
        (503, UnreachableError),
        (404, RecordError),
        (401, ConfigError),
    ],
)
def test_zendesk_status_decides_the_tier(status: int, tier: type[ConnectorError]) -> None:
    exc = zx.APIException('{"error": "x"}', response=response(status, {"Retry-After": "7"}))
    translated = zd_errors.translate(exc)
    assert type(translated) is tier
    if issubclass(tier, RetryableError):
        assert isinstance(translated, RetryableError)
        assert translated.retry_after == 7.0


def test_transport_errors_are_retryable() -> None:
    for exc in (requests.ConnectionError("reset"), requests.Timeout("slow")):
        assert isinstance(sf_errors.translate(exc), RetryableError)
        assert isinstance(zd_errors.translate(exc), RetryableError)


def salesforce_error(status: int) -> BaseException:
    return sf_instance(sfx.SalesforceError, status)


def refused_connection() -> requests.ConnectionError:
    """What requests raises when nothing listens: the request never left."""
    none: Any = None  # the pool and connection, unused by the classification
    return requests.ConnectionError(MaxRetryError(none, "/", NewConnectionError(none, "refused")))


@pytest.mark.parametrize(
    ("exc", "outage"),
    [
        (refused_connection(), True),
        (requests.ConnectTimeout("no answer to the handshake"), True),
        (requests.ConnectionError("connection reset once the request was sent"), False),
        (requests.ReadTimeout("no answer to the request"), False),
    ],
)
def test_only_a_connection_never_made_is_an_outage(exc: Exception, outage: bool) -> None:
    """Work waiting for a system down as a whole uses up no tries; a request lost on the way
    is that request's failure and counts."""
    for translate in (sf_errors.translate, zd_errors.translate):
        translated = translate(exc)
        assert isinstance(translated, RetryableError)
        assert isinstance(translated, UnreachableError) is outage


@pytest.mark.parametrize(
    ("exc", "in_doubt"),
    [
        (requests.ReadTimeout("no answer"), True),
        (
            requests.ConnectionError(ProtocolError("Connection aborted.", ConnectionResetError())),
            True,
        ),
        (salesforce_error(502), True),
        (salesforce_error(504), True),
        (ValueError("unreadable answer"), True),
        (requests.ConnectTimeout("never connected"), False),
        (refused_connection(), False),
        (salesforce_error(500), False),  # "the request could not be completed"
        (salesforce_error(503), False),
        (salesforce_error(400), False),
    ],
)
def test_a_create_that_may_have_landed_is_in_doubt_and_one_refused_is_not(
    exc: Exception, in_doubt: bool
) -> None:
    translated = sf_errors.translate_write(exc)
    assert isinstance(translated, WriteInDoubtError) is in_doubt
    assert type(sf_errors.translate(exc)) is not WriteInDoubtError  # only writes are in doubt


def zendesk_error(status: int) -> BaseException:
    exc: BaseException = zx.APIException('{"error": "x"}', response=response(status))
    return exc


@pytest.mark.parametrize(
    ("exc", "in_doubt"),
    [
        (requests.ReadTimeout("no answer"), True),
        (
            requests.ConnectionError(ProtocolError("Connection aborted.", ConnectionResetError())),
            True,
        ),
        (zendesk_error(502), True),
        (zendesk_error(504), True),
        (requests.ConnectTimeout("never connected"), False),
        (refused_connection(), False),
        (zendesk_error(500), False),
        (zendesk_error(503), False),
        (zendesk_error(429), False),
        (zendesk_error(422), False),
    ],
)
def test_a_bulk_submit_that_may_have_queued_a_job_is_in_doubt_and_one_refused_is_not(
    exc: Exception, in_doubt: bool
) -> None:
    translated = zd_errors.translate_write(exc)
    assert isinstance(translated, WriteInDoubtError) is in_doubt
    assert type(zd_errors.translate(exc)) is not WriteInDoubtError  # only writes are in doubt


@pytest.mark.parametrize(
    ("code", "tier"),
    [
        (503, RetryableError),
        (429, RetryableError),
        ("SERVER_UNAVAILABLE", RetryableError),
        ("INVALID_LOGIN", ConfigError),
        (400, ConfigError),
    ],
)
def test_a_login_failure_is_retryable_only_when_the_service_is_down(
    code: int | str, tier: type[ConnectorError]
) -> None:
    exc = sfx.SalesforceAuthenticationFailed(code, "message")
    assert type(sf_errors.translate(exc)) is tier


@pytest.mark.parametrize(
    ("code", "tier"),
    [
        ("UNABLE_TO_LOCK_ROW", "retry"),
        ("REQUEST_LIMIT_EXCEEDED", "defer"),
        ("INVALID_FIELD_FOR_INSERT_UPDATE", "fix-config"),
        ("FIELD_CUSTOM_VALIDATION_EXCEPTION", "skip"),
        ("UNPROCESSED", "skip"),
        ("", "skip"),
    ],
)
def test_a_failed_salesforce_record_carries_the_tier_of_its_status_code(
    code: str, tier: str
) -> None:
    item = {"success": False, "errors": [{"statusCode": code, "message": "no"}]}
    result = sf_errors.write_result("003A", item)
    assert (result.ok, result.code, result.tier) == (False, code, tier)
    assert sf_errors.write_result("003A", {"success": True, "id": "003A"}).tier is None


@pytest.mark.parametrize(("code", "tier"), [("missing", "retry"), ("job", "retry"), ("x", "skip")])
def test_a_failed_zendesk_record_carries_the_tier_of_its_code(code: str, tier: str) -> None:
    assert zd_errors.record_tier(code) == tier


def test_each_error_class_names_its_tier() -> None:
    tiers = {cls: cls.tier for cls in (RetryableError, DeferError, RecordError, ConfigError)}
    assert tiers == {
        RetryableError: "retry",
        DeferError: "defer",
        RecordError: "skip",
        ConfigError: "fix-config",
    }
