"""A refused Salesforce answer's Retry-After reaches the retry policy, which waits it out."""

from __future__ import annotations

import time

import pytest

from connectors.errors import RetryableError
from connectors.salesforce.client import SalesforceConnector
from emulators.base import Fault
from emulators.salesforce import SalesforceEmulator
from sync.core.retry import RetryPolicy


def test_retry_after_of_a_429_is_carried_by_the_error(
    org: SalesforceEmulator, crm: SalesforceConnector
) -> None:
    org.inject(Fault("429", count=1, endpoint="^query$", retry_after=7))
    with pytest.raises(RetryableError) as info:
        crm.find_contacts_by_email(["nobody@example.com"])
    assert info.value.retry_after == 7.0
    # Taken once: the next refusal without the header does not inherit it.
    org.inject(Fault("503", count=1, endpoint="^query$"))
    with pytest.raises(RetryableError) as again:
        crm.find_contacts_by_email(["nobody@example.com"])
    assert again.value.retry_after is None


def test_the_retry_policy_waits_for_retry_after(
    org: SalesforceEmulator, crm: SalesforceConnector
) -> None:
    org.inject(Fault("429", count=1, endpoint="^query$", retry_after=1))
    started = time.monotonic()
    found = RetryPolicy(attempts=2, initial_wait=0.01).call(
        lambda: crm.find_contacts_by_email(["nobody@example.com"])
    )
    assert found == {}
    assert time.monotonic() - started >= 1.0
