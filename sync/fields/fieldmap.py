"""Which metric goes into which field: the mapping from the config, and the fields an org and a
helpdesk need for it.

The metrics themselves are catalogued in :mod:`sync.core.catalogue` (re-exported here): every
metric has a Salesforce field type (what ``nps-sync fields setup`` creates) and, for the
essentials, a Zendesk field type. The config's ``write_back:`` section maps metrics to field API
names (Salesforce) and keys (Zendesk): unset takes the default (the legacy
``salesforce.fields.*``/``zendesk.fields.*`` name for the fields nps-sync always wrote, the
suggested name for the account trend and small-sample flag on Salesforce, off for the others),
``""`` turns a metric off. :func:`required_fields` lists what the mapping needs, for the
set-up command and for ``nps-sync check``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from connectors.salesforce.describe import FieldInfo
from sync.core.catalogue import (
    ACCOUNT_METRICS,
    CATEGORIES,
    CONTACT_METRICS,
    HISTORY_FIELDS,
    HISTORY_KEY_LENGTH,
    METRICS,
    TEXT_HISTORY_FIELDS,
    Metric,
    SalesforceType,
    Scope,
)
from sync.core.config import Config, MetricFieldMap
from sync.core.config.writeback import mapped_names

__all__ = [
    "ACCOUNT_METRICS",
    "CATEGORIES",
    "CONTACT_METRICS",
    "HISTORY_FIELDS",
    "HISTORY_KEY_LENGTH",
    "METRICS",
    "FieldMap",
    "HistoryMap",
    "MappedField",
    "Metric",
    "RequiredField",
    "SalesforceType",
    "Scope",
    "field_map",
    "field_problem",
    "metadata_name_problem",
    "required_fields",
    "suggested_mapping",
]

#: A custom field's API name: letters, digits and single underscores, ``__c`` at the end.
CUSTOM_FIELD_NAME = re.compile(r"^[A-Za-z](?:[A-Za-z0-9]|_(?!_))*__c$")
MAX_CUSTOM_NAME = 40 + len("__c")

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


def field_map(config: Config) -> FieldMap:
    """Resolve the config's ``write_back`` mapping, with the legacy names as defaults."""
    wb = config.write_back
    sf_legacy = config.salesforce.fields
    zd_legacy = config.zendesk.fields
    history = None
    if wb.history.enabled:
        fields = {k: v for k, v in wb.history.fields.model_dump().items() if v}
        if not config.text.enabled:  # no comment analysis, no sentiment or themes to store
            fields = {k: v for k, v in fields.items() if k not in TEXT_HISTORY_FIELDS}
        history = HistoryMap(wb.history.object, wb.history.external_id, fields)

    def resolve(
        metrics: tuple[Metric, ...], chosen: MetricFieldMap, *, zendesk: bool
    ) -> tuple[MappedField, ...]:
        legacy = zd_legacy if zendesk else sf_legacy
        mapped = mapped_names(metrics, chosen, legacy, zendesk=zendesk)
        return tuple(MappedField(metric, name) for metric, name in mapped)

    return FieldMap(
        contact=resolve(CONTACT_METRICS, wb.salesforce.contact, zendesk=False),
        account=resolve(ACCOUNT_METRICS, wb.salesforce.account, zendesk=False),
        user=resolve(CONTACT_METRICS, wb.zendesk.user, zendesk=True),
        organization=resolve(ACCOUNT_METRICS, wb.zendesk.organization, zendesk=True),
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
    #: nps-sync only reads the field (account tier, ARR...): its permission set grants read only.
    read_only: bool = False

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
