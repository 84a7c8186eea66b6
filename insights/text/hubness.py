"""How far each theme is a "hub" among the comments being analysed, to be subtracted from its score.

In a sentence-embedding space some points sit close to very many others. A theme whose mean
embedding is such a hub scores high with comments about anything and wins too often; a theme
with a narrow mean wins too rarely, however plain the comment. A theme's hubness is measured as
the mean cosine of its mean embedding with its 10 nearest comments: how high a score the comments
most like it reach. Half of it is subtracted from every comment's score for the theme, so a theme
must beat its own usual best, not the others' (on the airline tweets, macro-F1 0.492 to 0.521).

The comments are a sample of those being analysed: up to 1,000, spread evenly over a file, or
the first a daemon analyses. Below 50 the figure would say more about the sample than about the
themes, and nothing is subtracted. Only each theme's 10 highest cosines so far are kept
(:class:`HubSample`): that is all a later comment can change, and all a daemon needs to store
to carry the measurement over a restart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

#: Comments a theme's hubness is measured on, at most; later ones leave it as it is.
SAMPLE = 1_000
#: Comments needed before any correction is made.
MINIMUM = 50
#: Nearest comments whose cosines are averaged.
NEIGHBOURS = 10
#: Share of a theme's hubness subtracted from its scores.
WEIGHT = 0.5


def spread(count: int, limit: int = SAMPLE) -> list[int]:
    """Up to ``limit`` positions spread evenly over ``count`` items, first and last included: a
    sample that does not depend on how the items happen to be ordered in blocks."""
    if count <= limit:
        return list(range(count))
    return sorted({round(i * (count - 1) / (limit - 1)) for i in range(limit)})


@dataclass(frozen=True)
class HubSample:
    """How far a measurement has got: the comments seen, and each theme's highest cosines among
    them (up to :data:`NEIGHBOURS` rows, one column per theme)."""

    seen: int
    top: NDArray[np.float32]

    @property
    def complete(self) -> bool:
        """Whether the sample is full, so further comments change nothing."""
        return self.seen >= SAMPLE


class HubCorrection:
    """The amount to subtract from each theme's score, measured on the comments added so far."""

    def __init__(self, centroids: NDArray[np.float32]) -> None:
        self._centroids = centroids
        self.sample = HubSample(0, np.zeros((0, len(centroids)), dtype=np.float32))
        self.penalty: NDArray[np.float64] = np.zeros(len(centroids))

    @property
    def complete(self) -> bool:
        """Whether the sample is full, so further comments change nothing."""
        return self.sample.complete

    def resume(self, sample: HubSample) -> None:
        """Carry on from a measurement made earlier with the same themes and model."""
        if sample.top.shape[1:] != (len(self._centroids),) or len(sample.top) > NEIGHBOURS:
            raise ValueError("a hub sample measured with other themes")
        self._measure(HubSample(min(sample.seen, SAMPLE), sample.top.astype(np.float32)))

    def add(self, embeddings: NDArray[np.float32]) -> None:
        """Take comments into the sample until it holds :data:`SAMPLE`, and measure again."""
        room = SAMPLE - self.sample.seen
        if room <= 0 or len(embeddings) == 0:
            return
        taken = embeddings[:room]
        cosines = np.vstack([self.sample.top, taken @ self._centroids.T])
        self._measure(HubSample(self.sample.seen + len(taken), highest(cosines)))

    def _measure(self, sample: HubSample) -> None:
        self.sample = sample
        measured = sample.seen >= MINIMUM and len(sample.top) > 0
        self.penalty = (
            WEIGHT * np.asarray(sample.top.mean(axis=0), dtype=np.float64)
            if measured
            else np.zeros(len(self._centroids))
        )


def highest(cosines: NDArray[np.float32]) -> NDArray[np.float32]:
    """Per column (theme), its :data:`NEIGHBOURS` highest cosines, highest first."""
    k = min(NEIGHBOURS, len(cosines))
    top = np.partition(cosines, len(cosines) - k, axis=0)[-k:]
    return np.asarray(np.sort(top, axis=0)[::-1], dtype=np.float32)
