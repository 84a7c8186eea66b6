"""The executive report's charts, drawn by matplotlib as inline SVG (no network at view time).

Each function takes the report's figures and returns one ``<svg>`` element as text; text stays
text (``svg.fonttype: none``), so the charts are small and their labels searchable.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sync.reports.executive import ExecutiveReport, SegmentRow, ThemeCount

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from insights.drivers import Driver
    from insights.revenue import RevenueReport

COLOURS = {"promoters": "#2e7d32", "passives": "#f9a825", "detractors": "#c62828"}
LINE = "#1f4e79"


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=96, layout="constrained")


def _label(text: str) -> str:
    """Text from Salesforce or a taxonomy as a chart label: a ``$`` is shown as it is, where
    matplotlib would read ``$1M-$5M`` as mathematics and drop the dollars."""
    return text.replace("$", r"\$")


def _svg(figure: Figure, name: str) -> str:
    import matplotlib

    with matplotlib.rc_context(
        {"svg.fonttype": "none", "svg.hashsalt": f"nps-{name}", "font.size": 9}
    ):
        out = io.StringIO()
        figure.savefig(out, format="svg", metadata={"Date": None})
    text = out.getvalue()
    text = text[text.index("<svg") :]
    # The RDF metadata block (creator, format) means nothing inline and only adds bytes.
    return re.sub(r"\s*<metadata>.*?</metadata>", "", text, count=1, flags=re.DOTALL)


def trend_chart(report: ExecutiveReport) -> str:
    """NPS by period with its 95% interval as a band; small samples hollow."""
    figure = _figure(7.5, 2.8)
    ax = figure.add_subplot()
    points = [(i, name, n) for i, (name, n) in enumerate(report.trend) if n.score is not None]
    xs = [i for i, _, _ in points]
    ax.fill_between(
        xs,
        [n.low or 0.0 for _, _, n in points],
        [n.high or 0.0 for _, _, n in points],
        color=LINE,
        alpha=0.15,
        label="95% interval",
    )
    ax.plot(xs, [n.score or 0.0 for _, _, n in points], color=LINE, marker="o", label="NPS")
    small = [(i, n.score) for i, _, n in points if n.small]
    if small:
        ax.scatter(
            *zip(*small, strict=True),
            facecolor="white",
            edgecolor=LINE,
            zorder=3,
            label="fewer than 30 answers",
        )
    ax.set_xticks(range(len(report.trend)), [name for name, _ in report.trend], rotation=45)
    ax.axhline(0, color="#888", linewidth=0.6)
    ax.set_ylabel("NPS")
    ax.set_ylim(-100, 100)
    ax.legend(loc="lower left", frameon=False, ncols=3)
    return _svg(figure, "trend")


def mix_chart(report: ExecutiveReport) -> str:
    """Share of promoters, passives and detractors by period (stacked)."""
    figure = _figure(7.5, 2.6)
    ax = figure.add_subplot()
    names = [name for name, _ in report.trend]
    bottom = [0.0] * len(names)
    for key in ("detractors", "passives", "promoters"):
        shares = [getattr(n, key) / n.n * 100 if n.n else 0.0 for _, n in report.trend]
        ax.bar(names, shares, bottom=bottom, color=COLOURS[key], label=key)
        bottom = [b + s for b, s in zip(bottom, shares, strict=True)]
    ax.set_ylabel("% of answers")
    ax.set_ylim(0, 100)
    ax.tick_params(axis="x", rotation=45)
    ax.legend(loc="upper left", bbox_to_anchor=(1, 1), frameon=False)
    return _svg(figure, "mix")


def segment_chart(dimension: str, rows: Sequence[SegmentRow]) -> str:
    """NPS by segment with 95% intervals; segments that moved are drawn darker."""
    shown = [r for r in rows if r.now.score is not None]
    figure = _figure(3.7, 0.5 + 0.32 * max(len(shown), 2))
    ax = figure.add_subplot()
    ys = list(range(len(shown)))
    scores = [r.now.score or 0.0 for r in shown]
    errors: Any = [
        [(r.now.score or 0.0) - (r.now.low or 0.0) for r in shown],
        [(r.now.high or 0.0) - (r.now.score or 0.0) for r in shown],
    ]
    colours = [LINE if r.moved else "#7fa7cf" for r in shown]
    ax.barh(ys, scores, xerr=errors, color=colours, ecolor="#333", capsize=3)
    ax.set_yticks(ys, [_label(f"{r.name} (n={r.now.n})") for r in shown])
    ax.invert_yaxis()
    ax.axvline(0, color="#888", linewidth=0.6)
    ax.set_xlim(-100, 100)
    ax.set_title(_label(f"NPS by {dimension}"), loc="left")
    return _svg(figure, f"segment-{dimension}")


def loop_chart(report: ExecutiveReport) -> str:
    """The closed loop: shares of the period's detractors contacted in SLA, resolved, never
    contacted."""
    m = report.loop
    figure = _figure(3.7, 1.8)
    ax = figure.add_subplot()
    labels = ["contacted within SLA", "resolved", "never contacted"]
    counts = [m.contacted_within_sla, m.resolved, m.never_contacted]
    shares = [c / m.detractors * 100 if m.detractors else 0.0 for c in counts]
    ax.barh(labels, shares, color=[COLOURS["promoters"], LINE, COLOURS["detractors"]])
    for y, (share, count) in enumerate(zip(shares, counts, strict=True)):
        ax.text(share + 1, y, f"{share:.0f}% ({count})", va="center")
    ax.invert_yaxis()
    ax.set_xlim(0, 115)
    ax.set_title(f"{m.detractors} detractors this period", loc="left")
    return _svg(figure, "loop")


def drivers_chart(drivers: Sequence[Driver], limit: int = 12) -> str:
    """Risk ratio of being a detractor per feature with its interval (log scale, 1 = no
    effect); drivers (intervals excluding 1) darker, the strongest first."""
    shown = [d for d in drivers if d.risk_ratio is not None][:limit]
    figure = _figure(7.5, 0.6 + 0.3 * max(len(shown), 2))
    ax = figure.add_subplot()
    ys = list(range(len(shown)))
    for y, d in zip(ys, shown, strict=True):
        colour = COLOURS["detractors"] if d.significant else "#9e9e9e"
        ratio = d.risk_ratio or 1.0
        low, high = d.low or ratio, d.high or ratio
        ax.plot([low, high], [y, y], color=colour, linewidth=2)
        ax.plot([ratio], [y], marker="o", color=colour)
    ax.set_yticks(ys, [_label(f"{d.feature} (n={d.with_feature.whole})") for d in shown])
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.axvline(1.0, color="#888", linewidth=0.6)
    ax.set_xlabel("times as likely to be a detractor (95% interval)")
    return _svg(figure, "drivers")


def revenue_chart(report: RevenueReport) -> str:
    """Renewal rate by the account's NPS category with Wilson intervals, and the amount of
    open renewals at risk."""
    rows = [c for c in report.categories if c.renewal_rate.share is not None]
    figure = _figure(7.5, 0.6 + 0.4 * max(len(rows), 2))
    ax = figure.add_subplot()
    ys = list(range(len(rows)))
    shares = [(c.renewal_rate.share or 0.0) * 100 for c in rows]
    errors: Any = [
        [s - (c.renewal_rate.low or 0.0) * 100 for s, c in zip(shares, rows, strict=True)],
        [(c.renewal_rate.high or 0.0) * 100 - s for s, c in zip(shares, rows, strict=True)],
    ]
    colours = [COLOURS.get(f"{c.category}s", "#9e9e9e") for c in rows]
    ax.barh(ys, shares, xerr=errors, color=colours, ecolor="#333", capsize=3)
    for y, c in zip(ys, rows, strict=True):
        ax.text(
            101, y, f"{c.renewal_rate.part}/{c.renewal_rate.whole} renewed; "
            f"at risk {c.revenue_at_risk:,.0f}", va="center",
        )  # fmt: skip
    ax.set_yticks(ys, [c.category for c in rows])
    ax.invert_yaxis()
    ax.set_xlim(0, 160)
    ax.set_xticks([0, 25, 50, 75, 100])
    ax.set_xlabel("renewal rate, % (95% interval)")
    return _svg(figure, "revenue")


def themes_chart(rows: Sequence[ThemeCount]) -> str:
    """The period's top comment themes: mentions by the answer's category (stacked)."""
    figure = _figure(7.5, 0.6 + 0.3 * max(len(rows), 2))
    ax = figure.add_subplot()
    names = [_label(r.theme) for r in rows]
    left = [0.0] * len(rows)
    for key in ("detractors", "passives", "promoters"):
        counts = [float(getattr(r, key)) for r in rows]
        ax.barh(names, counts, left=left, color=COLOURS[key], label=key)
        left = [a + b for a, b in zip(left, counts, strict=True)]
    ax.invert_yaxis()
    ax.set_xlabel("answers mentioning the theme")
    ax.legend(loc="lower right", frameon=False)
    return _svg(figure, "themes")
