"""Which of the taxonomy's themes a comment is about, most confident first.

Zero-shot (no labelled data): each theme is its description plus example phrases. A comment's
score for a theme is the cosine between their sentence embeddings (when the model is installed)
plus half the cosine of their character n-gram TF-IDF vectors; the n-grams catch spelling
variants and word forms ("cancelled", "canceled", "cancellation") that an admin's five examples
cannot list. Once the matcher has seen enough of the comments it analyses, each theme's score is
lowered by its hubness among them (:mod:`insights.text.hubness`), so that a theme close to
everything stops winning comments that are about something else. Scores become confidences with
a softmax; a comment gets every theme within reach of its best one, or none when even the best
uncorrected score is below the floor (it fits no theme: discovery clusters those).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from insights.text.hubness import HubCorrection, HubSample
from insights.text.taxonomy import Taxonomy

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from insights.text.encoder import SentenceEncoder

#: Weight of the TF-IDF cosine next to the embedding cosine.
NGRAM_WEIGHT = 0.5
#: Softmax temperature over the raw scores (cosines are close together).
TEMPERATURE = 0.05
#: A theme is kept when its confidence is at least this share of the best theme's.
KEEP_SHARE = 0.5
#: Best raw score below which a comment fits no theme: with the model, and with n-grams alone.
FLOOR_MODEL = 0.35
FLOOR_NGRAMS = 0.10


@dataclass(frozen=True, slots=True)
class ThemeMatch:
    """A theme found in a comment, with the confidence it was ranked by (0 to 1)."""

    name: str
    confidence: float


def ngram_vectorizer() -> Any:
    """Character n-grams within words, as both the zero-shot and the trained matcher use."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(
        analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, lowercase=True
    )


class ZeroShotMatcher:
    """Scores comments against the taxonomy's descriptions and examples alone."""

    def __init__(self, taxonomy: Taxonomy, encoder: SentenceEncoder | None = None) -> None:
        self.names = taxonomy.names
        documents = [" . ".join(theme.text) for theme in taxonomy.themes]
        self._ngrams = ngram_vectorizer().fit(documents)
        self._theme_ngrams = self._ngrams.transform(documents)
        self._centroids: NDArray[np.float32] | None = None
        self._hubs: HubCorrection | None = None
        if encoder is not None:
            rows = []
            for theme in taxonomy.themes:
                mean = encoder.encode(theme.text).mean(axis=0)
                rows.append(mean / max(float(np.linalg.norm(mean)), 1e-9))
            self._centroids = np.array(rows, dtype=np.float32)
            self._hubs = HubCorrection(self._centroids)
        self.floor = FLOOR_MODEL if encoder is not None else FLOOR_NGRAMS

    def adapt(self, embeddings: NDArray[np.float32]) -> None:
        """Measure the themes' hubness on these comments too (until the sample is full)."""
        if self._hubs is not None:
            self._hubs.add(embeddings)

    @property
    def hub_sample(self) -> HubSample | None:
        """How far the hub correction's measurement has got; None without the model."""
        return self._hubs.sample if self._hubs is not None else None

    def resume_hubs(self, sample: HubSample) -> None:
        """Carry on from a hub measurement made earlier with the same themes and model."""
        if self._hubs is not None:
            self._hubs.resume(sample)

    def scores(
        self, texts: Sequence[str], embeddings: NDArray[np.float32] | None = None
    ) -> NDArray[np.float64]:
        """Raw scores, one row per text and one column per theme, before the hub correction:
        they depend on the text alone."""
        ngram = (self._ngrams.transform(texts) @ self._theme_ngrams.T).toarray()
        if self._centroids is None or embeddings is None:
            return np.asarray(ngram, dtype=np.float64)
        return np.asarray(embeddings @ self._centroids.T + NGRAM_WEIGHT * ngram, dtype=np.float64)

    def match(
        self, texts: Sequence[str], embeddings: NDArray[np.float32] | None = None
    ) -> list[list[ThemeMatch]]:
        raw = self.scores(texts, embeddings)
        ranked = (
            raw - self._hubs.penalty if self._hubs is not None and embeddings is not None else raw
        )
        shifted = np.exp((ranked - ranked.max(axis=1, keepdims=True)) / TEMPERATURE)
        confidence = shifted / shifted.sum(axis=1, keepdims=True)
        fits = raw.max(axis=1) >= self.floor
        return [
            select(self.names, row) if fit else []
            for row, fit in zip(confidence, fits, strict=True)
        ]


def select(
    names: Sequence[str], confidence: NDArray[np.float64], minimum: float = 0.0
) -> list[ThemeMatch]:
    """The themes worth reporting from one row of confidences, most confident first."""
    best = float(confidence.max()) if len(confidence) else 0.0
    if best <= 0 or best < minimum:
        return []
    keep = max(best * KEEP_SHARE, minimum)
    order = np.argsort(-confidence, kind="stable")
    return [
        ThemeMatch(names[i], round(float(confidence[i]), 4)) for i in order if confidence[i] >= keep
    ]
