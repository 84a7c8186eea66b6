"""Zendesk answers that map to a tier other than their status's."""

from __future__ import annotations

import json

import pytest
import requests
from zenpy.lib.exception import APIException

from connectors.errors import ConnectorError, RecordError, RetryableError
from connectors.zendesk.errors import translate


def api_error(status: int, body: dict[str, object]) -> APIException:
    response = requests.Response()
    response.status_code = status
    return APIException(json.dumps(body), response=response)


@pytest.mark.parametrize(
    ("status", "body", "tier"),
    [
        # The key was used with another body: an earlier attempt created the ticket. The next
        # attempt looks it up by external_id; it is no bad record to give up on.
        (400, {"error": "IdempotentRequestError", "description": "mismatch"}, RetryableError),
        (400, {"error": "InvalidValue", "description": "bad"}, RecordError),
        (422, {"error": "RecordInvalid", "description": "Record validation errors"}, RecordError),
    ],
)
def test_error_codes_decide_before_statuses(
    status: int, body: dict[str, object], tier: type[ConnectorError]
) -> None:
    assert type(translate(api_error(status, body))) is tier
