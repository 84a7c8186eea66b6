"""Zendesk quotes the value it refused in its validation errors (``Requester: Email: <the
address> is not properly formatted``); the error we keep names the field and the problem only."""

from __future__ import annotations

import pytest

from connectors.errors import RecordError
from connectors.models import TicketSpec
from connectors.zendesk.client import ZendeskConnector
from emulators.zendesk import ZendeskEmulator

ADDRESS = "maria lopez at home"


def spec(key: str) -> TicketSpec:
    return TicketSpec(
        key=key, subject="NPS", body="Body", requester_email=ADDRESS, requester_name="Maria"
    )


@pytest.mark.parametrize("count", [1, 2], ids=["direct", "bulk-job"])
def test_a_refused_requester_address_is_not_quoted_in_the_error(
    emulator: ZendeskEmulator, desk: ZendeskConnector, count: int
) -> None:
    try:
        results = desk.create_tickets([spec(f"k{i}") for i in range(count)], direct_up_to=1)
        errors = [r.error for r in results]
    except RecordError as exc:
        errors = [str(exc)]

    assert errors
    for error in errors:
        assert "maria" not in error.lower()
        assert "requester" in error.lower() or "RecordInvalid" in error
