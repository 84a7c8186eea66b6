"""The executive report's figures: NPS trend with intervals, category mix, segments and the loop.

Pure: the figures are a function of the answers and the moment the report is made for, so
``nps-sync report --json`` prints exactly what the HTML page draws.

Periods are calendar months or quarters in UTC. The report is about the period that holds
``until`` (the headline) and shows the trend over the :data:`TREND_PERIODS` periods up to it.
Segment figures are the headline period's, each flagged ``moved`` when its change from the
period before is outside the 95% interval of the difference. In every NPS figure each person
counts once per period, with their latest answer in it, as in ``nps-sync insights trend``; the
loop and the themes take every answer (each detractor answer has its own loop).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from sync.loop.metrics import LoopMetrics, loop_metrics
from sync.reports.answers import Answer, latest_each
from sync.reports.nps import METHOD, Nps, moved, nps_of

Period = Literal["month", "quarter"]
TREND_PERIODS: dict[str, int] = {"month": 12, "quarter": 8}
#: The built-in segment dimensions, by the account attribute they group on; Account fields an
#: admin names are added after them (:func:`executive_report`).
SEGMENTS: dict[str, Callable[[Answer], str]] = {
    "tier": lambda a: a.tier or "(none)",
    "region": lambda a: a.region or "(none)",
    "industry": lambda a: a.industry or "(none)",
}


def period_label(moment: datetime, period: Period) -> str:
    if period == "month":
        return f"{moment.year}-{moment.month:02d}"
    return f"{moment.year}-Q{(moment.month - 1) // 3 + 1}"


def period_start(moment: datetime, period: Period) -> datetime:
    month = moment.month if period == "month" else 3 * ((moment.month - 1) // 3) + 1
    return datetime(moment.year, month, 1, tzinfo=UTC)


def step_back(start: datetime, period: Period) -> datetime:
    """The start of the period before the one starting at ``start``."""
    months = 1 if period == "month" else 3
    index = start.year * 12 + start.month - 1 - months
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def periods(until: datetime, period: Period, count: int) -> list[tuple[str, datetime]]:
    """The last ``count`` periods up to the one holding ``until``, oldest first."""
    starts = [period_start(until, period)]
    for _ in range(count - 1):
        starts.append(step_back(starts[-1], period))
    return [(period_label(s, period), s) for s in reversed(starts)]


@dataclass(frozen=True, slots=True)
class SegmentRow:
    name: str
    now: Nps
    before: Nps

    @property
    def moved(self) -> bool:
        return moved(self.before, self.now)


@dataclass(frozen=True, slots=True)
class ExecutiveReport:
    period: Period
    label: str
    since: datetime
    until: datetime
    headline: Nps
    previous: Nps
    trend: list[tuple[str, Nps]]
    segments: dict[str, list[SegmentRow]]
    loop: LoopMetrics
    #: The period's comment themes (None: comments were not analysed).
    themes: list[ThemeCount] | None = None
    #: Why some segment dimensions are missing (Account fields Salesforce did not give).
    segments_note: str = ""
    #: Optional sections, filled when their figures exist (themes, drivers, revenue).
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def moved(self) -> bool:
        return moved(self.previous, self.headline)


def _field_of(name: str) -> Callable[[Answer], str]:
    return lambda a: a.fields.get(name) or "(none)"


def executive_report(
    answers: Sequence[Answer],
    period: Period,
    until: datetime,
    account_fields: Sequence[str] = (),
) -> ExecutiveReport:
    """The report on the period holding ``until`` from ``answers`` (those after ``until`` are
    left out); each of ``account_fields`` is a segment dimension after the built-in ones."""
    spans = periods(until, period, TREND_PERIODS[period])
    by_period: dict[str, list[Answer]] = defaultdict(list)
    for a in answers:
        if a.answered_at <= until:
            by_period[period_label(a.answered_at, period)].append(a)
    label, since = spans[-1]
    before_label = spans[-2][0]
    every = by_period.get(label, [])
    people = {name: latest_each(group) for name, group in by_period.items()}
    current, before = people.get(label, []), people.get(before_label, [])
    keys = {**SEGMENTS, **{name: _field_of(name) for name in account_fields}}
    segments = {name: _segments(current, before, key) for name, key in keys.items()}
    records = [a.loop for a in every if a.loop is not None]
    return ExecutiveReport(
        period=period,
        label=label,
        since=since,
        until=until,
        headline=nps_of(a.score for a in current),
        previous=nps_of(a.score for a in before),
        trend=[(name, nps_of(a.score for a in people.get(name, []))) for name, _ in spans],
        segments=segments,
        loop=loop_metrics(records, until),
        themes=theme_counts(every),
    )


def _segments(
    current: Sequence[Answer], before: Sequence[Answer], key: Callable[[Answer], str]
) -> list[SegmentRow]:
    now_groups: dict[str, list[int]] = defaultdict(list)
    old_groups: dict[str, list[int]] = defaultdict(list)
    for a in current:
        now_groups[key(a)].append(a.score)
    for a in before:
        old_groups[key(a)].append(a.score)
    rows = [
        SegmentRow(name, nps_of(now_groups[name]), nps_of(old_groups.get(name, [])))
        for name in now_groups
    ]
    return sorted(rows, key=lambda r: (-r.now.n, r.name))


@dataclass(frozen=True, slots=True)
class ThemeCount:
    """How often a comment theme came up in the period, by the answer's category."""

    theme: str
    promoters: int
    passives: int
    detractors: int

    @property
    def mentions(self) -> int:
        return self.promoters + self.passives + self.detractors


def theme_counts(answers: Sequence[Answer], limit: int = 10) -> list[ThemeCount] | None:
    """The period's most mentioned themes, most detractor mentions first (None: comments were
    not analysed)."""
    if not any(a.themes is not None for a in answers):
        return None
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    index = {"promoter": 0, "passive": 1, "detractor": 2}
    for a in answers:
        for theme in dict.fromkeys(a.themes or ()):
            counts[theme][index[a.category]] += 1
    rows = [ThemeCount(t, *c) for t, c in counts.items()]
    return sorted(rows, key=lambda r: (-r.detractors, -r.mentions, r.theme))[:limit]


def themes_json(rows: Sequence[ThemeCount] | None) -> list[dict[str, Any]] | None:
    if rows is None:
        return None
    return [
        {
            "theme": r.theme,
            "mentions": r.mentions,
            "promoters": r.promoters,
            "passives": r.passives,
            "detractors": r.detractors,
        }
        for r in rows
    ]


def loop_json(m: LoopMetrics) -> dict[str, Any]:
    def share(count: int) -> float | None:
        value = m.share(count)
        return None if value is None else round(value, 4)

    return {
        "detractors": m.detractors,
        "contacted_within_sla": m.contacted_within_sla,
        "share_contacted_within_sla": share(m.contacted_within_sla),
        "resolved": m.resolved,
        "share_resolved": share(m.resolved),
        "never_contacted": m.never_contacted,
        "share_never_contacted": share(m.never_contacted),
        "hours_to_contact_median": m.contact_hours_median,
        "hours_to_resolution_median": m.resolution_hours_median,
        "sla_breaches": m.contact_breaches + m.resolution_breaches,
    }


def report_json(report: ExecutiveReport) -> dict[str, Any]:
    """The report's figures by name (``nps-sync report --json``)."""
    return {
        "period": report.period,
        "label": report.label,
        "since": _iso(report.since),
        "until": _iso(report.until),
        "interval": METHOD,
        "nps": report.headline.to_json(),
        "previous": report.previous.to_json(),
        "moved": report.moved,
        "trend": [{"period": name, **n.to_json()} for name, n in report.trend],
        "category_mix": [
            {
                "period": name,
                "promoters": _share(n.promoters, n.n),
                "passives": _share(n.passives, n.n),
                "detractors": _share(n.detractors, n.n),
            }
            for name, n in report.trend
        ],
        "segments": {
            dimension: [
                {
                    "segment": row.name,
                    **row.now.to_json(),
                    "previous": row.before.to_json(),
                    "moved": row.moved,
                }
                for row in rows
            ]
            for dimension, rows in report.segments.items()
        },
        "loop": loop_json(report.loop),
        "themes": themes_json(report.themes),
        **report.extra,
    }


def _share(count: int, n: int) -> float | None:
    return round(count / n, 4) if n else None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
