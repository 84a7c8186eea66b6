"""Sentiment of a comment as a number in [-1, 1].

VADER's lexicon (``compound``) always; with the sentence encoder, blended with how much closer
the comment sits to plainly positive statements than to plainly negative ones. The blend was
measured better than either alone on airline reviews and tweets (see the README's figures).
A comment without a word (emoji, an emoticon) is the lexicon's alone: the model reads such
characters as unknown tokens, and its opinion of them is noise.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from insights.text.encoder import SentenceEncoder

#: Generic statements of satisfaction and of its opposite, the poles comments are placed between.
POSITIVE = (
    "I would recommend this, it was excellent",
    "great service, very comfortable and friendly",
    "loved it, wonderful experience",
    "good value and helpful staff",
    "very happy, thank you",
)
NEGATIVE = (
    "I would not recommend this, it was terrible",
    "awful service, uncomfortable and rude",
    "hated it, worst experience ever",
    "poor value and unhelpful staff",
    "very disappointed and angry",
)
#: Weight of the embedding's opinion when it is available; the lexicon has the rest.
EMBEDDING_WEIGHT = 0.6
#: Spreads the small cosine differences over (-1, 1).
EMBEDDING_GAIN = 4.0
#: Characters that only say how the emoji before them is drawn: text or emoji presentation and
#: the five skin tones. The lexicon looks emoji up one character at a time, so a heart typed as
#: phones type it ("❤️", the heart and the emoji selector) went unread; dropped, it reads as the
#: heart it is.
PRESENTATION = (0xFE0E, 0xFE0F, *range(0x1F3FB, 0x1F400))
#: Emoji whose names carry no word the lexicon scores ("thumbs up", "pouting face": 0), or one
#: that misleads it, read as the plain word each stands for in feedback, which the lexicon scores
#: as in any sentence, its negation included ("not 👍" reads "not good"). Emoji it scores rightly
#: by their names ("angry face", "smiling face with heart-eyes") keep them.
EMOJI_WORDS = {
    "\U0001f44d": "good",  # thumbs up
    "\U0001f44e": "bad",  # thumbs down
    "\U0001f44f": "applause",  # clapping hands
    "\U0001f64c": "hooray",  # raising hands
    "\U0001f64f": "thanks",  # folded hands
    "\U0001f4aa": "strong",  # flexed biceps
    "\U0001f4af": "perfect",  # hundred points
    "\U0001f929": "excited",  # star-struck
    "\U0001f621": "angry",  # pouting face
    "\U0001f92c": "furious",  # face with symbols on mouth
    "\U0001f612": "annoyed",  # unamused face
    "\U0001f644": "annoyed",  # face with rolling eyes
    "\U0001f4a9": "crap",  # pile of poo
    "\U0001f92e": "disgusting",  # face vomiting
    "\U0001f922": "sick",  # nauseated face
    "\U0001f926": "ugh",  # person facepalming
    "\U0001f494": "heartbroken",  # broken heart: by its name, "heart" outweighed "broken"
}
#: Emoji that say praise as often as trouble in feedback ("🔥🔥🔥", "the site is on 🔥"), whose
#: names the lexicon reads as bad words ("fire", "collision"): left unread rather than negative.
UNREAD_EMOJI = ("\U0001f525", "\U0001f4a5")
#: What the lexicon is given instead of the comment's own characters.
_FOR_LEXICON = {
    **dict.fromkeys(PRESENTATION),
    **{ord(emoji): f" {word} " for emoji, word in EMOJI_WORDS.items()},
    **dict.fromkeys(map(ord, UNREAD_EMOJI), " "),
}

#: Words customers use of a product or a service that the lexicon (written for social media)
#: lacks, scored on its scale (-4 to 4) beside its own entries for kindred words: "sluggish"
#: -1.7, "confusing" -0.9, "difficult" -1.5, "inconvenient" -1.4, "broken" -2.1, "problem"
#: -1.7; "efficient" 1.8, "responsive" 1.5, "helpful" 1.8, "easy" 1.9.
FEEDBACK_WORDS = {
    "expensive": -1.3,
    "pricey": -1.1,
    "overpriced": -1.9,
    "slow": -1.3,
    "laggy": -1.6,
    "buggy": -1.9,
    "bug": -1.3,
    "bugs": -1.5,
    "glitch": -1.3,
    "glitches": -1.4,
    "issue": -0.9,
    "issues": -1.1,
    "glitchy": -1.7,
    "crashes": -1.9,
    "crashing": -1.9,
    "crashed": -1.9,
    "unresponsive": -1.8,
    "unreliable": -1.9,
    "unhelpful": -1.8,
    "unusable": -2.4,
    "clunky": -1.5,
    "cumbersome": -1.4,
    "complicated": -1.0,
    "outdated": -1.1,
    "mediocre": -1.3,
    "hassle": -1.4,
    "outage": -1.6,
    "downtime": -1.3,
    "intuitive": 1.8,
    "seamless": 1.9,
    "reliable": 1.7,
    "straightforward": 1.3,
    "user-friendly": 2.0,
    "knowledgeable": 1.7,
    "convenient": 1.5,
    "affordable": 1.5,
    "fast": 1.2,
    "quick": 1.0,
    "smooth": 1.3,
}
#: Words the lexicon scores that name a part of the service in feedback rather than a feeling:
#: "support" (+1.7) made "support never answers" read as praise.
TOPIC_WORDS = ("support",)
#: Phrases whose words mislead the lexicon, read as the plain word they mean: "could be better"
#: scored as "better" (+0.44), "nothing to improve" as a negated "improve" (-0.34).
FEEDBACK_PHRASES = (
    (
        re.compile(
            r"\b(?:(?:could|should) (?:be|have been) (?:better|improved)"
            r"|needs? (?:some |a lot of |much )?improvement|needs? to improve"
            r"|room for improvement)\b",
            re.IGNORECASE,
        ),
        "mediocre",
    ),
    (
        re.compile(r"\bnothing to (?:improve|change|complain about)\b", re.IGNORECASE),
        "no complaints",
    ),
)

#: Longest text the lexicon reads at once. Its rules look words up by their place in the text
#: (``list.index`` for every word), so its time grows with the square of a comment's length: 32,000
#: characters took 3 s and a megabyte would take about an hour. A longer comment is read in pieces
#: of whole sentences and their scores summed before the lexicon's normalisation, as it sums words.
LEXICON_PIECE_CHARS = 2_000
#: The lexicon's normalisation, ``x / sqrt(x * x + alpha)``, turns its sum of word scores into
#: ``compound``; inverted to add up the pieces of a long comment.
_LEXICON_ALPHA = 15.0
_SENTENCE_END = re.compile(r"(?<=[.!?\n])\s+")


class SentimentScorer:
    """Scores comments; built once (the lexicon and the poles are loaded at construction)."""

    def __init__(self, encoder: SentenceEncoder | None = None) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self._lexicon = SentimentIntensityAnalyzer()
        self._lexicon.lexicon.update(FEEDBACK_WORDS)
        for word in TOPIC_WORDS:
            self._lexicon.lexicon.pop(word, None)
        self._axis: NDArray[np.float32] | None = None
        if encoder is not None:
            self._axis = encoder.encode(POSITIVE).mean(axis=0) - encoder.encode(NEGATIVE).mean(
                axis=0
            )

    def score(
        self, texts: Sequence[str], embeddings: NDArray[np.float32] | None = None
    ) -> list[float]:
        """One score per text; ``embeddings`` (rows of the encoder's vectors) refine them."""
        lexical = np.array([self._lexical(t) if t.strip() else 0.0 for t in texts])
        if self._axis is None or embeddings is None:
            return [float(x) for x in lexical]
        semantic = np.tanh(EMBEDDING_GAIN * (embeddings @ self._axis))
        blended = EMBEDDING_WEIGHT * semantic + (1 - EMBEDDING_WEIGHT) * lexical
        worded = np.array([any(ch.isalpha() for ch in t) for t in texts])
        return [float(np.clip(x, -1, 1)) for x in np.where(worded, blended, lexical)]

    def _lexical(self, text: str) -> float:
        text = text.translate(_FOR_LEXICON)
        for phrase, word in FEEDBACK_PHRASES:
            text = phrase.sub(word, text)
        if len(text) <= LEXICON_PIECE_CHARS:
            return self._compound(text)
        total = 0.0
        for piece in _pieces(text, LEXICON_PIECE_CHARS):
            compound = max(-0.9999, min(0.9999, self._compound(piece)))
            total += compound * math.sqrt(_LEXICON_ALPHA / (1 - compound * compound))
        return total / math.sqrt(total * total + _LEXICON_ALPHA)

    def _compound(self, text: str) -> float:
        return float(self._lexicon.polarity_scores(text)["compound"])


def _pieces(text: str, limit: int) -> Iterator[str]:
    """``text`` in consecutive pieces of at most ``limit`` characters: whole sentences where
    they fit, else whole words, else cut."""
    piece = ""
    for sentence in _SENTENCE_END.split(text):
        while len(sentence) > limit:  # a sentence longer than a piece: at a space, else cut
            cut = sentence.rfind(" ", 0, limit) + 1 or limit
            if piece:
                yield piece
                piece = ""
            yield sentence[:cut]
            sentence = sentence[cut:]
        if piece and len(piece) + 1 + len(sentence) > limit:
            yield piece
            piece = sentence
        else:
            piece = f"{piece} {sentence}" if piece else sentence
    if piece:
        yield piece
