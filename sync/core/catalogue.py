"""The catalogue of NPS metrics nps-sync can write: one entry per metric, the single source.

Each :class:`Metric` says what the value is, its Salesforce field type and suggested API name and,
for the essentials, its Zendesk field type and key. The config's ``write_back`` models
(:mod:`sync.core.config.writeback`) are generated from it, and :mod:`sync.fields.fieldmap` resolves
a config's mapping and lists the fields an org needs from it. It lives in ``core`` because the
config models need it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Scope = Literal["contact", "account"]
CATEGORIES = ("promoter", "passive", "detractor")


@dataclass(frozen=True, slots=True)
class SalesforceType:
    """A Salesforce field type as metadata names it, with its size."""

    kind: str  # Number | Percent | Currency | Checkbox | Date | DateTime | Picklist | Text | ...
    precision: int = 0
    scale: int = 0
    length: int = 0
    values: tuple[str, ...] = ()
    reference_to: str = ""


@dataclass(frozen=True, slots=True)
class Metric:
    """One value nps-sync can write, and how."""

    key: str
    scope: Scope
    label: str
    description: str
    salesforce: SalesforceType
    suggested_name: str
    #: Zendesk user/organization field type; "" when not offered on Zendesk.
    zendesk: str = ""
    suggested_key: str = ""
    #: ``salesforce.fields`` / ``zendesk.fields`` attribute that named the field before
    #: ``write_back`` existed; such a metric is on by default, under that name.
    legacy_salesforce: str = ""
    legacy_zendesk: str = ""
    #: Written to Salesforce by default under ``suggested_name`` (no legacy name): a figure
    #: the others cannot be read without (the trend, the small-sample flag).
    salesforce_default: bool = False


def _number(precision: int, scale: int = 0) -> SalesforceType:
    return SalesforceType("Number", precision=precision, scale=scale)


CHECKBOX = SalesforceType("Checkbox")
DATE = SalesforceType("Date")

CONTACT_METRICS: tuple[Metric, ...] = (
    Metric("last_score", "contact", "NPS Last Score", "Score (0-10) of the latest response.",
           _number(2), "NPS_Last_Score__c", "integer", "nps_score",
           "contact_last_score", "user_score"),
    Metric("category", "contact", "NPS Category",
           "promoter (9-10), passive (7-8) or detractor (0-6), from the latest response.",
           SalesforceType("Picklist", values=CATEGORIES), "NPS_Category__c", "text", "nps_category",
           "contact_category", "user_category"),
    Metric("comment", "contact", "NPS Last Comment",
           "Comment of the latest response, cut to the field's length.",
           SalesforceType("LongTextArea", length=1000), "NPS_Last_Comment__c", "textarea",
           "nps_comment", "contact_last_comment"),
    Metric("response_date", "contact", "NPS Last Response Date", "Date of the latest response.",
           DATE, "NPS_Last_Response_Date__c", "date", "nps_date",
           "contact_last_response_date", "user_date"),
    Metric("previous_score", "contact", "NPS Previous Score",
           "Score of the response before the latest one.", _number(2), "NPS_Previous_Score__c",
           "integer", "nps_previous_score"),
    Metric("change", "contact", "NPS Score Change", "Latest score minus the previous score.",
           _number(3), "NPS_Score_Change__c", "integer", "nps_score_change"),
    Metric("responses", "contact", "NPS Response Count", "Responses of this contact, all time.",
           _number(18), "NPS_Response_Count__c", "integer", "nps_responses"),
    Metric("survey_type", "contact", "NPS Survey Type",
           "Survey type of the latest response (relationship, transactional, ...).",
           SalesforceType("Text", length=80), "NPS_Survey_Type__c"),
    Metric("channel", "contact", "NPS Channel", "Channel of the latest response (email, web, ...).",
           SalesforceType("Text", length=80), "NPS_Channel__c"),
    Metric("link", "contact", "NPS Response Link", "Link to the latest response (survey tool).",
           SalesforceType("Url"), "NPS_Response_Link__c", "text", "nps_link"),
)  # fmt: skip

ACCOUNT_METRICS: tuple[Metric, ...] = (
    Metric("nps", "account", "NPS Score",
           "Rolling NPS: latest response per contact in the window, -100 to 100.",
           _number(5, 1), "NPS_Score__c", "decimal", "nps_account_score",
           "account_nps", "organization_nps"),
    Metric("respondents", "account", "NPS Respondents", "Contacts counted in the rolling NPS.",
           _number(18), "NPS_Responses__c", "integer", "nps_respondents", "account_responses"),
    Metric("coverage", "account", "NPS Coverage", "Respondents / contacts of the account (%).",
           SalesforceType("Percent", precision=5, scale=1), "NPS_Coverage__c", "decimal",
           "nps_coverage"),
    Metric("key_contact_coverage", "account", "NPS Key Contact Coverage",
           "Key contacts who responded / key contacts (%).",
           SalesforceType("Percent", precision=5, scale=1), "NPS_Key_Contact_Coverage__c"),
    Metric("trend", "account", "NPS Trend", "NPS now minus NPS of the previous window.",
           _number(5, 1), "NPS_Trend__c", "decimal", "nps_trend", salesforce_default=True),
    Metric("last_response_date", "account", "NPS Last Response Date",
           "Date of the account's latest response.", DATE, "NPS_Last_Response_Date__c", "date",
           "nps_last_response"),
    Metric("detractors", "account", "NPS Detractors", "Detractors counted in the rolling NPS.",
           _number(18), "NPS_Detractors__c", "integer", "nps_detractors"),
    Metric("small_sample", "account", "NPS Small Sample",
           "Too few respondents for the NPS to mean much.", CHECKBOX, "NPS_Small_Sample__c",
           "checkbox", "nps_small_sample", salesforce_default=True),
    Metric("stale", "account", "NPS Stale", "No response for a long time.", CHECKBOX,
           "NPS_Stale__c", "checkbox", "nps_stale"),
    Metric("revenue_at_risk", "account", "NPS Revenue At Risk",
           "ARR at risk by the configured formula; empty below the minimum sample.",
           SalesforceType("Currency", precision=18, scale=2), "NPS_Revenue_At_Risk__c", "decimal",
           "nps_revenue_at_risk", "account_revenue_at_risk"),
    Metric("days_to_renewal", "account", "NPS Days To Renewal",
           "Days until the renewal date (negative: overdue).", _number(6),
           "NPS_Days_To_Renewal__c"),
    # The loop figures of ``nps-sync loop report`` for the account's responses answered within
    # ``loop.follow_for`` (sync/loop/account_fields.py); Salesforce only, off by default.
    Metric("loop_open", "account", "NPS Open Loops",
           "Loops not ended yet (open or contacted).", _number(18), "NPS_Open_Loops__c"),
    Metric("loop_past_sla", "account", "NPS Loops Past SLA",
           "Open loops past a deadline they have not met.", _number(18),
           "NPS_Loops_Past_SLA__c"),
    Metric("loop_contacted_within_sla", "account", "NPS Contacted Within SLA",
           "Detractors first contacted within their SLA / detractors (%).",
           SalesforceType("Percent", precision=5, scale=1), "NPS_Contacted_Within_SLA__c"),
    Metric("loop_median_hours_to_contact", "account", "NPS Median Hours To Contact",
           "Median hours from a detractor's answer to the first contact.", _number(8, 1),
           "NPS_Median_Hours_To_Contact__c"),
    Metric("loop_last_outcome", "account", "NPS Last Loop Outcome",
           "How the latest loop that ended ended (Resolved, Churn risk, Not reachable, ...).",
           SalesforceType("Text", length=40), "NPS_Last_Loop_Outcome__c"),
    Metric("loop_answered_again", "account", "NPS Detractors Answered Again",
           "Detractors who answered again since (the score recovery's count).", _number(18),
           "NPS_Detractors_Answered_Again__c"),
    Metric("loop_score_recovery", "account", "NPS Score Recovery",
           "Mean score of detractors' next answers minus their mean score before.",
           _number(4, 1), "NPS_Score_Recovery__c"),
)  # fmt: skip

#: The account metrics that are loop figures (computed from the loops, not the NPS window).
LOOP_METRIC_KEYS = frozenset(m.key for m in ACCOUNT_METRICS if m.key.startswith("loop_"))

METRICS: dict[tuple[Scope, str], Metric] = {
    (m.scope, m.key): m for m in CONTACT_METRICS + ACCOUNT_METRICS
}

#: History object fields: config key -> (type, label); the default API name is the label with
#: underscores and ``__c`` (``Responded At`` -> ``Responded_At__c``).
HISTORY_FIELDS: dict[str, tuple[SalesforceType, str]] = {
    "contact": (SalesforceType("Lookup", reference_to="Contact"), "Contact"),
    "account": (SalesforceType("Lookup", reference_to="Account"), "Account"),
    "score": (_number(2), "Score"),
    "category": (SalesforceType("Picklist", values=CATEGORIES), "Category"),
    "comment": (SalesforceType("LongTextArea", length=32768), "Comment"),
    "responded_at": (SalesforceType("DateTime"), "Responded At"),
    "survey_type": (SalesforceType("Text", length=80), "Survey Type"),
    "channel": (SalesforceType("Text", length=80), "Channel"),
    "link": (SalesforceType("Url"), "Link"),
    # Written only while comment analysis is on (``text.enabled``): -1.000 to 1.000, and the
    # themes most confident first, "; "-joined.
    "sentiment": (_number(4, 3), "Sentiment"),
    "themes": (SalesforceType("Text", length=255), "Themes"),
}
#: History fields that exist only while comment analysis is on.
TEXT_HISTORY_FIELDS = ("sentiment", "themes")
#: Longest text of the history record's themes field.
HISTORY_THEMES_LENGTH = 255
HISTORY_KEY_LENGTH = 255


def history_default_name(key: str) -> str:
    """The API name a history field gets unless the config names another."""
    return HISTORY_FIELDS[key][1].replace(" ", "_") + "__c"
