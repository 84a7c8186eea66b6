"""Which metric goes into which field: the catalogue of metrics, the mapping from the config, and
the fields an org and a helpdesk need for it.

Every metric has a Salesforce field type (what ``nps-sync fields setup`` creates) and, for the
essentials, a Zendesk field type. The config's ``write_back:`` section maps metrics to field API
names (Salesforce) and keys (Zendesk): unset takes the default (the legacy
``salesforce.fields.*``/``zendesk.fields.*`` name for the fields nps-sync always wrote, off for the
others), ``""`` turns a metric off. :func:`required_fields` lists what the mapping needs, for the
set-up command and for ``nps-sync check``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from connectors.salesforce.describe import FieldInfo
from sync.core.config import Config

Scope = Literal["contact", "account"]
CATEGORIES = ("promoter", "passive", "detractor")

#: A custom field's API name: letters, digits and single underscores, ``__c`` at the end.
CUSTOM_FIELD_NAME = re.compile(r"^[A-Za-z](?:[A-Za-z0-9]|_(?!_))*__c$")
MAX_CUSTOM_NAME = 40 + len("__c")


@dataclass(frozen=True, slots=True)
class SalesforceType:
    """A Salesforce field type as metadata names it, with its size."""

    kind: str  # Number | Percent | Currency | Checkbox | Date | DateTime | Picklist | Text | ...
    precision: int = 0
    scale: int = 0
    length: int = 0
    values: tuple[str, ...] = ()
    reference_to: str = ""


#: describe ``type`` values a field of each metadata type may report.
DESCRIBE_TYPES: dict[str, frozenset[str]] = {
    "Number": frozenset({"double", "int", "percent", "currency"}),
    "Percent": frozenset({"percent", "double"}),
    "Currency": frozenset({"currency", "double"}),
    "Checkbox": frozenset({"boolean"}),
    "Date": frozenset({"date"}),
    "DateTime": frozenset({"datetime"}),
    "Picklist": frozenset({"picklist", "string"}),
    "Text": frozenset({"string", "textarea"}),
    "LongTextArea": frozenset({"textarea", "string"}),
    "Url": frozenset({"url", "string"}),
    "Lookup": frozenset({"reference"}),
}


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
           _number(5, 1), "NPS_Trend__c", "decimal", "nps_trend"),
    Metric("last_response_date", "account", "NPS Last Response Date",
           "Date of the account's latest response.", DATE, "NPS_Last_Response_Date__c", "date",
           "nps_last_response"),
    Metric("detractors", "account", "NPS Detractors", "Detractors counted in the rolling NPS.",
           _number(18), "NPS_Detractors__c", "integer", "nps_detractors"),
    Metric("small_sample", "account", "NPS Small Sample",
           "Too few respondents for the NPS to mean much.", CHECKBOX, "NPS_Small_Sample__c",
           "checkbox", "nps_small_sample"),
    Metric("stale", "account", "NPS Stale", "No response for a long time.", CHECKBOX,
           "NPS_Stale__c", "checkbox", "nps_stale"),
    Metric("revenue_at_risk", "account", "NPS Revenue At Risk",
           "ARR at risk by the configured formula.",
           SalesforceType("Currency", precision=18, scale=2), "NPS_Revenue_At_Risk__c", "decimal",
           "nps_revenue_at_risk", "account_revenue_at_risk"),
    Metric("days_to_renewal", "account", "NPS Days To Renewal",
           "Days until the renewal date (negative: overdue).", _number(6),
           "NPS_Days_To_Renewal__c"),
)  # fmt: skip

METRICS: dict[tuple[Scope, str], Metric] = {
    (m.scope, m.key): m for m in CONTACT_METRICS + ACCOUNT_METRICS
}

#: History object fields: config key -> (type, label).
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
}
HISTORY_KEY_LENGTH = 255


@dataclass(frozen=True, slots=True)
class MappedField:
    """A metric and the field (API name or key) it is written to."""

    metric: Metric
    name: str


@dataclass(frozen=True, slots=True)
class HistoryMap:
    object: str
    external_id: str
    #: history field key (``score``, ``contact``, ...) -> API name, only the ones in use.
    fields: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class FieldMap:
    """The resolved mapping: what is written where."""

    contact: tuple[MappedField, ...]
    account: tuple[MappedField, ...]
    user: tuple[MappedField, ...]
    organization: tuple[MappedField, ...]
    history: HistoryMap | None
    comment_length: int

    def uses(self, key: str) -> bool:
        """Whether any system writes the metric ``key``."""
        groups = (self.contact, self.account, self.user, self.organization)
        return any(m.metric.key == key for group in groups for m in group)


def _resolve(
    metrics: tuple[Metric, ...],
    chosen: Mapping[str, str | None],
    legacy: Any,
    legacy_attr: str,
    *,
    zendesk: bool,
) -> tuple[MappedField, ...]:
    mapped: list[MappedField] = []
    for metric in metrics:
        if zendesk and not metric.zendesk:
            continue
        name = chosen.get(metric.key)
        if name is None:
            attribute = getattr(metric, legacy_attr)
            name = str(getattr(legacy, attribute, "") or "") if attribute else ""
        if name:
            mapped.append(MappedField(metric, name))
    return tuple(mapped)


def field_map(config: Config) -> FieldMap:
    """Resolve the config's ``write_back`` mapping, with the legacy names as defaults."""
    wb = config.write_back
    sf_legacy = config.salesforce.fields
    zd_legacy = config.zendesk.fields
    history = None
    if wb.history.enabled:
        fields = {k: v for k, v in wb.history.fields.model_dump().items() if v}
        history = HistoryMap(wb.history.object, wb.history.external_id, fields)
    return FieldMap(
        contact=_resolve(
            CONTACT_METRICS,
            wb.salesforce.contact.model_dump(),
            sf_legacy,
            "legacy_salesforce",
            zendesk=False,
        ),
        account=_resolve(
            ACCOUNT_METRICS,
            wb.salesforce.account.model_dump(),
            sf_legacy,
            "legacy_salesforce",
            zendesk=False,
        ),
        user=_resolve(
            CONTACT_METRICS, wb.zendesk.user.model_dump(), zd_legacy, "legacy_zendesk", zendesk=True
        ),
        organization=_resolve(
            ACCOUNT_METRICS,
            wb.zendesk.organization.model_dump(),
            zd_legacy,
            "legacy_zendesk",
            zendesk=True,
        ),
        history=history,
        comment_length=wb.comment_length,
    )


def suggested_mapping(*, zendesk: bool = True, history: bool = True) -> dict[str, Any]:
    """A ``write_back`` section that maps every metric to its suggested name (for set-up)."""
    section: dict[str, Any] = {
        "salesforce": {
            "contact": {m.key: m.suggested_name for m in CONTACT_METRICS},
            "account": {m.key: m.suggested_name for m in ACCOUNT_METRICS},
        }
    }
    if zendesk:
        section["zendesk"] = {
            "user": {m.key: m.suggested_key for m in CONTACT_METRICS if m.zendesk},
            "organization": {m.key: m.suggested_key for m in ACCOUNT_METRICS if m.zendesk},
        }
    if history:
        section["history"] = {"enabled": True}
    return section


# -- what the mapping needs ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RequiredField:
    """A field the mapping writes: where, what type, how long.

    ``type`` is the Salesforce metadata type (``Number``, ``Checkbox``, ...) or the Zendesk field
    type (``integer``, ``decimal``, ...). ``length`` is in characters for text types.
    """

    system: Literal["salesforce", "zendesk"]
    object: str
    field: str
    type: str
    length: int | None
    label: str
    description: str
    metric: str
    precision: int | None = None
    scale: int | None = None
    picklist_values: tuple[str, ...] = ()
    reference_to: str | None = None
    external_id: bool = False

    @property
    def describe_types(self) -> frozenset[str]:
        """The describe ``type`` values that fit (Salesforce); empty for Zendesk."""
        return (
            DESCRIBE_TYPES.get(self.type, frozenset())
            if self.system == "salesforce"
            else (frozenset())
        )


def _sf_required(
    obj: str, name: str, kind: SalesforceType, label: str, description: str, metric: str
) -> RequiredField:
    return RequiredField(
        system="salesforce",
        object=obj,
        field=name,
        type=kind.kind,
        length=kind.length or (255 if kind.kind == "Url" else None),
        label=label,
        description=description,
        metric=metric,
        precision=kind.precision or None,
        scale=kind.scale if kind.precision else None,
        picklist_values=kind.values,
        reference_to=kind.reference_to or None,
    )


def _comment_type(length: int) -> SalesforceType:
    """A comment field of ``length``: long text area from 256 characters, plain text below."""
    return SalesforceType("LongTextArea" if length > 255 else "Text", length=length)


def required_fields(config: Config) -> list[RequiredField]:
    """Every field the ``write_back`` mapping writes: object, field, type, length (and more).

    The Salesforce check compares these with describe (see :func:`field_problem`); ``nps-sync
    fields setup`` prints them and writes them as metadata.
    """
    fmap = field_map(config)
    out: list[RequiredField] = []
    for obj, group in (("Contact", fmap.contact), ("Account", fmap.account)):
        for mapped in group:
            m = mapped.metric
            kind = _comment_type(fmap.comment_length) if m.key == "comment" else m.salesforce
            out.append(_sf_required(obj, mapped.name, kind, m.label, m.description, m.key))
    if fmap.history is not None:
        h = fmap.history
        out.append(
            RequiredField(
                system="salesforce",
                object=h.object,
                field=h.external_id,
                type="Text",
                length=HISTORY_KEY_LENGTH,
                label="Response Id",
                description="Source and id of the survey response (external id, unique).",
                metric="history.external_id",
                external_id=True,
            )
        )
        for key, name in h.fields.items():
            kind, label = HISTORY_FIELDS[key]
            out.append(_sf_required(h.object, name, kind, label, f"{label} of the response.",
                                    f"history.{key}"))  # fmt: skip
    for obj, group in (("user", fmap.user), ("organization", fmap.organization)):
        for mapped in group:
            m = mapped.metric
            out.append(
                RequiredField(
                    system="zendesk",
                    object=obj,
                    field=mapped.name,
                    type=m.zendesk,
                    length=fmap.comment_length if m.key == "comment" else None,
                    label=m.label,
                    description=m.description,
                    metric=m.key,
                )
            )
    return out


def field_problem(required: RequiredField, described: FieldInfo | None) -> str | None:
    """What is wrong with a Salesforce field as describe reports it, or None when it fits."""
    where = f"{required.object}.{required.field}"
    if described is None:
        return f"{where} does not exist (or the integration user cannot see it)"
    if required.describe_types and described.type not in required.describe_types:
        return f"{where} is {described.type}, expected {required.type}"
    if required.external_id:
        return None if described.external_id else f"{where} is not an external id field"
    if not (described.updateable or described.createable):
        return f"{where} is read-only for the integration user"
    if required.picklist_values and described.type == "picklist" and described.restricted_picklist:
        missing = sorted(set(required.picklist_values) - set(described.picklist_values))
        if missing:
            return f"{where} lacks the picklist values {', '.join(missing)}"
    return None


def metadata_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be created as a custom field, or None."""
    if not name.endswith("__c"):
        return f"{name} is not a custom field name (custom fields end in __c)"
    if len(name) > MAX_CUSTOM_NAME or not CUSTOM_FIELD_NAME.match(name):
        return (
            f"{name} is not a valid API name (a letter first, then letters, digits and single "
            "underscores, at most 40 characters before __c)"
        )
    return None
