"""The emulated org's objects: common standard fields plus the custom fields nps-sync uses.

Properties follow what real describes report for these fields (lengths, nillable, idLookup on
``Email``, polymorphic ``WhoId``/``WhatId``/``OwnerId`` on activities and leads).
"""

from __future__ import annotations

from typing import Any
from zoneinfo import available_timezones

from emulators.salesforce.schema import FieldDef, Schema, SObjectDef

NPS_CATEGORIES = ("promoter", "passive", "detractor")
INDUSTRIES = (
    "Software",
    "Financial Services",
    "Healthcare",
    "Manufacturing",
    "Retail",
    "Logistics",
    "Education",
    "Media",
    "Energy",
    "Professional Services",
    "Telecommunications",
    "Hospitality",
    "Other",
)
CONTACT_ROLES = ("Decision Maker", "Economic Buyer", "Champion", "User", "Technical")
#: The org's default time zone, which new and seeded users get (``User.TimeZoneSidKey``).
DEFAULT_TIME_ZONE = "America/Los_Angeles"
TIME_ZONES = tuple(sorted(available_timezones() | {DEFAULT_TIME_ZONE}))
GROUP_TYPES = ("Regular", "Role", "RoleAndSubordinates", "Organization", "Queue")
#: The outcome picklist `nps-sync fields setup` creates on Task.
LOOP_OUTCOMES = ("Resolved", "Not reachable", "No action needed", "Churn risk")
TASK_STATUSES = ("Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred")
#: The default opportunity stages: (closed, won, default probability %) per stage [Opportunity].
OPPORTUNITY_STAGES: dict[str, tuple[bool, bool, int]] = {
    "Prospecting": (False, False, 10),
    "Qualification": (False, False, 10),
    "Needs Analysis": (False, False, 20),
    "Value Proposition": (False, False, 50),
    "Id. Decision Makers": (False, False, 60),
    "Perception Analysis": (False, False, 70),
    "Proposal/Price Quote": (False, False, 75),
    "Negotiation/Review": (False, False, 90),
    "Closed Won": (True, True, 100),
    "Closed Lost": (True, False, 0),
}
#: The standard opportunity types, then the two a subscription business adds (the picklist is
#: not restricted, so the API accepts other values too).
OPPORTUNITY_TYPES = (
    "Existing Customer - Upgrade",
    "Existing Customer - Replacement",
    "Existing Customer - Downgrade",
    "New Customer",
    "Renewal",
    "Upsell",
)
LEAD_STATUSES = (
    "Open - Not Contacted",
    "Working - Contacted",
    "Closed - Converted",
    "Closed - Not Converted",
)


def _label(name: str) -> str:
    return name.removesuffix("__c").replace("_", " ")


def text(name: str, length: int, *, label: str = "", kind: str = "string", **kw: Any) -> FieldDef:
    """A text-like field; long text areas (> 255) can be neither filtered nor sorted."""
    searchable = not (kind == "textarea" and length > 255)
    kw.setdefault("filterable", searchable)
    kw.setdefault("sortable", searchable)
    return FieldDef(name, kind, label or _label(name), length=length, **kw)


def picklist(
    name: str,
    values: tuple[str, ...],
    *,
    label: str = "",
    restricted: bool = False,
    default: str | None = None,
    length: int = 255,
    **kw: Any,
) -> FieldDef:
    return FieldDef(
        name,
        "picklist",
        label or _label(name),
        length=length,
        picklist_values=values,
        restricted_picklist=restricted,
        default_value=default,
        defaulted_on_create=default is not None,
        **kw,
    )


def reference(
    name: str,
    to: tuple[str, ...],
    relationship: str,
    *,
    label: str = "",
    child: str | None = None,
    **kw: Any,
) -> FieldDef:
    return FieldDef(
        name,
        "reference",
        label or _label(name),
        length=18,
        reference_to=to,
        relationship_name=relationship,
        child_relationship_name=child,
        **kw,
    )


def number(
    name: str, kind: str = "double", precision: int = 18, scale: int = 0, **kw: Any
) -> FieldDef:
    return FieldDef(
        name, kind, kw.pop("label", "") or _label(name), precision=precision, scale=scale, **kw
    )


def plain(name: str, kind: str, **kw: Any) -> FieldDef:
    """A date, datetime or boolean field."""
    return FieldDef(name, kind, kw.pop("label", "") or _label(name), **kw)


def owner(to: tuple[str, ...] = ("User",), child: str | None = None) -> FieldDef:
    return reference(
        "OwnerId",
        to,
        "Owner",
        label="Owner ID",
        nillable=False,
        defaulted_on_create=True,
        child=child,
    )


def _checkbox(name: str, label: str) -> FieldDef:
    """A custom checkbox: never null, false unless set."""
    return plain(
        name,
        "boolean",
        label=label,
        nillable=False,
        default_value=False,
        defaulted_on_create=True,
        custom=True,
    )


def _readonly(definition: FieldDef) -> FieldDef:
    definition.createable = False
    definition.updateable = False
    return definition


def system_fields(label: str) -> list[FieldDef]:
    """Id, IsDeleted and the audit fields every object has, all read-only."""
    return [
        _readonly(
            FieldDef(
                "Id",
                "id",
                f"{label} ID",
                length=18,
                nillable=False,
                id_lookup=True,
                defaulted_on_create=True,
            )
        ),
        _readonly(
            plain("IsDeleted", "boolean", label="Deleted", nillable=False, defaulted_on_create=True)
        ),
    ]


def audit_fields() -> list[FieldDef]:
    return [
        _readonly(
            plain(
                "CreatedDate",
                "datetime",
                label="Created Date",
                nillable=False,
                defaulted_on_create=True,
            )
        ),
        _readonly(
            reference(
                "CreatedById",
                ("User",),
                "CreatedBy",
                label="Created By ID",
                nillable=False,
                defaulted_on_create=True,
            )
        ),
        _readonly(
            plain(
                "LastModifiedDate",
                "datetime",
                label="Last Modified Date",
                nillable=False,
                defaulted_on_create=True,
            )
        ),
        _readonly(
            reference(
                "LastModifiedById",
                ("User",),
                "LastModifiedBy",
                label="Last Modified By ID",
                nillable=False,
                defaulted_on_create=True,
            )
        ),
        _readonly(
            plain(
                "SystemModstamp",
                "datetime",
                label="System Modstamp",
                nillable=False,
                defaulted_on_create=True,
            )
        ),
    ]


def full_name() -> FieldDef:
    return _readonly(
        text("Name", 121, label="Full Name", nillable=False, name_field=True, derived=True)
    )


def user() -> SObjectDef:
    obj = SObjectDef("User", "User", "Users", "005")
    obj.add(*system_fields("User"))
    obj.add(
        text("Username", 80, nillable=False, unique=True, id_lookup=True),
        text("LastName", 80, label="Last Name", nillable=False),
        text("FirstName", 40, label="First Name"),
        full_name(),
        text("Email", 128, kind="email", nillable=False),
        text("Alias", 8),
        text("Title", 80),
        plain(
            "IsActive",
            "boolean",
            label="Active",
            nillable=False,
            default_value=True,
            defaulted_on_create=True,
        ),
        reference("ManagerId", ("User",), "Manager", label="Manager ID"),
        picklist(
            "TimeZoneSidKey",
            TIME_ZONES,
            label="Time Zone",
            restricted=True,
            default=DEFAULT_TIME_ZONE,
            nillable=False,
        ),
        *audit_fields(),
    )
    return obj


def account() -> SObjectDef:
    obj = SObjectDef("Account", "Account", "Accounts", "001")
    obj.add(*system_fields("Account"))
    obj.add(
        text("Name", 255, label="Account Name", nillable=False, name_field=True),
        picklist(
            "Type",
            ("Prospect", "Customer - Direct", "Customer - Channel", "Other"),
            label="Account Type",
            length=40,
        ),
        text("AccountNumber", 40, label="Account Number"),
        reference(
            "ParentId", ("Account",), "Parent", label="Parent Account ID", child="ChildAccounts"
        ),
        text("Phone", 40, kind="phone", label="Account Phone"),
        text("Website", 255, kind="url"),
        picklist("Industry", INDUSTRIES, length=40),
        number("AnnualRevenue", "currency", 18, 0, label="Annual Revenue"),
        number("NumberOfEmployees", "int", 8, 0, label="Employees"),
        text("Description", 32000, kind="textarea", label="Account Description"),
        text("BillingStreet", 255, kind="textarea", label="Billing Street"),
        text("BillingCity", 40, label="Billing City"),
        text("BillingCountry", 80, label="Billing Country"),
        owner(child="Accounts"),
        *audit_fields(),
        picklist("Tier__c", ("Enterprise", "Mid-Market", "SMB"), custom=True),
        number("ARR__c", "currency", 18, 2, label="ARR", custom=True),
        picklist("Region__c", ("NA", "EMEA", "APAC", "LATAM"), custom=True),
        plain("Renewal_Date__c", "date", custom=True),
        text("Email_Domain__c", 255, custom=True),
        number("NPS_Score__c", precision=5, scale=1, label="NPS Score", custom=True),
        number("NPS_Responses__c", precision=18, scale=0, label="NPS Responses", custom=True),
        number("NPS_Detractors__c", precision=18, scale=0, label="NPS Detractors", custom=True),
        number(
            "NPS_Revenue_At_Risk__c", "currency", 18, 2, label="NPS Revenue At Risk", custom=True
        ),
        plain("NPS_Last_Response_Date__c", "date", label="NPS Last Response Date", custom=True),
        number("NPS_Trend__c", precision=5, scale=1, label="NPS Trend", custom=True),
        # -- more write-back metrics (sync/fields/fieldmap.py) --
        number("NPS_Coverage__c", "percent", 5, 1, label="NPS Coverage", custom=True),
        number(
            "NPS_Key_Contact_Coverage__c",
            "percent",
            5,
            1,
            label="NPS Key Contact Coverage",
            custom=True,
        ),
        _checkbox("NPS_Small_Sample__c", "NPS Small Sample"),
        _checkbox("NPS_Stale__c", "NPS Stale"),
        number(
            "NPS_Days_To_Renewal__c", precision=6, scale=0, label="NPS Days To Renewal", custom=True
        ),
        # -- loop figures (sync/loop/account_fields.py) --
        number("NPS_Open_Loops__c", precision=18, scale=0, label="NPS Open Loops", custom=True),
        number(
            "NPS_Loops_Past_SLA__c", precision=18, scale=0, label="NPS Loops Past SLA", custom=True
        ),
        number(
            "NPS_Contacted_Within_SLA__c",
            "percent",
            5,
            1,
            label="NPS Contacted Within SLA",
            custom=True,
        ),
        number(
            "NPS_Median_Hours_To_Contact__c",
            precision=8,
            scale=1,
            label="NPS Median Hours To Contact",
            custom=True,
        ),
        text("NPS_Last_Loop_Outcome__c", 40, label="NPS Last Loop Outcome", custom=True),
        number(
            "NPS_Detractors_Answered_Again__c",
            precision=18,
            scale=0,
            label="NPS Detractors Answered Again",
            custom=True,
        ),
        number(
            "NPS_Score_Recovery__c", precision=4, scale=1, label="NPS Score Recovery", custom=True
        ),
    )
    return obj


def contact() -> SObjectDef:
    obj = SObjectDef("Contact", "Contact", "Contacts", "003")
    obj.add(*system_fields("Contact"))
    obj.add(
        reference("AccountId", ("Account",), "Account", label="Account ID", child="Contacts"),
        text("LastName", 80, label="Last Name", nillable=False),
        text("FirstName", 40, label="First Name"),
        full_name(),
        text("Title", 128),
        text("Email", 80, kind="email", id_lookup=True),
        text("Phone", 40, kind="phone", label="Business Phone"),
        text("Description", 32000, kind="textarea", label="Contact Description"),
        plain(
            "HasOptedOutOfEmail",
            "boolean",
            label="Email Opt Out",
            nillable=False,
            default_value=False,
            defaulted_on_create=True,
        ),
        owner(child="Contacts"),
        *audit_fields(),
        number("NPS_Last_Score__c", precision=2, scale=0, label="NPS Last Score", custom=True),
        picklist(
            "NPS_Category__c", NPS_CATEGORIES, label="NPS Category", restricted=True, custom=True
        ),
        text("NPS_Last_Comment__c", 1000, kind="textarea", label="NPS Last Comment", custom=True),
        plain("NPS_Last_Response_Date__c", "date", label="NPS Last Response Date", custom=True),
        number(
            "NPS_Previous_Score__c", precision=2, scale=0, label="NPS Previous Score", custom=True
        ),
        number(
            "NPS_Response_Count__c", precision=18, scale=0, label="NPS Response Count", custom=True
        ),
        # -- more write-back metrics (sync/fields/fieldmap.py) and a key-contact role --
        number("NPS_Score_Change__c", precision=3, scale=0, label="NPS Score Change", custom=True),
        text("NPS_Survey_Type__c", 80, label="NPS Survey Type", custom=True),
        text("NPS_Channel__c", 80, label="NPS Channel", custom=True),
        text("NPS_Response_Link__c", 255, kind="url", label="NPS Response Link", custom=True),
        picklist("Role__c", CONTACT_ROLES, label="Role", custom=True),
    )
    return obj


def lead() -> SObjectDef:
    obj = SObjectDef("Lead", "Lead", "Leads", "00Q")
    obj.add(*system_fields("Lead"))
    obj.add(
        text("LastName", 80, label="Last Name", nillable=False),
        text("FirstName", 40, label="First Name"),
        full_name(),
        text("Title", 128),
        text("Company", 255, nillable=False),
        text("Email", 80, kind="email", id_lookup=True),
        text("Phone", 40, kind="phone"),
        text("Website", 255, kind="url"),
        picklist("Industry", INDUSTRIES),
        picklist("Status", LEAD_STATUSES, nillable=False, default=LEAD_STATUSES[0]),
        text("Description", 32000, kind="textarea"),
        plain(
            "IsConverted",
            "boolean",
            label="Converted",
            nillable=False,
            default_value=False,
            defaulted_on_create=True,
            updateable=False,
        ),
        owner(("Group", "User"), child="Leads"),
        *audit_fields(),
    )
    return obj


def opportunity() -> SObjectDef:
    """The standard Opportunity with the fields a revenue analysis reads; ``IsClosed``,
    ``IsWon`` and a missing ``Probability`` follow ``StageName``."""
    obj = SObjectDef("Opportunity", "Opportunity", "Opportunities", "006")
    obj.add(*system_fields("Opportunity"))
    obj.add(
        reference("AccountId", ("Account",), "Account", label="Account ID", child="Opportunities"),
        text("Name", 120, nillable=False, name_field=True, id_lookup=True),
        text("Description", 32000, kind="textarea"),
        picklist("StageName", tuple(OPPORTUNITY_STAGES), label="Stage", nillable=False),
        number("Amount", "currency", 18, 2),
        number("Probability", "percent", 3, 0, label="Probability (%)", defaulted_on_create=True),
        plain("CloseDate", "date", label="Close Date", nillable=False),
        picklist("Type", OPPORTUNITY_TYPES, label="Opportunity Type"),
        _readonly(
            plain(
                "IsClosed",
                "boolean",
                label="Closed",
                nillable=False,
                derived=True,
                defaulted_on_create=True,
            )
        ),
        _readonly(
            plain(
                "IsWon",
                "boolean",
                label="Won",
                nillable=False,
                derived=True,
                defaulted_on_create=True,
            )
        ),
        owner(child="Opportunities"),
        *audit_fields(),
    )
    return obj


def task() -> SObjectDef:
    obj = SObjectDef("Task", "Task", "Tasks", "00T")
    obj.add(*system_fields("Activity"))
    obj.add(
        reference("WhoId", ("Contact", "Lead"), "Who", label="Name ID", child="Tasks"),
        reference(
            "WhatId", ("Account", "NPS_Response__c"), "What", label="Related To ID", child="Tasks"
        ),
        text("Subject", 255, kind="combobox"),
        plain("ActivityDate", "date", label="Due Date Only"),
        picklist("Status", TASK_STATUSES, nillable=False, default="Not Started"),
        picklist("Priority", ("High", "Normal", "Low"), nillable=False, default="Normal"),
        picklist("Type", ("Call", "Email", "Meeting", "Other")),
        owner(("Group", "User"), child="Tasks"),
        text("Description", 32000, kind="textarea"),
        _readonly(
            plain(
                "IsClosed",
                "boolean",
                label="Closed",
                nillable=False,
                derived=True,
                defaulted_on_create=True,
            )
        ),
        _readonly(
            reference("AccountId", ("Account",), "Account", label="Account ID", derived=True)
        ),
        _readonly(
            plain("CompletedDateTime", "datetime", label="Completed Date Time", derived=True)
        ),
        *audit_fields(),
        text("NPS_Sync_Key__c", 80, label="NPS Sync Key", custom=True),
        picklist("NPS_Loop_Outcome__c", LOOP_OUTCOMES, label="Loop Outcome", custom=True),
    )
    return obj


def group() -> SObjectDef:
    """Public groups and queues; a queue may own records of the objects its QueueSobject rows
    name (Tasks included)."""
    obj = SObjectDef("Group", "Group", "Groups", "00G")
    obj.add(*system_fields("Group"))
    obj.add(
        text("Name", 40, label="Name", nillable=False, name_field=True),
        text("DeveloperName", 80, label="Developer Name", nillable=False),
        picklist("Type", GROUP_TYPES, restricted=True, nillable=False),
        text("Email", 255, kind="email"),
        *audit_fields(),
    )
    return obj


def queue_sobject() -> SObjectDef:
    """Which objects a queue may own: one row per (queue, object)."""
    obj = SObjectDef("QueueSobject", "Queue Sobject", "Queue Sobjects", "03g")
    obj.add(*system_fields("Queue Sobject"))
    obj.add(
        reference("QueueId", ("Group",), "Queue", label="Group ID", nillable=False),
        text("SobjectType", 40, label="Sobject Type", nillable=False),
        *audit_fields(),
    )
    return obj


def nps_response() -> SObjectDef:
    obj = SObjectDef("NPS_Response__c", "NPS Response", "NPS Responses", "a0X", custom=True)
    obj.add(*system_fields("Record"))
    obj.add(
        _readonly(
            text(
                "Name",
                80,
                label="NPS Response Name",
                nillable=False,
                name_field=True,
                auto_number=True,
                defaulted_on_create=True,
            )
        ),
        owner(("Group", "User")),
        *audit_fields(),
        text(
            "Response_Id__c",
            255,
            label="Response Id",
            external_id=True,
            unique=True,
            id_lookup=True,
            custom=True,
        ),
        reference(
            "Contact__c",
            ("Contact",),
            "Contact__r",
            label="Contact",
            child="NPS_Responses__r",
            custom=True,
        ),
        reference(
            "Account__c",
            ("Account",),
            "Account__r",
            label="Account",
            child="NPS_Responses__r",
            custom=True,
        ),
        number("Score__c", precision=2, scale=0, label="Score", custom=True),
        picklist("Category__c", NPS_CATEGORIES, label="Category", restricted=True, custom=True),
        text("Comment__c", 32768, kind="textarea", label="Comment", custom=True),
        plain("Responded_At__c", "datetime", label="Responded At", custom=True),
        text("Survey_Type__c", 80, label="Survey Type", custom=True),
        text("Channel__c", 80, label="Channel", custom=True),
        text("Link__c", 255, kind="url", label="Link", custom=True),
        number("Sentiment__c", precision=4, scale=3, label="Sentiment", custom=True),
        text("Themes__c", 255, label="Themes", custom=True),
    )
    return obj


def default_schema() -> Schema:
    """A fresh, independent schema (each emulator mutates its own)."""
    return Schema(
        [
            user(),
            group(),
            queue_sobject(),
            account(),
            contact(),
            lead(),
            opportunity(),
            task(),
            nps_response(),
        ]
    )


def bare_schema() -> Schema:
    """A new org as Salesforce delivers it: the standard objects and fields only, none of the
    custom fields or objects nps-sync uses (deploy them with ``SalesforceEmulator.deploy``)."""
    every = (user(), group(), queue_sobject(), account(), contact(), lead(), opportunity(), task())
    standard = [obj for obj in every if not obj.custom]
    names = {obj.name for obj in standard}
    for obj in standard:
        obj.fields = {key: d for key, d in obj.fields.items() if not d.custom}
        for definition in obj:
            definition.reference_to = tuple(t for t in definition.reference_to if t in names)
    return Schema(standard)
