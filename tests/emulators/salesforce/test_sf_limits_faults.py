"""The daily API allowance, the headers every answer carries, and injected faults."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests
from simple_salesforce.api import Salesforce, SFType
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
)

from emulators.base import Fault
from emulators.salesforce import SalesforceEmulator

QUOTA_BODY = [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]


def raw_get(http: requests.Session, emulator: SalesforceEmulator, path: str) -> requests.Response:
    return http.get(
        f"{emulator.instance_url}/services/data/v59.0/{path}",
        headers={"Authorization": f"Bearer {emulator.issue_session()}"},
    )


def test_every_api_call_counts_and_is_reported(
    sf: Salesforce, emulator: SalesforceEmulator, sobject: Callable[[str], SFType]
) -> None:
    sobject("Account").describe()
    sf.query("SELECT Id FROM Account")
    assert emulator.api_used == 2
    assert sf.api_usage["api-usage"].used == 2
    assert sf.api_usage["api-usage"].total == 100_000


def test_headers_on_data_responses(http: requests.Session, emulator: SalesforceEmulator) -> None:
    for path in ("limits/", "sobjects/Nope/describe", "query/?q=SELECT+Id+FROM+Nope"):
        answer = raw_get(http, emulator, path)
        assert answer.headers["Content-Type"] == "application/json;charset=UTF-8"
        assert answer.headers["Sforce-Limit-Info"].startswith("api-usage=")


def test_limits_resource(sf: Salesforce, emulator: SalesforceEmulator) -> None:
    emulator.api_used = 99_990
    limits = sf.limits()
    assert limits["DailyApiRequests"] == {"Max": 100_000, "Remaining": 9}
    assert all(set(v) == {"Max", "Remaining"} for v in limits.values())


def test_a_spent_allowance_refuses_calls_with_403(
    sf: Salesforce,
    emulator: SalesforceEmulator,
    error_array: Callable[[BaseException], list[dict[str, Any]]],
) -> None:
    emulator.api_used = 99_999
    sf.query("SELECT Id FROM Account")
    with pytest.raises(SalesforceRefusedRequest) as caught:
        sf.query("SELECT Id FROM Account")
    assert error_array(caught.value) == QUOTA_BODY
    assert emulator.api_used == 100_000


def test_the_allowance_is_a_rolling_24_hours(
    http: requests.Session, emulator: SalesforceEmulator
) -> None:
    """Calls free up 24 hours after they were made, not at a day boundary."""
    emulator.daily_limit = 3
    first = [raw_get(http, emulator, "limits/").status_code for _ in range(2)]
    emulator.advance_api_window(12 * 3600)
    later = [raw_get(http, emulator, "limits/").status_code for _ in range(2)]
    emulator.advance_api_window(12 * 3600)  # the first two calls are now 24 hours old
    next_day = raw_get(http, emulator, "limits/")

    assert first + later == [200, 200, 200, 403]
    assert next_day.status_code == 200
    assert next_day.headers["Sforce-Limit-Info"] == "api-usage=2/3"
    assert emulator.api_used == 2


def test_quota_answer_shape(http: requests.Session, emulator: SalesforceEmulator) -> None:
    emulator.daily_limit = 3
    emulator.api_used = 3
    answer = raw_get(http, emulator, "limits/")
    assert answer.status_code == 403
    assert answer.json() == QUOTA_BODY
    assert "Retry-After" not in answer.headers
    assert answer.headers["Sforce-Limit-Info"] == "api-usage=3/3"


@pytest.mark.parametrize(
    ("fault", "exception", "code"),
    [
        (Fault("quota", count=1), SalesforceRefusedRequest, "REQUEST_LIMIT_EXCEEDED"),
        (Fault("invalid_session", count=1), SalesforceExpiredSession, "INVALID_SESSION_ID"),
        (Fault("500", count=1), SalesforceGeneralError, "UNKNOWN_EXCEPTION"),
        (Fault("503", count=1), SalesforceGeneralError, "SERVER_UNAVAILABLE"),
        (Fault("429", count=1, retry_after=7), SalesforceGeneralError, "TOO_MANY_REQUESTS"),
    ],
)
def test_injected_faults_answer_in_salesforce_shapes(
    sf: Salesforce,
    emulator: SalesforceEmulator,
    fault: Fault,
    exception: type[Exception],
    code: str,
    error_array: Callable[[BaseException], list[dict[str, Any]]],
) -> None:
    emulator.inject(fault)
    with pytest.raises(exception) as caught:
        sf.query("SELECT Id FROM Account")
    assert error_array(caught.value)[0]["errorCode"] == code
    assert sf.query("SELECT Id FROM Account")["done"] is True


def test_lock_fault_on_single_record_dml(
    sf: Salesforce,
    emulator: SalesforceEmulator,
    sobject: Callable[[str], SFType],
    error_array: Callable[[BaseException], list[dict[str, Any]]],
) -> None:
    emulator.inject(Fault("lock", count=1))
    sf.query("SELECT Id FROM Account")
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sobject("Account").create({"Name": "Locked"})
    assert error_array(caught.value)[0]["errorCode"] == "UNABLE_TO_LOCK_ROW"
    assert sobject("Account").create({"Name": "Free"})["success"] is True


def test_reset_fault_drops_the_connection(sf: Salesforce, emulator: SalesforceEmulator) -> None:
    emulator.inject(Fault("reset", count=1, endpoint="^query$"))
    with pytest.raises(requests.ConnectionError):
        sf.query("SELECT Id FROM Account")


def test_calls_are_counted_per_endpoint(
    sf: Salesforce, emulator: SalesforceEmulator, sobject: Callable[[str], SFType]
) -> None:
    created = sobject("Account").create({"Name": "Counted"})["id"]
    sobject("Account").get(created)
    sobject("Account").update(created, {"Name": "Again"})
    sf.query("SELECT Id FROM Account")
    sf.restful("composite/sobjects", method="POST", json={"records": []})
    assert {name: emulator.calls[name] for name in emulator.calls} == {
        "sobject_create": 1,
        "sobject_get": 1,
        "sobject_update": 1,
        "query": 1,
        "composite_create": 1,
    }
