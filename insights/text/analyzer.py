"""One entry point: comments in, sentiment and ranked themes out.

Built once (loading the model and fitting the taxonomy take a second or two), then called with
batches of comments. Each comment is embedded once and the embedding serves sentiment and themes.

Zero-shot themes are ranked better once the analyzer has seen a sample of the comments it is
given (:mod:`insights.text.hubness`): :meth:`TextAnalyzer.adapt` shows it one, and then
:meth:`TextAnalyzer.results` scores. :meth:`TextAnalyzer.analyze` alone scores with what it has
been shown so far, nothing at first. What it has learnt is :attr:`TextAnalyzer.hub_sample`, which
another analyzer with the same taxonomy and model can carry on from (:meth:`resume_hubs`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from insights.text.encoder import SentenceEncoder, load_encoder
from insights.text.hubness import HubSample
from insights.text.language import is_english
from insights.text.sentiment import SentimentScorer
from insights.text.taxonomy import Taxonomy
from insights.text.themes import ThemeMatch, ZeroShotMatcher
from insights.text.training import LabelledComment, TrainedMatcher

if TYPE_CHECKING:
    from numpy.typing import NDArray

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


@dataclass(frozen=True, slots=True)
class PreparedComments:
    """Comments read for scoring: the text kept ("" when empty or not in English) and its
    embedding (None without the model)."""

    texts: tuple[str, ...]
    english: tuple[bool, ...]
    embeddings: NDArray[np.float32] | None

    def part(self, start: int, stop: int) -> PreparedComments:
        """The comments from ``start`` to ``stop``, for scoring a long input in chunks."""
        embeddings = self.embeddings[start:stop] if self.embeddings is not None else None
        return PreparedComments(self.texts[start:stop], self.english[start:stop], embeddings)


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
        return self.results(self.prepare(comments))

    def prepare(self, comments: Sequence[str]) -> PreparedComments:
        """The comments as the scoring reads them: language checked, embedded once."""
        english = tuple(is_english(c or "") for c in comments)
        texts = tuple(
            (c or "") if known else "" for c, known in zip(comments, english, strict=True)
        )
        embeddings = self.encoder.encode(texts) if self.encoder is not None else None
        return PreparedComments(texts, english, embeddings)

    @property
    def adapts(self) -> bool:
        """Whether :meth:`adapt` does anything: zero-shot themes with the model."""
        return isinstance(self._themes, ZeroShotMatcher) and self.encoder is not None

    def adapt(self, sample: PreparedComments) -> None:
        """Let the zero-shot themes' hub correction learn from these comments (a sample of
        those to be analysed); the first 1,000 comments shown count, later ones change nothing.
        Trained themes and the lexicon mode do not use it."""
        if isinstance(self._themes, ZeroShotMatcher) and sample.embeddings is not None:
            written = [i for i, text in enumerate(sample.texts) if text.strip()]
            self._themes.adapt(sample.embeddings[written])

    @property
    def hub_sample(self) -> HubSample | None:
        """How far the hub correction's measurement has got; None when :attr:`adapts` is false."""
        return self._themes.hub_sample if isinstance(self._themes, ZeroShotMatcher) else None

    def resume_hubs(self, sample: HubSample) -> None:
        """Carry on from a hub measurement made earlier with the same taxonomy and model (raises
        ValueError when its themes do not match)."""
        if isinstance(self._themes, ZeroShotMatcher):
            self._themes.resume_hubs(sample)

    def results(self, prepared: PreparedComments) -> list[TextResult]:
        """One result per prepared comment, in order."""
        texts, embeddings = prepared.texts, prepared.embeddings
        sentiment = self._sentiment.score(texts, embeddings)
        themes = self._themes.match(texts, embeddings)
        return [
            TextResult(round(score, 4), tuple(found) if text.strip() else (), known)
            for text, score, found, known in zip(
                texts, sentiment, themes, prepared.english, strict=True
            )
        ]
