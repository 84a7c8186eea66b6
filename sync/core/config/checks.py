"""Checks that compare sections of one config file, run once every section is valid.

Each returns :class:`~rules.issues.Issue` objects with paths from the top of the file, so every
problem is reported at its own line, all in one pass:

- every survey source has its own name (the name keys the source's cursor);
- no two metrics are written to one field, and no metric is written to a field nps-sync reads
  its input from (the account tier, ARR, ...), which the next write would overwrite;
- the history object's fields are distinct.
"""

from __future__ import annotations

from collections.abc import Iterator

from sync.core.catalogue import ACCOUNT_METRICS, CONTACT_METRICS, Metric
from sync.core.config.base import Issue, Section
from sync.core.config.model import Config, FileSourceConfig
from sync.core.config.writeback import MetricFieldMap, mapped_names

Path = tuple[str | int, ...]


def cross_section_issues(config: Config) -> list[Issue]:
    """Every disagreement between sections of ``config``."""
    return [*_source_names(config), *_write_back_targets(config), *_history_fields(config)]


def _source_names(config: Config) -> Iterator[Issue]:
    first: dict[str, int] = {}
    for index, source in enumerate(config.sources):
        if isinstance(source, FileSourceConfig):  # named as connectors/surveys names it
            name = source.name or f"file:{source.path.name}"
        else:
            name = source.name
        if name in first:
            named = "name" in source.model_fields_set
            path: Path = ("sources", index, "name") if named else ("sources", index)
            message = (
                f"source name {name!r} is already used by the source at line {{related_line}}; "
                "give each source its own `name` (it keys the source's cursor)"
            )
            yield Issue(path, message, related=("sources", first[name]))
        else:
            first[name] = index


def _write_back_targets(config: Config) -> Iterator[Issue]:
    wb, sf, zd = config.write_back, config.salesforce.fields, config.zendesk.fields
    reads: dict[str, dict[str, str]] = {
        "Account": {
            sf.account_tier: "salesforce.fields.account_tier",
            sf.account_arr: "salesforce.fields.account_arr",
            sf.account_region: "salesforce.fields.account_region",
            sf.account_renewal_date: "salesforce.fields.account_renewal_date",
            sf.account_domain: "salesforce.fields.account_domain",
        },
        "Contact": {config.metrics.key_contact_field: "metrics.key_contact_field"},
    }
    groups: tuple[tuple[str, str, str, tuple[Metric, ...], MetricFieldMap, Section], ...] = (
        ("salesforce", "contact", "Contact", CONTACT_METRICS, wb.salesforce.contact, sf),
        ("salesforce", "account", "Account", ACCOUNT_METRICS, wb.salesforce.account, sf),
        ("zendesk", "user", "Zendesk user", CONTACT_METRICS, wb.zendesk.user, zd),
        ("zendesk", "organization", "Zendesk organization", ACCOUNT_METRICS,
         wb.zendesk.organization, zd),
    )  # fmt: skip
    for system, scope, label, metrics, chosen, legacy in groups:
        zendesk = system == "zendesk"
        read_by = {k.casefold(): v for k, v in reads.get(label, {}).items() if k}
        written: dict[str, tuple[str, str]] = {}
        for metric, name in mapped_names(metrics, chosen, legacy, zendesk=zendesk):
            path, setting = _mapping_setting(system, scope, metric, chosen, legacy)
            folded = name if zendesk else name.casefold()  # Salesforce names ignore case
            if folded in written:
                first, first_setting = written[folded]
                message = (
                    f"{label} field {name} is written twice: by metric {metric.key!r} here and "
                    f"by {first!r} ({first_setting})"
                )
                yield Issue(path, message)
                continue
            written[folded] = (metric.key, setting)
            if folded in read_by:
                yield Issue(
                    path,
                    f"metric {metric.key!r} would overwrite {label} field {name}, which "
                    f"nps-sync reads as {read_by[folded]}; write it to another field",
                )


def _mapping_setting(
    system: str, scope: str, metric: Metric, chosen: MetricFieldMap, legacy: Section
) -> tuple[Path, str]:
    """Where a metric's field name comes from: its path and how to name it in a message."""
    if metric.key in chosen.model_fields_set:
        path: Path = ("write_back", system, scope, metric.key)
        return path, ".".join(map(str, path))
    attribute = metric.legacy_zendesk if system == "zendesk" else metric.legacy_salesforce
    setting = f"{system}.fields.{attribute}"
    if attribute in legacy.model_fields_set:
        return (system, "fields", attribute), setting
    return ("write_back", system, scope), f"{setting}, by default"


def _history_fields(config: Config) -> Iterator[Issue]:
    history = config.write_back.history
    if not history.enabled:
        return
    seen: dict[str, str] = {history.external_id.casefold(): "external_id"}
    for key, name in history.fields.model_dump().items():
        if not name:
            continue
        if name.casefold() in seen:
            other = seen[name.casefold()]
            yield Issue(
                ("write_back", "history", "fields", key),
                f"{history.object} field {name} is already used for {other}",
            )
        seen[name.casefold()] = key
