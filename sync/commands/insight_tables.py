"""The rich tables of ``nps-sync insights``: the same figures as the ``--json`` documents,
rounded for reading, with what the marks mean under each table."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from insights.drivers import Driver, times
from insights.loops import LoopEffect
from insights.nps import NpsDifference, NpsInterval
from insights.rates import Comparison, Proportion
from insights.revenue import RevenueReport
from insights.segments import SegmentMovement, SegmentReport
from insights.trend import TrendPoint
from sync.app.tables import figure_column, text_column


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


def share_text(p: Proportion) -> str:
    """``92% [85-96]``; empty without trials."""
    if p.share is None or p.low is None or p.high is None:
        return ""
    return f"{p.share:.0%} [{100 * p.low:.0f}-{100 * p.high:.0f}]"


def _money(value: float | None) -> str:
    """An amount short enough for a column: 950, 42k, 3.13M (``--json`` has it whole)."""
    if value is None:
        return ""
    if abs(value) >= 1e6:
        return f"{value / 1e6:.2f}M"
    if abs(value) >= 1e4:
        return f"{value / 1e3:.0f}k"
    return f"{value:,.0f}"


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value:.0%}"


def print_segments(
    console: Console,
    reports: Sequence[SegmentReport],
    moves: Sequence[Sequence[SegmentMovement]],
    *,
    start: datetime,
    end: datetime,
    confidence: float,
    small_below: int,
) -> None:
    """One table per attribute: each segment, against the rest and the previous period."""
    for report, report_moves in zip(reports, moves, strict=True):
        table = Table(
            title=f"NPS by {report.attribute}, {start:%Y-%m-%d} to {end:%Y-%m-%d}: "
            f"overall {interval_text(report.overall)} ({report.overall.respondents} respondents)",
            caption=(
                f"n: respondents, * fewer than {small_below} (small sample); "
                f"[{confidence:.0%} interval], adjusted multinomial method; "
                "higher/lower: the interval of the difference excludes 0; ~: within the noise"
            ),
        )
        text_column(table, report.attribute)
        for header in ("n", "ac-\ncounts", f"NPS\n[{confidence:.0%} interval]"):
            figure_column(table, header)
        for header in ("vs the\nrest", "vs previous\nperiod"):
            figure_column(table, header)
        change = {m.segment: m.change for m in report_moves}
        for s in report.segments:
            table.add_row(
                s.segment,
                f"{s.interval.respondents}{'*' if s.interval.small_sample else ''}",
                str(s.accounts),
                interval_text(s.interval),
                difference_text(s.versus_rest),
                difference_text(change.get(s.segment)),
            )
        console.print(table)


def comparison_reading(c: Comparison, what: str, unit: str) -> str:
    """A comparison in words: the value, its interval, and whether it is more than noise."""
    if c.value is None or c.low is None or c.high is None:
        return f"{what}: too few to compare."
    verdict = "a real difference" if c.significant else "within the noise"
    if unit == "x":
        figures = f"{times(c.value)} (interval {times(c.low)} to {times(c.high)})"
    elif unit == "share":
        figures = f"{c.value:+.0%} (interval {c.low:+.0%} to {c.high:+.0%})"
    else:
        figures = f"{c.value:+.1f} (interval {c.low:+.1f} to {c.high:+.1f})"
    return f"{what}: {figures}, {verdict}."


def print_loop_effect(console: Console, effect: LoopEffect) -> None:
    """The score change after a resolved loop against the others, in words."""
    for name, c in (("resolved", effect.resolved), ("not resolved", effect.not_resolved)):
        if c.mean_change is None or c.mean_before is None or c.mean_after is None:
            console.print(f"Detractors whose loop was {name}: no later answer yet.")
            continue
        interval = "" if c.low is None else f" [{c.low:+.1f}, {c.high:+.1f}]"
        console.print(
            f"Detractors whose loop was {name}: next answer {c.mean_before:.1f} -> "
            f"{c.mean_after:.1f}, change {c.mean_change:+.1f}{escape(interval)} over {c.pairs} "
            f"people; {share_text(c.recovered)} came back at 7 or more."
        )
    console.print(
        comparison_reading(effect.gap, "Score change, resolved loops minus the others", "points")
    )


def print_revenue(console: Console, report: RevenueReport, *, confidence: float) -> None:
    """Renewals and churn, then revenue, per NPS category; the comparisons in words."""
    period = f"{report.start:%Y-%m-%d} to {report.end:%Y-%m-%d}"
    renewals = Table(
        title=f"Renewals by NPS category, deals closed {period}",
        caption=(
            f"category: the account's average score in the {report.lookback_days} days before "
            f"each deal closed; [{confidence:.0%} interval], Wilson"
        ),
    )
    text_column(renewals, "category")
    for header in ("ac-\ncounts", "closed\nrenewals", "renewal rate", "churn rate", "expanded"):
        figure_column(renewals, header)
    money = Table(title=f"Revenue by NPS category, {period}")
    text_column(money, "category")
    for header in ("renewals\ndue", "lost", "expansion", "GRR", "NRR", "open\nrenewals", "at risk"):
        figure_column(money, header)
    for c in report.categories:
        renewals.add_row(
            c.category,
            str(c.accounts),
            str(c.renewal_rate.whole),
            share_text(c.renewal_rate),
            share_text(c.churn_rate),
            share_text(c.expansion_accounts),
        )
        money.add_row(
            c.category,
            _money(c.renewal_amount),
            _money(c.lost_amount),
            _money(c.expansion_amount),
            _percent(c.gross_retention),
            _percent(c.net_retention),
            _money(c.open_renewal_amount),
            _money(c.revenue_at_risk),
        )
    console.print(renewals)
    console.print(money)
    console.print(
        comparison_reading(
            report.churn_risk_detractors, "Detractor accounts churn, against promoters", "x"
        )
    )
    console.print(
        comparison_reading(
            report.renewal_gap, "Renewal rate of promoters minus detractors", "share"
        )
    )
    console.print(
        f"Revenue at risk (open renewals x their category's churn rate): "
        f"{_money(report.revenue_at_risk)}; open renewals of detractor accounts: "
        f"{_money(report.detractor_open_renewal_amount)}."
    )


def print_drivers(
    console: Console,
    drivers: Sequence[Driver],
    *,
    start: datetime,
    end: datetime,
    themes: bool | None = None,
) -> None:
    """Each feature's detractor shares and risk ratio; the drivers in words below, and whether
    comment themes could be among them (``themes``: analysed or not; None: left out)."""
    table = Table(
        title=f"What goes with detractors, {start:%Y-%m-%d} to {end:%Y-%m-%d}",
        caption=escape(
            "ratio: share of detractors with the feature / without it; [interval]: "
            "bootstrap over accounts; * the interval excludes 1 (and 5+ accounts have it)"
        ),
    )
    text_column(table, "feature")
    for header in ("n", "detractors\nwith", "detractors\nwithout", escape("ratio [interval]")):
        figure_column(table, header)
    for d in drivers:
        ratio_text = (
            ""
            if d.risk_ratio is None or d.low is None or d.high is None
            else f"{times(d.risk_ratio)} [{times(d.low)}-{times(d.high)}]"
            + ("*" if d.significant else "")
        )
        table.add_row(
            f"{d.attribute}: {d.value}",
            str(d.with_feature.whole),
            _percent(d.with_feature.share),
            _percent(d.without_feature.share),
            ratio_text,
        )
    console.print(table)
    for d in drivers:
        if d.significant:
            console.print(d.reading)
    if themes is False:
        console.print(
            escape(
                "Comment themes are not among the features: no comment of the period was "
                "analysed (`text` in the config has each pass analyse the comments)."
            )
        )


def print_trend(
    console: Console, points: Sequence[TrendPoint], *, every: str, confidence: float
) -> None:
    """NPS per period with its interval, the category mix and the change from the one before."""
    table = Table(
        title=f"NPS by {every}",
        caption=escape(
            f"n: respondents, * under 30; [{confidence:.0%} interval], adjusted multinomial; "
            "mix: promoters/passives/detractors; higher/lower: the change's interval excludes 0"
        ),
    )
    text_column(table, "from")
    for header in ("n", escape("NPS [interval]"), "mix %", "change"):
        figure_column(table, header)
    for p in points:
        c, n = p.interval.counts, p.interval.respondents
        mix = (
            ""
            if not n
            else "/".join(f"{100 * k / n:.0f}" for k in (c.promoters, c.passives, c.detractors))
        )
        table.add_row(
            f"{p.start:%Y-%m-%d}",
            f"{n}{'*' if p.interval.small_sample else ''}",
            interval_text(p.interval),
            mix,
            difference_text(p.change),
        )
    console.print(table)
