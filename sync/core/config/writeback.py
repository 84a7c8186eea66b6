"""The ``write_back`` section: which metric goes into which field, generated from the catalogue.

The field-map models offer exactly the metrics of :mod:`sync.core.catalogue`: every metric on
Salesforce, the ones with a Zendesk type on Zendesk. A metric left unset takes its default (the
legacy ``salesforce.fields``/``zendesk.fields`` name for the fields nps-sync always wrote, the
suggested name for the trend and the small-sample flag on Salesforce, otherwise off); ``""`` turns
a metric off; a name turns it on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field, create_model

from sync.core.catalogue import ACCOUNT_METRICS, CONTACT_METRICS, HISTORY_FIELDS, Metric
from sync.core.catalogue import history_default_name as _history_name
from sync.core.config.base import Section


class MetricFieldMap(Section):
    """Field name (Salesforce API name, Zendesk key) per metric; None: the default."""


def _metric_map(name: str, doc: str, metrics: tuple[Metric, ...]) -> Any:
    fields: dict[str, Any] = {metric.key: (str | None, None) for metric in metrics}
    model = create_model(name, __base__=MetricFieldMap, __module__=__name__, **fields)
    model.__doc__ = doc
    return model


if TYPE_CHECKING:  # the generated classes have the catalogue's keys as fields
    ContactFieldMap = MetricFieldMap
    AccountFieldMap = MetricFieldMap
    UserFieldMap = MetricFieldMap
    OrganizationFieldMap = MetricFieldMap
else:
    ContactFieldMap = _metric_map(
        "ContactFieldMap", "Salesforce Contact field API name per contact metric.", CONTACT_METRICS
    )
    AccountFieldMap = _metric_map(
        "AccountFieldMap", "Salesforce Account field API name per account metric.", ACCOUNT_METRICS
    )
    UserFieldMap = _metric_map(
        "UserFieldMap",
        "Zendesk user field key per contact metric.",
        tuple(m for m in CONTACT_METRICS if m.zendesk),
    )
    OrganizationFieldMap = _metric_map(
        "OrganizationFieldMap",
        "Zendesk organization field key per account metric.",
        tuple(m for m in ACCOUNT_METRICS if m.zendesk),
    )


def mapped_names(
    metrics: tuple[Metric, ...], chosen: MetricFieldMap, legacy: Section, *, zendesk: bool
) -> list[tuple[Metric, str]]:
    """The field each metric is written to: the chosen name, else its default (the legacy name,
    or on Salesforce the suggested name of a metric written by default).

    ``legacy`` is ``salesforce.fields`` or ``zendesk.fields``; metrics without a Zendesk type
    are left out when ``zendesk`` is set, and metrics turned off are left out always.
    """
    names = chosen.model_dump()
    mapped: list[tuple[Metric, str]] = []
    for metric in metrics:
        if zendesk and not metric.zendesk:
            continue
        name = names.get(metric.key)
        if name is None:
            attribute = metric.legacy_zendesk if zendesk else metric.legacy_salesforce
            name = str(getattr(legacy, attribute, "") or "") if attribute else ""
            if not attribute and metric.salesforce_default and not zendesk:
                name = metric.suggested_name
        if name:
            mapped.append((metric, name))
    return mapped


class SalesforceWriteBack(Section):
    contact: ContactFieldMap = ContactFieldMap()
    account: AccountFieldMap = AccountFieldMap()


class ZendeskWriteBack(Section):
    user: UserFieldMap = UserFieldMap()
    organization: OrganizationFieldMap = OrganizationFieldMap()


if TYPE_CHECKING:
    HistoryFieldMap = Section
else:
    HistoryFieldMap = create_model(
        "HistoryFieldMap",
        __base__=Section,
        __module__=__name__,
        **{key: (str, _history_name(key)) for key in HISTORY_FIELDS},
    )
    HistoryFieldMap.__doc__ = 'Fields of the per-response history object; "" leaves one out.'


class HistoryConfig(Section):
    """One Salesforce record per response, upserted by its external id (off by default)."""

    enabled: bool = False
    object: str = "NPS_Response__c"
    external_id: str = "Response_Id__c"
    fields: HistoryFieldMap = HistoryFieldMap()


class WriteBackConfig(Section):
    """Field mapping of the write-back stage (``nps-sync fields setup`` prints what to create)."""

    salesforce: SalesforceWriteBack = SalesforceWriteBack()
    zendesk: ZendeskWriteBack = ZendeskWriteBack()
    history: HistoryConfig = HistoryConfig()
    #: Comment length when Salesforce describe does not tell (and for Zendesk).
    comment_length: int = Field(1000, ge=1, le=131072)
