"""What goes with detractors: each segment value (and comment theme) as a relative risk with a
bootstrap interval, in plain words.

For a feature (``tier=Enterprise``, ``support=2+ open tickets``, ``theme=onboarding``) the risk
ratio is the share of detractors among respondents with it over the share among those without
it: "respondents with 2+ open tickets are 3.1x as likely to be detractors". It is read as a
driver only when its interval excludes 1.

The interval is a percentile bootstrap that resamples *accounts* (all of an account's
respondents together), because people of one account answer alike: resampling single people
would treat them as independent and give intervals that are too narrow. When a resample leaves a
cell empty, half a count is added to each cell (as for the Katz interval). Resamples come from a
seeded generator, so the same data always gives the same figures.

These are associations, not causes: a feature common among detractors may travel with another
one (small accounts both have fewer seats and more open tickets). And with thirty features at
95%, one or two may be flagged by chance alone: read a lone driver of few accounts with care.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from insights.nps import z_value
from insights.rates import Proportion, proportion
from insights.segments import NO_VALUE, Respondent

#: Features seen in fewer respondents than this are left out (no interval would mean much).
MIN_RESPONDENTS = 5
#: A feature of fewer accounts than this is never called a driver: resampling two or three
#: accounts cannot show how much another set of accounts would differ.
MIN_ACCOUNTS = 5
RESAMPLES = 400


@dataclass(frozen=True, slots=True)
class Case:
    """One respondent for the driver analysis: the cluster it is resampled with (its account),
    whether it is a detractor, and its features (``attribute=value``)."""

    group: str
    detractor: bool
    features: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True)
class Driver:
    """One feature: detractor shares with and without it, and their ratio with its interval."""

    feature: str
    attribute: str
    value: str
    with_feature: Proportion
    without_feature: Proportion
    #: Distinct accounts of the respondents with the feature.
    accounts: int
    risk_ratio: float | None
    low: float | None
    high: float | None
    significant: bool
    reading: str


def cases(
    respondents: Iterable[Respondent], attributes: Sequence[str], *, themes: bool = True
) -> list[Case]:
    """Respondents as cases, with a feature per attribute that has a value, and per theme of
    their comment (``themes``): a respondent whose comment has no theme, or was not analysed,
    counts as not mentioning it."""
    out: list[Case] = []
    for r in respondents:
        features = {
            f"{attribute}={r.value(attribute)}"
            for attribute in attributes
            if r.value(attribute) != NO_VALUE
        }
        if themes:
            features.update(f"theme={theme}" for theme in r.themes)
        out.append(Case(r.account_id or f"#{len(out)}", r.score <= 6, frozenset(features)))
    return out


def _ratio(a: float, n: float, b: float, m: float) -> float | None:
    """(a / n) / (b / m), half a count added to each cell when one is empty."""
    if n <= 0 or m <= 0:
        return None
    if 0 in (a, b, n - a, m - b):
        a, n, b, m = a + 0.5, n + 1.0, b + 0.5, m + 1.0
    return (a / n) / (b / m)


def _percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) of sorted ``values``, interpolated linearly."""
    position = q * (len(values) - 1)
    below = math.floor(position)
    above = min(below + 1, len(values) - 1)
    return values[below] + (values[above] - values[below]) * (position - below)


def times(value: float) -> str:
    """A ratio to read: two decimals below 1 (0.98x is not 1.0x), one below 10, then none."""
    if value < 1:
        return f"{value:.2f}x"
    return f"{value:.1f}x" if value < 10 else f"{value:.0f}x"


def reading(
    feature: str,
    rr: float | None,
    low: float | None,
    high: float | None,
    n: int,
    confidence: float = 0.95,
    accounts: int | None = None,
) -> str:
    """The driver in words, for a report or a digest."""
    attribute, _, value = feature.partition("=")
    who = (
        f"Respondents who mention {value}"
        if attribute == "theme"
        else f"Respondents with {attribute} {value}"
    )
    if rr is None or low is None or high is None:
        return f"{who}: too few to compare ({n})."
    if accounts is not None and accounts < MIN_ACCOUNTS:
        return (
            f"{who}: {times(rr)} as likely to be detractors, from {accounts} accounts: "
            "too few to tell."
        )
    interval = f"{confidence:.0%} interval {times(low)} to {times(high)}; {n} respondents"
    if low > 1:
        return f"{who}: {times(rr)} as likely to be detractors ({interval})."
    if high < 1:
        return f"{who}: less likely to be detractors, {times(rr)} as likely ({interval})."
    return f"{who}: no clear difference, {times(rr)} as likely to be detractors ({interval})."


def detractor_drivers(
    found: Sequence[Case],
    *,
    resamples: int = RESAMPLES,
    confidence: float = 0.95,
    seed: int = 0,
    min_respondents: int = MIN_RESPONDENTS,
    min_accounts: int = MIN_ACCOUNTS,
) -> list[Driver]:
    """Every feature of at least ``min_respondents`` respondents (and as many without it), as a
    risk ratio of being a detractor with an account-bootstrap interval; drivers first, strongest
    first, then the rest. A feature of fewer than ``min_accounts`` accounts is never a driver."""
    z_value(confidence)  # validates the level
    groups: dict[str, list[Case]] = defaultdict(list)
    for case in found:
        groups[case.group].append(case)
    names = sorted(groups)
    total, detractors = len(found), sum(c.detractor for c in found)
    per_feature: dict[str, tuple[int, int]] = {}
    feature_accounts: dict[str, set[str]] = defaultdict(set)
    for case in found:
        for f in case.features:
            n, d = per_feature.get(f, (0, 0))
            per_feature[f] = (n + 1, d + case.detractor)
            feature_accounts[f].add(case.group)
    features = sorted(
        f for f, (n, _) in per_feature.items() if min_respondents <= n <= total - min_respondents
    )
    # Per account: respondents and detractors overall, and with each feature.
    tallies = {name: _tally(groups[name], features) for name in names}
    rng = random.Random(seed)
    draws: dict[str, list[float]] = {f: [] for f in features}
    for _ in range(resamples):
        n_all = d_all = 0
        with_n = [0] * len(features)
        with_d = [0] * len(features)
        for name in rng.choices(names, k=len(names)):
            (n, d), per = tallies[name]
            n_all += n
            d_all += d
            for i, (fn, fd) in per:
                with_n[i] += fn
                with_d[i] += fd
        for i, f in enumerate(features):
            rr = _ratio(with_d[i], with_n[i], d_all - with_d[i], n_all - with_n[i])
            if rr is not None:
                draws[f].append(rr)
    tail = (1 - confidence) / 2
    out = []
    for f in features:
        n, d = per_feature[f]
        rr = _ratio(d, n, detractors - d, total - n)
        values = sorted(draws[f])
        low = _percentile(values, tail) if values else None
        high = _percentile(values, 1 - tail) if values else None
        attribute, _, value = f.partition("=")
        accounts = len(feature_accounts[f])
        clear = low is not None and high is not None and (low > 1 or high < 1)
        out.append(
            Driver(
                feature=f,
                attribute=attribute,
                value=value,
                with_feature=proportion(d, n, confidence=confidence),
                without_feature=proportion(detractors - d, total - n, confidence=confidence),
                accounts=accounts,
                risk_ratio=rr,
                low=low,
                high=high,
                significant=clear and accounts >= min_accounts,
                reading=reading(
                    f, rr, low, high, n, confidence, accounts if accounts < min_accounts else None
                ),
            )
        )
    out.sort(key=lambda x: (not x.significant, -(x.risk_ratio or 0.0), x.feature))
    return out


def _tally(
    group: Sequence[Case], features: Sequence[str]
) -> tuple[tuple[int, int], list[tuple[int, tuple[int, int]]]]:
    """An account's (respondents, detractors), and the same per feature index it has."""
    index = {f: i for i, f in enumerate(features)}
    per: dict[int, list[int]] = {}
    for case in group:
        for f in case.features:
            i = index.get(f)
            if i is not None:
                counts = per.setdefault(i, [0, 0])
                counts[0] += 1
                counts[1] += case.detractor
    overall = (len(group), sum(c.detractor for c in group))
    return overall, [(i, (n, d)) for i, (n, d) in sorted(per.items())]
