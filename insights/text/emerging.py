"""What is new among the comments: emerging themes, repeat themes, and clusters of the rest.

Emerging: a theme's share of this week's comments is tested against its own history with a
one-sided binomial test. Under "nothing changed", this week's mentions ``k`` of ``n`` comments
follow Binomial(n, p0), where p0 is the theme's share over the history weeks (with one mention
and one non-mention added, so a theme never seen before has a small, not zero, baseline). The
theme is flagged when P(X >= k) is below ``ALPHA`` divided by the number of themes tested
(Bonferroni: with twenty themes a week, a false alarm stays about as rare as for one), it was
mentioned at least ``MIN_MENTIONS`` times, and its share at least doubled: significance alone
would flag tiny rises once volumes are large.

Repeat: a theme that ``REPEAT_DETRACTORS`` or more detractors mention in one week.

Discovery: comments that fit no theme are clustered (cosine distance between their sentence
embeddings, or TF-IDF vectors without the model) and each cluster of at least ``MIN_CLUSTER``
comments is named by the words and word pairs that set it apart: suggested new themes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

#: Family-wise false-alarm rate per week, shared among the themes tested.
ALPHA = 0.01
MIN_MENTIONS = 3
#: This week's share must be at least this many times the history's.
MIN_RISE = 2.0
#: History weeks a theme is compared with (fewer at the start of the data).
HISTORY_WEEKS = 8
REPEAT_DETRACTORS = 3
MIN_CLUSTER = 3
#: Cosine distance under which two unthemed comments join one cluster (average linkage).
CLUSTER_DISTANCE = 0.6


@dataclass(frozen=True, slots=True)
class Mention:
    """One analysed comment: when it was written, its themes, and whether a detractor wrote it."""

    at: datetime
    themes: tuple[str, ...]
    detractor: bool = False


@dataclass(frozen=True, slots=True)
class WeekTrend:
    """One theme in one week against its history."""

    theme: str
    week: date
    mentions: int
    comments: int
    baseline_share: float
    p_value: float
    emerging: bool
    detractor_mentions: int

    @property
    def share(self) -> float:
        return self.mentions / self.comments if self.comments else 0.0

    @property
    def repeat(self) -> bool:
        return self.detractor_mentions >= REPEAT_DETRACTORS


@dataclass(frozen=True, slots=True)
class Cluster:
    """Comments that fit no theme but resemble each other, named by their telling phrases."""

    phrases: tuple[str, ...]
    size: int
    members: tuple[int, ...]


def week_of(moment: datetime | date) -> date:
    """The Monday starting the ISO week of ``moment``."""
    day = moment.date() if isinstance(moment, datetime) else moment
    return day - timedelta(days=day.weekday())


def weekly_trends(mentions: Iterable[Mention], week: date | None = None) -> list[WeekTrend]:
    """Every theme of ``week`` (default: the latest week with comments), tested against the
    :data:`HISTORY_WEEKS` before it; most significant first."""
    from scipy.stats import binomtest

    by_week: dict[date, list[Mention]] = {}
    for mention in mentions:
        by_week.setdefault(week_of(mention.at), []).append(mention)
    if not by_week:
        return []
    current = week_of(week) if week is not None else max(by_week)
    this = by_week.get(current, [])
    history = [
        m
        for w, ms in by_week.items()
        if current - timedelta(weeks=HISTORY_WEEKS) <= w < current
        for m in ms
    ]
    counts = Counter(t for m in this for t in set(m.themes))
    detractors = Counter(t for m in this if m.detractor for t in set(m.themes))
    past = Counter(t for m in history for t in set(m.themes))
    themes = sorted(set(counts) | set(past))
    trends = []
    for theme in themes:
        k, n = counts[theme], len(this)
        baseline = (past[theme] + 1) / (len(history) + 2)
        p_value = float(binomtest(k, n, baseline, alternative="greater").pvalue) if n else 1.0
        emerging = (
            bool(history)
            and p_value < ALPHA / max(len(themes), 1)
            and k >= MIN_MENTIONS
            and k / n >= MIN_RISE * baseline
        )
        trends.append(
            WeekTrend(theme, current, k, n, baseline, p_value, emerging, detractors[theme])
        )
    return sorted(trends, key=lambda t: (t.p_value, -t.mentions, t.theme))


def emerging_themes(mentions: Iterable[Mention], week: date | None = None) -> frozenset[str]:
    """The themes flagged as emerging in ``week``."""
    return frozenset(t.theme for t in weekly_trends(mentions, week) if t.emerging)


def cluster_unthemed(
    texts: Sequence[str], embeddings: NDArray[np.float32] | None = None
) -> list[Cluster]:
    """Clusters of at least :data:`MIN_CLUSTER` comments, largest first, each named by up to
    three phrases (words or word pairs) that are frequent in it and rarer elsewhere."""
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.feature_extraction.text import TfidfVectorizer

    kept = [i for i, t in enumerate(texts) if t.strip()]
    if len(kept) < MIN_CLUSTER:
        return []
    words = TfidfVectorizer(ngram_range=(1, 2), stop_words="english", min_df=2, sublinear_tf=True)
    try:
        grams: Any = words.fit_transform([texts[i] for i in kept])
    except ValueError:  # no word occurs twice: nothing in common to name
        return []
    if embeddings is None:  # a comment sharing no word with the others stays out
        shared = np.flatnonzero(np.asarray(grams.sum(axis=1)).ravel() > 0)
        kept, grams = [kept[i] for i in shared], grams[shared]
        if len(kept) < MIN_CLUSTER:
            return []
    vectors = embeddings[kept] if embeddings is not None else grams.toarray()
    labels = AgglomerativeClustering(
        n_clusters=None,
        metric="cosine",
        linkage="average",
        distance_threshold=CLUSTER_DISTANCE,
    ).fit_predict(np.asarray(vectors) + 1e-9)
    vocabulary = np.array(words.get_feature_names_out())
    overall = np.asarray(grams.mean(axis=0)).ravel()
    clusters = []
    for label, size in Counter(labels.tolist()).most_common():
        if size < MIN_CLUSTER:
            break
        rows = np.flatnonzero(labels == label)
        inside = np.asarray(grams[rows].mean(axis=0)).ravel()
        present = np.asarray((grams[rows] > 0).sum(axis=0)).ravel()
        score = np.where(present >= 2, inside - overall, -np.inf)
        top = [str(vocabulary[i]) for i in np.argsort(-score)[:10] if np.isfinite(score[i])]
        clusters.append(Cluster(_phrases(top), int(size), tuple(kept[i] for i in rows)))
    return clusters


def _phrases(candidates: Sequence[str], limit: int = 3) -> tuple[str, ...]:
    """Up to ``limit`` names, word pairs first, leaving out a word a chosen pair already says."""
    chosen: list[str] = []
    for phrase in sorted(candidates, key=lambda p: " " not in p):  # stable: pairs, then words
        covered = {word for c in chosen for word in c.split()}
        if len(chosen) < limit and not set(phrase.split()) <= covered:
            chosen.append(phrase)
    return tuple(chosen)


def weekly_series(trends: Mapping[date, Sequence[WeekTrend]], theme: str) -> list[int]:
    """The mentions of ``theme`` week by week, oldest first (for a trend column)."""
    return [next((t.mentions for t in trends[w] if t.theme == theme), 0) for w in sorted(trends)]
