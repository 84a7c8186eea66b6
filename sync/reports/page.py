"""The executive report as one self-contained HTML page: inline CSS, inline SVG charts and the
figures as inline JSON (the same document as ``nps-sync report --json``); nothing is fetched when
it is viewed."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any

from sync.reports import charts
from sync.reports.executive import ExecutiveReport, report_json
from sync.reports.nps import METHOD


@dataclass(frozen=True, slots=True)
class Section:
    """An optional part of the report (themes, drivers, revenue): a chart, or why not."""

    id: str
    title: str
    svg: str | None = None
    empty: str = ""
    #: Sentences under the chart (readings of the figures).
    notes: list[str] = field(default_factory=list)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:+.0f}" if value else "0"


def _pct(count: int, total: int) -> str:
    return f"{count / total:.0%}" if total else "-"


def _hours(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f} h" if value < 48 else f"{value / 24:.1f} days"


def render(report: ExecutiveReport, sections: list[Section] | None = None) -> str:
    """The page for ``report``."""
    import jinja2

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    template = env.from_string(
        files("sync.reports").joinpath("report.html.j2").read_text(encoding="utf-8")
    )
    drawn: dict[str, Any] = {
        "trend": charts.trend_chart(report),
        "mix": charts.mix_chart(report),
        "segments": {
            dimension: charts.segment_chart(dimension, rows)
            for dimension, rows in report.segments.items()
            if rows
        },
        "loop": charts.loop_chart(report),
    }
    return template.render(
        r=report,
        charts=drawn,
        sections=sections if sections is not None else default_sections(),
        figures=report_json(report),
        method=METHOD,
        fmt=_fmt,
        pct=_pct,
        hours=_hours,
    )


def default_sections() -> list[Section]:
    """The parts whose figures are not computed yet, said so on the page."""
    return [
        Section("themes", "Top comment themes", empty=THEMES_MISSING),
        Section("drivers", "Drivers of detractors", empty="Drivers are not computed."),
        Section("revenue", "Revenue by NPS category", empty="Revenue is not computed."),
    ]


THEMES_MISSING = "Comment themes are not computed (`text` in the config turns them on)."
