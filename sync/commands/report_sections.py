"""The executive report's optional sections, from the ``insights`` analyses: drivers of
detractors (from the store) and revenue by NPS category (Salesforce Opportunities). Each gives
its chart for the page and its figures for ``--json``, or says why it has none."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sync.core.config import Config
from sync.reports.answers import Answer
from sync.reports.executive import ThemeCount
from sync.reports.page import Section
from sync.state import StateStore

RESAMPLES = 400


def themes_section(themes: Sequence[ThemeCount] | None) -> Section:
    """The period's top comment themes, or why there are none."""
    from sync.reports.charts import themes_chart
    from sync.reports.page import THEMES_MISSING

    title = "Top comment themes"
    if themes is None:
        return Section("themes", title, empty=THEMES_MISSING)
    if not themes:
        return Section("themes", title, empty="No comment of the period mentions a theme.")
    return Section("themes", title, svg=themes_chart(themes))


Values = Mapping[str, Mapping[str, str]]


def account_field_values(
    config: Config, answers: list[Answer], fields: Sequence[str]
) -> tuple[list[Answer], Values | None, str]:
    """The answers with the values of the Account fields segmented by, the values by account,
    and why they are missing when Salesforce could not give them (the report goes on)."""
    if not fields:
        return answers, {}, ""
    from connectors.errors import ConnectorError
    from connectors.transport import CallCounter
    from sync.app.runtime import build_salesforce
    from sync.core.retry import RetryPolicy
    from sync.ops.insights import account_values
    from sync.reports.answers import with_account_values

    accounts = [a.account_id for a in answers if a.account_id]
    try:
        crm = build_salesforce(config, CallCounter())
        values = account_values(crm, RetryPolicy(attempts=2), accounts, fields)
    except ConnectorError as exc:
        note = f"Segments by {', '.join(fields)} are left out: Salesforce could not be read: {exc}"
        return answers, None, note
    return with_account_values(answers, values), values, ""


def drivers_section(
    config: Config,
    store: StateStore,
    since: datetime,
    until: datetime,
    values: Values | None = None,
) -> tuple[Section, dict[str, Any]]:
    """Which segment values and comment themes go with detractors over the report's whole
    window; ``values`` holds the Account fields' values by account (None: Salesforce could not
    give them)."""
    from insights.drivers import cases, detractor_drivers
    from sync.commands.insight_documents import drivers_document
    from sync.fields.respondents import ATTRIBUTES
    from sync.ops.insights import periods
    from sync.reports.charts import drivers_chart

    fields = list(config.insights.segments.account_fields) if values is not None else []
    data = periods(
        store,
        start=since,
        end=until,
        recent=timedelta(days=config.insights.segments.recent_ticket_days),
        values=(lambda _: values) if values else None,
    )
    drivers = detractor_drivers(cases(data.now, [*ATTRIBUTES, *fields]), resamples=RESAMPLES)
    title = f"Drivers of detractors ({since:%Y-%m-%d} to {until:%Y-%m-%d})"
    if not any(d.risk_ratio is not None for d in drivers):
        return Section("drivers", title, empty="Too few respondents for drivers."), {}
    document = drivers_document(data, drivers, confidence=0.95, resamples=RESAMPLES)
    readings = [d.reading for d in drivers if d.significant][:5]
    themes = [d.reading for d in drivers if d.significant and d.attribute == "theme"][:3]
    readings += [r for r in themes if r not in readings]  # the themes' own, when others lead
    if not data.themes:
        readings.append(THEMES_NOT_DRIVERS)
    return Section("drivers", title, svg=drivers_chart(drivers), notes=readings), document


THEMES_NOT_DRIVERS = (
    "Comment themes are not among the drivers: no comment of the window was analysed "
    "(`text` in the config)."
)


def revenue_section(
    config: Config, store: StateStore, since: datetime, until: datetime
) -> tuple[Section, dict[str, Any] | None]:
    """Renewals, churn and revenue at risk by the account's NPS category for the deals closed
    in the report's window; when Salesforce cannot be read, the section says why."""
    from connectors.errors import ConnectorError
    from connectors.transport import CallCounter
    from insights.loops import loop_effect
    from insights.revenue import revenue_by_category
    from sync.app.runtime import build_salesforce
    from sync.commands.insight_documents import revenue_document
    from sync.core.retry import RetryPolicy
    from sync.ops.insights import loop_follow_ups, revenue_inputs
    from sync.reports.charts import revenue_chart

    title = "Revenue by NPS category"
    try:
        inputs = revenue_inputs(
            store, build_salesforce(config, CallCounter()), RetryPolicy(attempts=2)
        )
    except ConnectorError as exc:
        return Section("revenue", title, empty=f"Salesforce could not be read: {exc}"), None
    report = revenue_by_category(inputs.answers, inputs.deals, start=since.date(), end=until.date())
    loops = loop_effect(loop_follow_ups(store, since=since))
    document = revenue_document(report, loops, confidence=0.95)
    if not any(c.renewal_rate.whole for c in report.categories):
        return Section("revenue", title, empty="No renewal closed in the period."), document
    risk = report.churn_risk_detractors
    notes = [f"Revenue at risk in open renewals: {report.revenue_at_risk:,.0f}."]
    if risk.value is not None and risk.low is not None and risk.high is not None:
        verdict = "a real difference" if risk.significant else "within the noise"
        notes.append(
            f"Detractor accounts churn {risk.value:.1f}x as often as promoter accounts "
            f"(95% interval {risk.low:.1f} to {risk.high:.1f}: {verdict})."
        )
    return Section("revenue", title, svg=revenue_chart(report), notes=notes), document
