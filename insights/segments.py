"""NPS per segment (tier, region, tenure band, ...) with intervals, and which differences are real.

The unit is the respondent: one person's latest answer in the period, with the attributes of
their account. A segment is flagged against the rest of the population, and against its own
previous period, only when the interval of the difference excludes 0 (:func:`nps_difference`);
a segment's NPS moving by 20 points on eight respondents is noise, and is shown as such.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from insights.nps import (
    SMALL_SAMPLE_BELOW,
    Counts,
    Method,
    NpsDifference,
    NpsInterval,
    nps_difference,
    nps_interval,
)

#: What a respondent without a value for the attribute is grouped under.
NO_VALUE = "(none)"

#: Upper bounds (exclusive, in days) of the tenure bands and their names.
TENURE_BANDS: tuple[tuple[int, str], ...] = (
    (365, "under 1 year"),
    (2 * 365, "1-2 years"),
    (5 * 365, "2-5 years"),
)


@dataclass(frozen=True, slots=True)
class Respondent:
    """One person's answer as the analysis sees it: the score, their account's attributes
    (``tier``, ``region``, ``tenure``, ``support``, ``owner``, ... -> value) and the themes of
    their comment (when a theme model has read it)."""

    score: int
    account_id: str = ""
    arr: float = 0.0
    attributes: Mapping[str, str] = field(default_factory=dict)
    themes: frozenset[str] = frozenset()

    def value(self, attribute: str) -> str:
        return self.attributes.get(attribute) or NO_VALUE


@dataclass(frozen=True, slots=True)
class SegmentNps:
    """One segment: its NPS with interval, and how it differs from everyone else."""

    attribute: str
    segment: str
    accounts: int
    #: ARR of the segment's accounts, each account once.
    arr: float
    interval: NpsInterval
    #: This segment minus all other respondents (None when there are no others).
    versus_rest: NpsDifference | None


@dataclass(frozen=True, slots=True)
class SegmentReport:
    """NPS by one attribute: the whole population and each segment, largest first."""

    attribute: str
    overall: NpsInterval
    segments: tuple[SegmentNps, ...]


@dataclass(frozen=True, slots=True)
class SegmentMovement:
    """A segment now and in the previous period; ``change`` is now minus before and
    ``change.significant`` says whether the movement is outside what chance explains."""

    attribute: str
    segment: str
    now: NpsInterval
    before: NpsInterval
    change: NpsDifference


def tenure_band(days: int | None) -> str:
    """The tenure band of an account that has been a customer ``days`` days."""
    if days is None or days < 0:
        return NO_VALUE
    for limit, name in TENURE_BANDS:
        if days < limit:
            return name
    return "5 years or more"


def support_band(tickets: int | None) -> str:
    """Support history as a segment: how many tickets the respondent had open when they
    answered, or had opened shortly before (:func:`tickets_around`)."""
    if tickets is None:
        return NO_VALUE
    if tickets == 0:
        return "no open or recent ticket"
    return "1 open or recent ticket" if tickets == 1 else "2+ open or recent tickets"


def tickets_around(
    spans: Iterable[tuple[datetime, datetime | None]], at: datetime, recent: timedelta
) -> int:
    """How many of a person's tickets, as ``(created, solved or None)``, were open at ``at`` or
    created in the ``recent`` time before it; tickets created after ``at`` do not count."""
    return sum(
        1
        for created, solved in spans
        if created <= at and (created > at - recent or solved is None or solved > at)
    )


def counts_by(respondents: Iterable[Respondent], attribute: str) -> dict[str, Counts]:
    """Category counts per value of ``attribute``."""
    scores: dict[str, list[int]] = defaultdict(list)
    for r in respondents:
        scores[r.value(attribute)].append(r.score)
    return {segment: Counts.of_scores(s) for segment, s in scores.items()}


def segment_nps(
    respondents: Sequence[Respondent],
    attribute: str,
    *,
    confidence: float = 0.95,
    method: Method = "adjusted",
    small_below: int = SMALL_SAMPLE_BELOW,
) -> SegmentReport:
    """NPS of each value of ``attribute`` with its interval and its difference from the rest."""
    by_segment = counts_by(respondents, attribute)
    total = sum(by_segment.values(), Counts())
    accounts: dict[str, dict[str, float]] = defaultdict(dict)
    for r in respondents:
        if r.account_id:
            accounts[r.value(attribute)][r.account_id] = r.arr
    segments = []
    for segment, counts in by_segment.items():
        rest = Counts(
            total.promoters - counts.promoters,
            total.passives - counts.passives,
            total.detractors - counts.detractors,
        )
        segments.append(
            SegmentNps(
                attribute=attribute,
                segment=segment,
                accounts=len(accounts[segment]),
                arr=sum(accounts[segment].values()),
                interval=nps_interval(
                    counts, confidence=confidence, method=method, small_below=small_below
                ),
                versus_rest=(
                    nps_difference(counts, rest, confidence=confidence, method=method)
                    if rest.respondents
                    else None
                ),
            )
        )
    segments.sort(key=lambda s: (-s.interval.respondents, s.segment))
    overall = nps_interval(total, confidence=confidence, method=method, small_below=small_below)
    return SegmentReport(attribute, overall, tuple(segments))


def segment_movements(
    now: Sequence[Respondent],
    before: Sequence[Respondent],
    attribute: str,
    *,
    confidence: float = 0.95,
    method: Method = "adjusted",
    small_below: int = SMALL_SAMPLE_BELOW,
) -> list[SegmentMovement]:
    """Each segment of either period, now against before; flagged ones first."""
    counts_now = counts_by(now, attribute)
    counts_before = counts_by(before, attribute)
    moves = []
    for segment in sorted(counts_now.keys() | counts_before.keys()):
        a = counts_now.get(segment, Counts())
        b = counts_before.get(segment, Counts())
        moves.append(
            SegmentMovement(
                attribute=attribute,
                segment=segment,
                now=nps_interval(a, confidence=confidence, method=method, small_below=small_below),
                before=nps_interval(
                    b, confidence=confidence, method=method, small_below=small_below
                ),
                change=nps_difference(a, b, confidence=confidence, method=method),
            )
        )
    moves.sort(key=lambda m: (not m.change.significant, m.segment))
    return moves
