"""``nps-sync insights``: what the responses say, every figure with its interval.

- ``insights segments`` shows NPS per tier, industry, region, tenure band, support history and
  owner, each with its 95% interval, against the rest and against the previous period.

Tables by default; ``--json`` prints every figure for scripts and reports.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from sync.commands.output import JSON_OPTION
from sync.commands.run import CONFIG_OPTION, load

if TYPE_CHECKING:
    from insights.nps import NpsDifference, NpsInterval

Command = TypeVar("Command", bound=Callable[..., Any])
DATE = click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%SZ"])
ATTRIBUTE_CHOICES = ("tier", "industry", "region", "tenure", "support", "owner")


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _period(since: datetime | None, until: datetime | None, days: int) -> tuple[datetime, datetime]:
    end = _utc(until) if until else datetime.now(UTC)
    start = _utc(since) if since else end - timedelta(days=days)
    if start >= end:
        raise click.BadParameter("--since must be before --until", param_hint="--since")
    return start, end


def interval_text(i: NpsInterval) -> str:
    """``+12.5 [-3.1, +27.9]``; empty without respondents."""
    if i.nps is None or i.low is None or i.high is None:
        return ""
    return f"{i.nps:+.1f} [{i.low:+.1f}, {i.high:+.1f}]"


def difference_text(d: NpsDifference | None) -> str:
    """``+14.2 higher`` when the interval excludes 0, else ``+3.0 ~`` (within the noise)."""
    if d is None or d.difference is None:
        return ""
    if not d.significant:
        return f"{d.difference:+.1f} ~"
    return f"{d.difference:+.1f} {'higher' if d.difference > 0 else 'lower'}"


def caption(confidence: float, small_below: int) -> str:
    """What the marks of an insight table mean."""
    return (
        f"n: respondents, * fewer than {small_below} (small sample); "
        f"[{confidence:.0%} interval], adjusted multinomial method; "
        "higher/lower: the interval of the difference excludes 0; ~: within the noise"
    )


def period_options(command: Command) -> Command:
    """``--since``, ``--until`` and ``--confidence``, shared by the insight commands."""
    for option in (
        click.option(
            "--confidence", type=click.FloatRange(0.5, 0.999), default=0.95, show_default=True
        ),
        click.option("--until", type=DATE, help="End of the period (default: now)."),
        click.option("--since", type=DATE, help="Start of the period (default: metrics window)."),
    ):
        command = option(command)
    return command


@click.group("insights")
def insights_group() -> None:
    """What the responses say: segments with intervals."""


@insights_group.command("segments")
@CONFIG_OPTION
@click.option(
    "--by",
    "attributes",
    multiple=True,
    type=click.Choice(ATTRIBUTE_CHOICES),
    help="Segment by this attribute (repeatable; default: all).",
)
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
    a difference is called one only when its interval excludes 0."""
    from rich.console import Console
    from rich.table import Table

    from insights.segments import segment_movements, segment_nps
    from sync.app.runtime import open_store
    from sync.app.tables import figure_column, text_column
    from sync.ops.insights import periods

    config = load(config_path)
    start, end = _period(since, until, config.metrics.window_days)
    data = periods(open_store(config), start=start, end=end)
    chosen = attributes or ATTRIBUTE_CHOICES
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
    console = Console()
    level = f"{confidence:.0%}"
    for report, report_moves in zip(reports, moves, strict=True):
        table = Table(
            title=f"NPS by {report.attribute}, {start:%Y-%m-%d} to {end:%Y-%m-%d}: "
            f"overall {interval_text(report.overall)} ({report.overall.respondents} respondents)",
            caption=caption(confidence, small_below),
        )
        text_column(table, report.attribute)
        for header in ("n", "ac-\ncounts", f"NPS\n[{level} interval]"):
            figure_column(table, header)
        for header in ("vs the\nrest", "vs previous\nperiod"):
            figure_column(table, header)
        change = {m.segment: m.change for m in report_moves}
        for s in report.segments:
            small = "*" if s.interval.small_sample else ""
            table.add_row(
                s.segment,
                f"{s.interval.respondents}{small}",
                str(s.accounts),
                interval_text(s.interval),
                difference_text(s.versus_rest),
                difference_text(change.get(s.segment)),
            )
        console.print(table)
