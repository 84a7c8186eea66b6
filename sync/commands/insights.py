"""``nps-sync insights``: what the responses say, every figure with its interval.

- ``insights segments`` shows NPS per tier, industry, region, tenure band, support history
  (tickets open at the answer or created shortly before), owner and the Account fields named in
  ``insights.segments.account_fields`` (or with ``--by FIELD``), each with its 95% interval,
  against the rest and against the previous period;
- ``insights trend`` shows NPS per week, month or quarter with its interval, the category mix
  and whether it moved from the period before;
- ``insights drivers`` shows which segment values and comment themes go with detractors, as
  risk ratios with account-bootstrap intervals, and says the clear ones in words;
- ``insights revenue`` shows renewals, churn, expansion, revenue retention and revenue at risk by
  the account's NPS category, from the Salesforce opportunities of the surveyed accounts.

Tables by default (:mod:`sync.commands.insight_tables`); ``--json`` prints every figure
(:mod:`sync.commands.insight_documents`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from sync.commands.dates import UntilType
from sync.commands.output import JSON_OPTION
from sync.commands.run import CONFIG_OPTION, load

if TYPE_CHECKING:
    from insights.trend import Every
    from sync.core.config import Config
    from sync.ops.insights import Periods
    from sync.state import StateStore

Command = TypeVar("Command", bound=Callable[..., Any])
DATE = click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%SZ"])
ATTRIBUTE_CHOICES = ("tier", "industry", "region", "tenure", "support", "owner")
BY_HELP = (
    "tier, industry, region, tenure, support, owner, or a Salesforce Account field's API name "
    "(repeatable; default: these and insights.segments.account_fields)."
)


def attributes_for(config: Config, given: Sequence[str]) -> list[str]:
    """The attributes asked for (``--by``), else the built-in ones and the configured Account
    fields; anything that is neither a built-in nor a field API name is a usage error."""
    import re

    from sync.core.config.model import ACCOUNT_FIELD

    for name in given:
        if name not in ATTRIBUTE_CHOICES and not re.match(ACCOUNT_FIELD, name):
            raise click.BadParameter(
                f"{name!r} is neither a built-in segment ({', '.join(ATTRIBUTE_CHOICES)}) nor "
                "a Salesforce field API name",
                param_hint="--by",
            )
    chosen = given or (*ATTRIBUTE_CHOICES, *config.insights.segments.account_fields)
    return list(dict.fromkeys(chosen))


def account_fields(attributes: Sequence[str]) -> list[str]:
    """The Account fields among the attributes (those that are not built in)."""
    return [a for a in attributes if a not in ATTRIBUTE_CHOICES]


def insight_periods(
    config: Config,
    store: StateStore,
    *,
    start: datetime,
    end: datetime,
    chosen: Sequence[str],
    given: Sequence[str] = (),
) -> Periods:
    """The respondents of the period and the one before, with support history as of each
    answer and the values from Salesforce of the Account fields among the ``chosen``
    attributes. Those ``given`` with ``--by``: a field Salesforce lacks is a usage error there."""
    from connectors.errors import UnknownFieldError

    fields = account_fields(chosen)
    try:
        return _insight_periods(config, store, start=start, end=end, fields=fields)
    except UnknownFieldError as error:
        if given:
            raise click.BadParameter(error.message, param_hint="--by") from None
        raise


def _insight_periods(
    config: Config, store: StateStore, *, start: datetime, end: datetime, fields: Sequence[str]
) -> Periods:
    from functools import partial

    from sync.ops.insights import account_values, periods

    values = None
    if fields:
        from connectors.transport import CallCounter
        from sync.app.runtime import build_salesforce
        from sync.core.retry import RetryPolicy

        crm = build_salesforce(config, CallCounter())
        values = partial(account_values, crm, RetryPolicy(attempts=2), fields=fields)
    return periods(
        store,
        start=start,
        end=end,
        recent=timedelta(days=config.insights.segments.recent_ticket_days),
        values=values,
    )


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _period(since: datetime | None, until: datetime | None, days: int) -> tuple[datetime, datetime]:
    end = _utc(until) if until else datetime.now(UTC)
    start = _utc(since) if since else end - timedelta(days=days)
    if start >= end:
        raise click.BadParameter("--since must be before --until", param_hint="--since")
    return start, end


def period_options(command: Command) -> Command:
    """``--since``, ``--until`` and ``--confidence``, shared by the insight commands."""
    for option in (
        click.option(
            "--confidence", type=click.FloatRange(0.5, 0.999), default=0.95, show_default=True
        ),
        click.option(
            "--until",
            type=UntilType(),
            help="End of the period (default: now); a date alone: the end of that day.",
        ),
        click.option("--since", type=DATE, help="Start of the period."),
    ):
        command = option(command)
    return command


@click.group("insights")
def insights_group() -> None:
    """What the responses say: segments, trend, drivers and revenue, every figure with its
    interval."""


@insights_group.command("segments")
@CONFIG_OPTION
@click.option("--by", "attributes", multiple=True, metavar="ATTRIBUTE", help=BY_HELP)
@period_options
@click.option(
    "--small-below",
    type=click.IntRange(1),
    default=30,
    show_default=True,
    help="Segments with fewer respondents are flagged as small samples.",
)
@JSON_OPTION
def segments_command(
    config_path: Path,
    attributes: tuple[str, ...],
    since: datetime | None,
    until: datetime | None,
    confidence: float,
    small_below: int,
    as_json: bool,
) -> None:
    """NPS per segment with its interval (multinomial variance, adjusted for small samples);
    a difference is called one only when its interval excludes 0. The period defaults to the
    metrics window. Account fields are read from Salesforce, one query per 200 accounts."""
    from insights.segments import segment_movements, segment_nps
    from sync.app.runtime import open_store

    config = load(config_path)
    chosen = attributes_for(config, attributes)
    start, end = _period(since, until, config.metrics.window_days)
    store = open_store(config, existing=True)
    data = insight_periods(config, store, start=start, end=end, chosen=chosen, given=attributes)
    reports = [
        segment_nps(data.now, a, confidence=confidence, small_below=small_below) for a in chosen
    ]
    moves = [
        segment_movements(data.now, data.before, a, confidence=confidence, small_below=small_below)
        for a in chosen
    ]
    if as_json:
        from sync.commands.insight_documents import segments_document
        from sync.commands.output import emit

        emit(segments_document(data, reports, moves, confidence=confidence, method="adjusted"))
        return
    from rich.console import Console

    from sync.commands.insight_tables import print_segments

    print_segments(
        Console(),
        reports,
        moves,
        start=start,
        end=end,
        confidence=confidence,
        small_below=small_below,
    )


@insights_group.command("trend")
@CONFIG_OPTION
@click.option(
    "--every",
    type=click.Choice(["week", "month", "quarter"]),
    default="month",
    show_default=True,
)
@period_options
@JSON_OPTION
def trend_command(
    config_path: Path,
    every: str,
    since: datetime | None,
    until: datetime | None,
    confidence: float,
    as_json: bool,
) -> None:
    """NPS per calendar week, month or quarter (UTC) with its interval and category mix; a
    move from the period before is called one only when its interval excludes 0. The range
    defaults to the last 365 days."""
    from insights.trend import nps_trend
    from sync.app.runtime import open_store
    from sync.ops.insights import trend_periods

    config = load(config_path)
    start, end = _period(since, until, 365)
    chosen: Every = "week" if every == "week" else "quarter" if every == "quarter" else "month"
    points = nps_trend(
        trend_periods(open_store(config, existing=True), start=start, end=end, every=chosen),
        confidence=confidence,
    )
    if as_json:
        from sync.commands.insight_documents import trend_document
        from sync.commands.output import emit

        emit(trend_document(points, every=every, confidence=confidence))
        return
    from rich.console import Console

    from sync.commands.insight_tables import print_trend

    print_trend(Console(), points, every=every, confidence=confidence)


@insights_group.command("drivers")
@CONFIG_OPTION
@click.option("--by", "attributes", multiple=True, metavar="ATTRIBUTE", help=BY_HELP)
@period_options
@click.option(
    "--resamples",
    type=click.IntRange(50, 10_000),
    default=400,
    show_default=True,
    help="Bootstrap resamples of accounts.",
)
@click.option(
    "--themes/--no-themes",
    default=True,
    show_default=True,
    help="Comment themes as features too, once comments are analysed (text in the config).",
)
@click.option(
    "--min-respondents",
    type=click.IntRange(1),
    default=5,
    show_default=True,
    help="Leave out features of fewer respondents (or with fewer without them).",
)
@JSON_OPTION
def drivers_command(
    config_path: Path,
    attributes: tuple[str, ...],
    since: datetime | None,
    until: datetime | None,
    confidence: float,
    resamples: int,
    themes: bool,
    min_respondents: int,
    as_json: bool,
) -> None:
    """Which segment values and comment themes go with detractors: the risk ratio of being a
    detractor with and without each, with a bootstrap interval over accounts (same data, same
    figures). The period defaults to the metrics window."""
    from insights.drivers import cases, detractor_drivers
    from sync.app.runtime import open_store

    config = load(config_path)
    chosen = attributes_for(config, attributes)
    start, end = _period(since, until, config.metrics.window_days)
    store = open_store(config, existing=True)
    data = insight_periods(config, store, start=start, end=end, chosen=chosen, given=attributes)
    drivers = detractor_drivers(
        cases(data.now, chosen, themes=themes),
        resamples=resamples,
        confidence=confidence,
        min_respondents=min_respondents,
    )
    if as_json:
        from sync.commands.insight_documents import drivers_document
        from sync.commands.output import emit

        emit(
            drivers_document(
                data, drivers, confidence=confidence, resamples=resamples, themes=themes
            )
        )
        return
    from rich.console import Console

    from sync.commands.insight_tables import print_drivers

    print_drivers(Console(), drivers, start=start, end=end, themes=data.themes if themes else None)


@insights_group.command("revenue")
@CONFIG_OPTION
@period_options
@click.option(
    "--lookback",
    type=click.IntRange(1),
    default=365,
    show_default=True,
    help="Days of answers before a deal's close date that give the account its category.",
)
@click.option(
    "--renewal-type",
    "renewal_types",
    multiple=True,
    help="Opportunity Type counted as a renewal (repeatable; default: Renewal, "
    "Existing Customer - Replacement).",
)
@click.option(
    "--expansion-type",
    "expansion_types",
    multiple=True,
    help="Opportunity Type counted as an expansion (repeatable; default: Upsell, "
    "Existing Customer - Upgrade).",
)
@JSON_OPTION
def revenue_command(
    config_path: Path,
    since: datetime | None,
    until: datetime | None,
    confidence: float,
    lookback: int,
    renewal_types: tuple[str, ...],
    expansion_types: tuple[str, ...],
    as_json: bool,
) -> None:
    """Renewals, churn, expansion, revenue retention and revenue at risk by the account's NPS
    category, for the opportunities closed in the period (default: the last 365 days); and the
    score change of detractors after a resolved loop against the others."""
    from connectors.transport import CallCounter
    from insights.loops import loop_effect
    from insights.revenue import revenue_by_category
    from sync.app.runtime import build_salesforce, open_store
    from sync.core.retry import RetryPolicy
    from sync.ops.insights import (
        EXPANSION_TYPES,
        RENEWAL_TYPES,
        loop_follow_ups,
        revenue_inputs,
    )

    config = load(config_path)
    start, end = _period(since, until, 365)
    store = open_store(config, existing=True)
    loops = loop_effect(loop_follow_ups(store, since=start), confidence=confidence)
    inputs = revenue_inputs(
        store,
        build_salesforce(config, CallCounter()),
        RetryPolicy(attempts=2),
        renewal_types=renewal_types or RENEWAL_TYPES,
        expansion_types=expansion_types or EXPANSION_TYPES,
    )
    report = revenue_by_category(
        inputs.answers,
        inputs.deals,
        start=start.date(),
        end=end.date(),
        lookback_days=lookback,
        confidence=confidence,
    )
    if as_json:
        from sync.commands.insight_documents import revenue_document
        from sync.commands.output import emit

        emit(revenue_document(report, loops, confidence=confidence))
        return
    from rich.console import Console

    from sync.commands.insight_tables import print_loop_effect, print_revenue

    console = Console()
    print_revenue(console, report, confidence=confidence)
    print_loop_effect(console, loops)
