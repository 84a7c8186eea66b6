"""Long comments: the lexicon reads them in pieces, in time that grows with their length."""

from __future__ import annotations

import time

import pytest

from insights.text.sentiment import LEXICON_PIECE_CHARS, SentimentScorer

BAD = "The invoice was wrong again and support was slow to answer. "
GOOD = "The onboarding team was wonderful and the product is great! "


@pytest.mark.parametrize(
    "comment",
    [
        BAD * 60,
        GOOD * 60,
        BAD * 40 + GOOD * 40,
        GOOD * 70 + BAD * 10,
        ("word " * 900) + BAD,  # one sentence longer than a piece
    ],
    ids=["complaint", "praise", "mixed", "mostly-praise", "one-long-sentence"],
)
def test_a_long_comment_scores_as_the_lexicon_scores_it_whole(comment: str) -> None:
    assert len(comment) > LEXICON_PIECE_CHARS
    scorer = SentimentScorer()
    [pieces] = scorer.score([comment])
    whole = scorer._compound(comment)
    assert pieces == pytest.approx(whole, abs=0.01)


def test_a_very_long_comment_takes_time_in_proportion_to_its_length() -> None:
    scorer = SentimentScorer()
    started = time.process_time()
    [score] = scorer.score([BAD * 4_000])  # 240,000 characters: about two minutes read whole
    assert time.process_time() - started < 10
    assert score < -0.9
