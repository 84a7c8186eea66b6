"""What the write-back plans to write, from stored responses and the field mapping (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from sync.fields.fieldmap import suggested_mapping
from sync.fields.history import external_key, store_key
from sync.fields.metrics import AccountFacts
from sync.fields.readback import drifted, same_value
from sync.stages.writeback import Plan, changes, plan_values, truncate
from tests.metrics.conftest import NOW, make_config, stored

ROWS = [
    stored("r1", contact="003A", account="001A", score=9, days_ago=40, user=11, org=21),
    stored(
        "r2",
        contact="003A",
        account="001A",
        score=3,
        days_ago=2,
        comment="Too slow",
        user=11,
        org=21,
        arr=200_000.0,
        renewal="2027-01-01",
    ),
    stored("r3", contact="003B", account="001A", score=10, days_ago=5, user=12, org=21),
    stored("r4", contact="003C", account="001A", score=8, days_ago=300, org=21),
]


def plan(config: Any = None, **kw: Any) -> dict[tuple[str, str], dict[str, dict[str, Any]]]:
    result = plan_values(config or make_config(), ROWS, ROWS, NOW, **kw)
    return {k: {r: dict(v) for r, v in recs.items()} for k, recs in result.values.items()}


def test_without_a_write_back_section_the_legacy_fields_trend_and_sample_are_written() -> None:
    values = plan()
    assert values[("salesforce", "Contact")]["003A"] == {
        "NPS_Last_Score__c": 3,
        "NPS_Category__c": "detractor",
        "NPS_Last_Comment__c": "Too slow",
        "NPS_Last_Response_Date__c": "2026-10-30",
    }
    # 001A in the window: A 3 (detractor), B 10 (promoter); C is 300 days old.
    assert values[("salesforce", "Account")]["001A"] == {
        "NPS_Score__c": 0.0,
        "NPS_Responses__c": 2,
        "NPS_Trend__c": 0.0,  # previous window: only C's 8 (300 days ago) -> 0.0; 0.0 - 0.0
        "NPS_Small_Sample__c": True,  # 2 respondents < 5
        "NPS_Revenue_At_Risk__c": None,  # not reported below the minimum sample
    }
    assert values[("zendesk", "user")]["11"] == {
        "nps_score": 3,
        "nps_category": "detractor",
        "nps_date": "2026-10-30",
    }
    assert values[("zendesk", "organization")]["21"] == {"nps_account_score": 0.0}
    assert ("salesforce", "NPS_Response__c") not in values


def test_legacy_names_are_defaults_that_write_back_overrides_or_turns_off() -> None:
    config = make_config(
        salesforce={
            "instance_url": "https://acme.my.salesforce.com",
            "fields": {"contact_last_score": "Legacy_Score__c", "account_nps": "Legacy_NPS__c"},
        },
        write_back={
            "salesforce": {
                "contact": {"category": "", "previous_score": "Prev__c"},
                "account": {"nps": "Explicit_NPS__c"},
            },
            "zendesk": {"organization": {"nps": ""}},
        },
    )
    values = plan(config)
    contact = values[("salesforce", "Contact")]["003A"]
    assert contact["Legacy_Score__c"] == 3
    assert contact["Prev__c"] == 9
    assert "NPS_Category__c" not in contact
    assert "Explicit_NPS__c" in values[("salesforce", "Account")]["001A"]
    assert "Legacy_NPS__c" not in values[("salesforce", "Account")]["001A"]
    assert ("zendesk", "organization") not in values


def test_every_metric_with_the_full_mapping() -> None:
    config = make_config(
        write_back=suggested_mapping(),
        metrics={
            "revenue_at_risk": "detractor_share",
            "small_sample_below": 3,
            "revenue_at_risk_small_sample": True,
        },
    )
    facts = {
        "001A": AccountFacts(
            arr=200_000.0,
            renewal_date=NOW.date().replace(year=2027, month=1, day=1),
            contacts=5,
            key_contacts=frozenset({"003B", "003D"}),
        )
    }
    values = plan(config, facts=facts)
    assert values[("salesforce", "Contact")]["003A"] == {
        "NPS_Last_Score__c": 3,
        "NPS_Category__c": "detractor",
        "NPS_Last_Comment__c": "Too slow",
        "NPS_Last_Response_Date__c": "2026-10-30",
        "NPS_Previous_Score__c": 9,
        "NPS_Score_Change__c": -6,
        "NPS_Response_Count__c": 2,
        "NPS_Survey_Type__c": "relationship",
        "NPS_Channel__c": "email",
        "NPS_Response_Link__c": "https://survey.example/r/r2",
    }
    assert values[("salesforce", "Account")]["001A"] == {
        "NPS_Score__c": 0.0,
        "NPS_Responses__c": 2,
        "NPS_Coverage__c": 40.0,  # 2 of 5 contacts
        "NPS_Key_Contact_Coverage__c": 50.0,  # B of {B, D}
        "NPS_Trend__c": 0.0,  # previous window: only C's 8 (300 days ago) -> 0.0; 0.0 - 0.0
        "NPS_Last_Response_Date__c": "2026-10-30",
        "NPS_Detractors__c": 1,
        "NPS_Small_Sample__c": True,  # 2 < 3
        "NPS_Stale__c": False,
        "NPS_Revenue_At_Risk__c": 100_000.0,  # 200,000 x 1/2, small sample reported as asked
        "NPS_Days_To_Renewal__c": 61,
        # no loops given: nothing open, nothing measured
        "NPS_Open_Loops__c": 0,
        "NPS_Loops_Past_SLA__c": 0,
        "NPS_Contacted_Within_SLA__c": None,
        "NPS_Median_Hours_To_Contact__c": None,
        "NPS_Last_Loop_Outcome__c": None,
        "NPS_Detractors_Answered_Again__c": 0,
        "NPS_Score_Recovery__c": None,
    }
    assert values[("zendesk", "organization")]["21"]["nps_revenue_at_risk"] == 100_000.0
    assert values[("zendesk", "user")]["11"]["nps_score_change"] == -6


def test_trend_uses_the_previous_window() -> None:
    rows = [*ROWS, stored("r5", contact="003B", account="001A", score=2, days_ago=200)]
    config = make_config(write_back={"salesforce": {"account": {"trend": "T__c"}}})
    values = plan_values(config, rows, rows, NOW).values
    # previous window (180..360 days): B 2, C 8 -> -50; now 0 -> trend +50
    assert values[("salesforce", "Account")]["001A"]["T__c"] == 50.0


def test_a_contact_who_moved_counts_for_the_account_they_answered_for() -> None:
    rows = [
        stored("m1", contact="003M", account="001OLD", score=2, days_ago=30),
        stored("m2", contact="003M", account="001NEW", score=10, days_ago=5),
    ]
    values = plan_values(make_config(), rows, rows, NOW).values
    assert values[("salesforce", "Account")]["001OLD"]["NPS_Score__c"] == -100.0
    assert values[("salesforce", "Account")]["001NEW"]["NPS_Score__c"] == 100.0
    assert values[("salesforce", "Contact")]["003M"]["NPS_Last_Score__c"] == 10


def test_an_answer_matched_to_the_account_without_a_contact_counts_for_it() -> None:
    """Matched by its email's domain: its Task and the insights attribute it to the account,
    so does the account's NPS, once per person, by their latest answer."""
    rows = [
        stored("c1", contact="003A", account="001A", score=10, days_ago=5),
        stored("d1", contact=None, account="001A", score=9, days_ago=20, email="kim@acme.test"),
        stored("d2", contact=None, account="001A", score=2, days_ago=3, email="Kim@acme.test"),
        stored("d3", contact=None, account="001A", score=10, days_ago=4, email="lee@acme.test"),
    ]
    values = plan_values(make_config(), rows, rows, NOW).values
    # 003A 10, kim 2 (latest), lee 10: two promoters, one detractor of three
    assert values[("salesforce", "Account")]["001A"]["NPS_Score__c"] == 33.3
    assert set(values[("salesforce", "Contact")]) == {"003A"}


def test_an_account_writes_its_nps_only_to_the_organization_most_of_its_people_are_in() -> None:
    """A contact who moved to Aspen still sits in Harbor's Zendesk organization: Aspen's NPS
    must not land on Harbor's organization."""
    rows = [
        stored("h1", contact="003H1", account="001HARBOR", score=2, days_ago=9, org=59),
        stored("h2", contact="003H2", account="001HARBOR", score=2, days_ago=8, org=59),
        stored("a1", contact="003A1", account="001ASPEN", score=10, days_ago=7, org=60),
        stored("a2", contact="003A2", account="001ASPEN", score=10, days_ago=6, org=60),
        stored("m1", contact="003H3", account="001ASPEN", score=9, days_ago=1, org=59),
    ]
    values = plan_values(make_config(), rows, rows, NOW).values
    organizations = values[("zendesk", "organization")]
    assert organizations["59"] == {"nps_account_score": -100.0}
    assert organizations["60"] == {"nps_account_score": 100.0}


def test_the_comment_is_cut_to_the_length_describe_reports_else_the_configured_one() -> None:
    long = "x" * 50
    rows = [stored("c1", contact="003A", account=None, score=2, days_ago=1, comment=long, user=5)]
    config = make_config(write_back={"comment_length": 30})
    described = plan_values(
        config, rows, [], NOW, comment_lengths={"NPS_Last_Comment__c": 10}
    ).values
    assert described[("salesforce", "Contact")]["003A"]["NPS_Last_Comment__c"] == "x" * 9 + "…"
    configured = plan_values(config, rows, [], NOW).values
    assert len(configured[("salesforce", "Contact")]["003A"]["NPS_Last_Comment__c"]) == 30


@pytest.mark.parametrize(
    ("text", "length", "expected"),
    [
        ("short", 10, "short"),
        ("exactly10!", 10, "exactly10!"),
        ("a" * 11, 10, "a" * 9 + "…"),
        ("ab\U0001f600cd", 4, "ab…"),  # the emoji takes two UTF-16 units: it does not fit
    ],
)
def test_truncate_counts_utf16_units(text: str, length: int, expected: str) -> None:
    assert truncate(text, length) == expected


def test_history_records_for_matched_responses_only() -> None:
    rows = [*ROWS, stored("u1", contact=None, account=None, score=0, days_ago=1)]
    config = make_config(write_back={"history": {"enabled": True}})
    history = plan_values(config, rows, [], NOW).values[("salesforce", "NPS_Response__c")]
    assert sorted(history) == ["delighted:r1", "delighted:r2", "delighted:r3", "delighted:r4"]
    assert history["delighted:r2"] == {
        "Response_Id__c": "delighted:r2",
        "Contact__c": "003A",
        "Account__c": "001A",
        "Score__c": 3,
        "Category__c": "detractor",
        "Comment__c": "Too slow",
        "Responded_At__c": "2026-10-30T12:00:00Z",
        "Survey_Type__c": "relationship",
        "Channel__c": "email",
        "Link__c": "https://survey.example/r/r2",
    }


def test_history_records_store_sentiment_and_themes_while_comments_are_analysed() -> None:
    history = {"history": {"enabled": True}}
    analysed = make_config(write_back=history, text={"enabled": True, "taxonomy": "themes.yaml"})
    themes = [f"theme {i} {'x' * 50}" for i in range(5)]  # 58 characters each
    comments = {("delighted", "r2"): {"sentiment": -0.61234, "themes": themes}}

    records = plan_values(analysed, ROWS, [], NOW, comments=comments).values
    by_id = records[("salesforce", "NPS_Response__c")]
    assert by_id["delighted:r2"]["Sentiment__c"] == -0.612
    assert by_id["delighted:r2"]["Themes__c"] == "; ".join(themes[:4])  # whole names, 238 chars
    assert by_id["delighted:r1"]["Sentiment__c"] is None  # no comment analysed: left empty
    assert by_id["delighted:r1"]["Themes__c"] is None
    plain = plan_values(make_config(write_back=history), ROWS, [], NOW, comments=comments).values
    assert "Sentiment__c" not in plain[("salesforce", "NPS_Response__c")]["delighted:r2"]


def test_long_response_ids_get_short_stable_keys() -> None:
    row = stored("y" * 300, contact="003A", account="001A", score=9, days_ago=1)
    key = external_key(row)
    assert len(key) <= 255
    assert key == external_key(row)
    assert len(store_key(key)) <= 40
    assert store_key("delighted:r1") == "delighted:r1"


def test_changes_keep_only_values_that_differ_from_what_was_written() -> None:
    plan_ = Plan({("salesforce", "Contact"): {"1": {"A": 1, "B": 2}, "2": {"A": 5}}})
    written = {"1": {"A": 1, "B": 3}, "2": {"A": 5}}
    pending, unchanged = changes(plan_, lambda _s, _o, _ids: written)
    assert pending == {("salesforce", "Contact"): {"1": {"B": 2}}}
    assert unchanged == 1


@pytest.mark.parametrize(
    ("wanted", "actual", "same"),
    [
        (9, 9.0, True),  # Salesforce answers numbers as doubles
        (33.3, 33.3000001, True),
        (9, 8.0, False),
        (None, None, True),
        (None, "", True),
        ("", None, True),  # an empty text comes back as null
        (None, 0.0, False),
        (True, True, True),
        (False, True, False),
        ("2026-10-30", "2026-10-30", True),
        ("line 1\nline 2", "line 1\r\nline 2", True),
        ("promoter", None, False),
        (5, "five", False),
    ],
)
def test_read_back_values_compare_by_meaning(wanted: Any, actual: Any, same: bool) -> None:
    assert same_value(wanted, actual) is same


def test_drift_lists_only_differing_fields_of_records_that_still_exist() -> None:
    wanted: dict[str, dict[str, Any]] = {"1": {"A": 9, "B": "x"}, "2": {"A": 1}, "gone": {"A": 1}}
    current: dict[str, dict[str, Any]] = {"1": {"A": 9.0, "B": "y"}, "2": {"A": 1.0}}
    assert drifted(wanted, current) == {"1": {"B": "x"}}
