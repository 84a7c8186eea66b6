"""One entry point: comments in, sentiment and ranked themes out.

Built once (loading the model and fitting the taxonomy take a second or two), then called with
batches of comments. Each comment is embedded once and the embedding serves sentiment and themes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from insights.text.encoder import SentenceEncoder, load_encoder
from insights.text.language import is_english
from insights.text.sentiment import SentimentScorer
from insights.text.taxonomy import Taxonomy
from insights.text.themes import ThemeMatch, ZeroShotMatcher
from insights.text.training import LabelledComment, TrainedMatcher

ModelChoice = Literal["auto", "minilm", "lexicon"]
MODEL_CHOICES: tuple[ModelChoice, ...] = ("auto", "minilm", "lexicon")


@dataclass(frozen=True, slots=True)
class TextResult:
    """What one comment says: sentiment in [-1, 1] and its themes, most confident first."""

    sentiment: float
    themes: tuple[ThemeMatch, ...]
    #: False for a comment plainly in another language: it is given 0.0 and no theme rather
    #: than what an English lexicon and model would make of it.
    english: bool = True

    @property
    def theme_names(self) -> list[str]:
        return [t.name for t in self.themes]


class TextAnalyzer:
    """Scores comments with one taxonomy (and, optionally, labelled examples)."""

    def __init__(
        self,
        taxonomy: Taxonomy,
        *,
        model: ModelChoice = "auto",
        labelled: Sequence[LabelledComment] = (),
        encoder: SentenceEncoder | None = None,
    ) -> None:
        if encoder is None and model != "lexicon":
            encoder = load_encoder(required=model == "minilm")
        self.encoder = encoder if model != "lexicon" else None
        self.model_name = self.encoder.name if self.encoder is not None else "lexicon"
        self.taxonomy = taxonomy
        self._sentiment = SentimentScorer(self.encoder)
        self._themes: ZeroShotMatcher | TrainedMatcher = (
            TrainedMatcher(taxonomy, labelled, self.encoder)
            if labelled
            else ZeroShotMatcher(taxonomy, self.encoder)
        )

    def analyze(self, comments: Sequence[str]) -> list[TextResult]:
        """One result per comment, in order; an empty comment, or one not in English, is
        neutral with no theme."""
        english = [is_english(c or "") for c in comments]
        texts = [(c or "") if known else "" for c, known in zip(comments, english, strict=True)]
        embeddings = self.encoder.encode(texts) if self.encoder is not None else None
        sentiment = self._sentiment.score(texts, embeddings)
        themes = self._themes.match(texts, embeddings)
        return [
            TextResult(round(score, 4), tuple(found) if text.strip() else (), known)
            for text, score, found, known in zip(texts, sentiment, themes, english, strict=True)
        ]
