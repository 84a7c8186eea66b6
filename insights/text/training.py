"""Themes learned from labelled comments (a ``comment,theme`` file, e.g. tagged tickets).

A class-balanced logistic regression over the sentence embedding (when installed), the
character n-grams, and the comment's zero-shot score for each theme (its closeness to the theme's
description and examples, :class:`~insights.text.themes.ZeroShotMatcher`). The taxonomy's own
descriptions and examples join the training rows, so a theme with few or no labelled comments
still has a voice, and the zero-shot scores carry what the admin wrote into the model: labels
from other customers then need not teach what the taxonomy already says. Balancing matters:
complaint themes are very unequal in size, and an unbalanced model would hardly ever name the
small ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from insights.text.taxonomy import Taxonomy
from insights.text.themes import ThemeMatch, ZeroShotMatcher, ngram_vectorizer, select

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from insights.text.encoder import SentenceEncoder

#: Least probability for a theme to be reported at all.
MIN_PROBABILITY = 0.2
#: Inverse regularisation strength, chosen on other data than the figures in the README.
STRENGTH = 4.0


@dataclass(frozen=True, slots=True)
class LabelledComment:
    comment: str
    theme: str


class TrainedMatcher:
    """Scores comments with a model fitted on labelled comments plus the taxonomy's text."""

    def __init__(
        self,
        taxonomy: Taxonomy,
        examples: Sequence[LabelledComment],
        encoder: SentenceEncoder | None = None,
    ) -> None:
        from sklearn.linear_model import LogisticRegression

        known = set(taxonomy.names)
        texts = [e.comment for e in examples if e.theme in known]
        labels = [e.theme for e in examples if e.theme in known]
        for theme in taxonomy.themes:
            texts.extend(theme.text)
            labels.extend([theme.name] * len(theme.text))
        self._encoder = encoder
        self._zero_shot = ZeroShotMatcher(taxonomy, encoder)
        self._ngrams = ngram_vectorizer().fit(texts)
        features = self._features(texts, self._embed(texts))
        self._model: Any = LogisticRegression(
            max_iter=2000, C=STRENGTH, class_weight="balanced"
        ).fit(features, labels)
        self.names: tuple[str, ...] = tuple(str(c) for c in self._model.classes_)

    def _embed(self, texts: Sequence[str]) -> NDArray[np.float32] | None:
        return self._encoder.encode(texts) if self._encoder is not None else None

    def _features(self, texts: Sequence[str], embeddings: NDArray[np.float32] | None) -> Any:
        from scipy.sparse import csr_matrix, hstack

        grams = self._ngrams.transform(texts)
        theme_scores = csr_matrix(self._zero_shot.scores(texts, embeddings))
        if embeddings is None:
            return hstack([grams, theme_scores]).tocsr()
        return hstack([grams, csr_matrix(embeddings), theme_scores]).tocsr()

    def match(
        self, texts: Sequence[str], embeddings: NDArray[np.float32] | None = None
    ) -> list[list[ThemeMatch]]:
        if embeddings is None and self._encoder is not None:
            embeddings = self._embed(texts)
        probabilities = self._model.predict_proba(self._features(texts, embeddings))
        return [
            select(self.names, row, MIN_PROBABILITY) if text.strip() else []
            for row, text in zip(probabilities, texts, strict=True)
        ]
