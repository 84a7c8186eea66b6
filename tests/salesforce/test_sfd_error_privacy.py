"""Salesforce quotes the value it refused in its error; none of it reaches a log or the outbox.

A comment that runs over its field's length, an address Salesforce will not take, or an org's
trigger that rejects a Task and quotes its subject: each is refused with the value in the
message (``NPS Last Comment: data value too large: <the comment> (max length=1000)``). The error
an admin reads in the logs, ``nps-sync failed`` and write-back reports names the status code,
the field and the limit or rule only.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from connectors.models import FieldUpdate
from connectors.salesforce.client import SalesforceConnector
from emulators.salesforce import SalesforceEmulator
from sync.core.retry import RetryPolicy
from sync.stages.act import drain
from sync.stages.executors.salesforce import SalesforceTaskExecutor, TaskSettings
from sync.state import ActionIntent, StateStore
from tests.salesforce.conftest import add_account, add_contact

COMMENT = "Maria Lopez here: your onboarding was a disaster and I want my money back. " * 4
FAST = RetryPolicy(attempts=2, initial_wait=0.001, max_wait=0.01)


def test_a_task_an_org_rule_refuses_quoting_its_subject_is_reported_without_the_comment(
    org: SalesforceEmulator,
    crm: SalesforceConnector,
    store: StateStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    subject = f"NPS 2: {COMMENT}"[:255]  # as the connector sends it
    payload = {
        "subject": f"NPS 2: {COMMENT}",
        "description": "Call back",
        "owner_id": org.default_user_id,
        "due_in_seconds": 86_400,
        "priority": "High",
    }
    intent = ActionIntent(
        "k1", "delighted", "r1", "detractors", "task", "salesforce_task", payload, "hash"
    )
    store.outbox.enqueue([intent], datetime.now(UTC))
    org.add_validation_rule(
        "Task",
        lambda task: "disaster" in str(task.get("Subject")),
        f"Complaints go to the complaints queue, not Tasks: {subject}",
        field="Subject",
    )
    executor = SalesforceTaskExecutor(
        crm, FAST, store=store, settings=TaskSettings(context_template="")
    )

    with caplog.at_level(logging.DEBUG):
        drain(
            store,
            [executor],
            owner="worker",
            lease=timedelta(minutes=5),
            max_failures=3,
            now=lambda: datetime.now(UTC),
        )

    (row,) = store.outbox.actions(keys=["k1"])
    assert row.status == "dead"
    error = row.last_error or ""
    assert error == (
        "FIELD_CUSTOM_VALIDATION_EXCEPTION: "
        "Complaints go to the complaints queue, not Tasks: … (Subject)"
    )
    for text in (error, caplog.text):
        assert "Maria" not in text
        assert "onboarding" not in text
    assert org.records("Task") == []


def test_a_comment_too_long_for_its_field_is_not_quoted_in_the_write_back_error(
    org: SalesforceEmulator, crm: SalesforceConnector
) -> None:
    contact = add_contact(org, "maria@acme.example", add_account(org, "Acme"))

    (result,) = crm.update_records(
        [FieldUpdate("Contact", contact, {"NPS_Last_Comment__c": COMMENT * 5})]
    )

    assert not result.ok
    assert result.error == (
        "STRING_TOO_LONG: data value too large (max length=1000) (NPS_Last_Comment__c)"
    )


def test_an_address_salesforce_refuses_is_not_quoted_in_the_write_back_error(
    org: SalesforceEmulator, crm: SalesforceConnector
) -> None:
    contact = add_contact(org, "maria@acme.example", add_account(org, "Acme"))

    (result,) = crm.update_records(
        [FieldUpdate("Contact", contact, {"Email": "maria.lopez at acme"})]
    )

    assert not result.ok
    assert result.error == "INVALID_EMAIL_ADDRESS: invalid email address (Email)"
