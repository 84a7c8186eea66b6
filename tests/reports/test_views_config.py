"""The ``views`` section: crontab lines with named weekdays, and email sends need SMTP."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from sync.core.config import Config

BASE = {
    "salesforce": {"instance_url": "https://acme.my.salesforce.com"},
    "zendesk": {"subdomain": "acme"},
    "rules": "rules.yaml",
}
SMTP = {"host": "127.0.0.1", "sender": "nps@acme.test"}


@pytest.mark.parametrize(
    ("views", "email", "problem"),
    [
        ({"digest": {"cron": "0 8 * * 1"}}, None, "write the weekday by name, not '1'"),
        ({"digest": {"cron": "0 8 * *"}}, None, "not a crontab line"),
        ({"frontline": {"cron": "0 7 * * *"}}, None, "call lists are emailed"),
        ({"digest": {"cron": "0 8 * * mon", "email_to": ["l@acme.test"]}}, None, "digest is"),
        ({"frontline": {"slack_webhook_envs": {"a@acme.test": "not a name"}}}, SMTP, "pattern"),
    ],
)
def test_a_bad_views_section_is_refused_with_the_reason(
    views: dict[str, object], email: dict[str, object] | None, problem: str
) -> None:
    with pytest.raises(ValidationError, match=problem):
        Config.model_validate({**BASE, "views": views, "email": email})


def test_views_on_a_schedule_with_smtp_are_accepted() -> None:
    views = {
        "frontline": {"cron": "0 7 * * mon-fri"},
        "digest": {"cron": "0 8 * * mon", "email_to": ["l@acme.test"]},
    }
    config = Config.model_validate({**BASE, "views": views, "email": SMTP})
    assert config.views.digest.email_to == ("l@acme.test",)
    # without an email section, a list sent only to Slack needs no SMTP
    slack_only = {"frontline": {"cron": "0 7 * * *", "email": False}}
    assert Config.model_validate({**BASE, "views": slack_only}).views.frontline.email is False


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        (["Customer Health"], "'Customer Health' is not a Salesforce field API name"),
        (["Type; DELETE"], "is not a Salesforce field API name"),
        (["1st__c"], "is not a Salesforce field API name"),
        (["Parent..Type"], "is not a Salesforce field API name"),
        (["tier"], "'tier' is a built-in segment"),
        (["Id"], "'Id' is a built-in segment or the id"),
        (["Type", "type"], r"\[1\] 'type' is listed twice"),
    ],
)
def test_account_fields_to_segment_by_must_be_field_names(fields: list[str], problem: str) -> None:
    insights = {"segments": {"account_fields": fields}}
    with pytest.raises(ValidationError, match=problem):
        Config.model_validate({**BASE, "insights": insights})


def test_account_fields_and_paths_are_accepted() -> None:
    fields = ["Type", "Customer_Health__c", "Parent.Industry"]
    insights = {"segments": {"account_fields": fields, "recent_ticket_days": 14}}
    config = Config.model_validate({**BASE, "insights": insights})
    assert config.insights.segments.account_fields == tuple(fields)
    assert config.insights.segments.recent_ticket_days == 14
    assert Config.model_validate(BASE).insights.segments.recent_ticket_days == 30
