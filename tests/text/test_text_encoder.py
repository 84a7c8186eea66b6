"""The encoder's batching: each distinct comment through the model once, blanks never."""

from __future__ import annotations

from typing import Any

import numpy as np

from insights.text.encoder import SentenceEncoder


class _CountingSession:
    """The encoder's own session, counting the comments (rows) it is given."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.rows = 0

    def run(self, outputs: Any, feeds: dict[str, Any]) -> Any:
        self.rows += len(feeds["input_ids"])
        return self.session.run(outputs, feeds)


def test_repeated_comments_are_embedded_once_and_blanks_not_at_all(
    encoder: SentenceEncoder,
) -> None:
    comments = ["Great", "", "Slow support", "  ", "Great", "Great", "Slow support", "\n"]
    counting = _CountingSession(encoder._session)
    session, encoder._session = encoder._session, counting
    try:
        rows = encoder.encode(comments)
    finally:
        encoder._session = session
    assert counting.rows == 2
    np.testing.assert_array_equal(rows[0], rows[4])
    np.testing.assert_array_equal(rows[2], rows[6])
    np.testing.assert_allclose(rows[0], encoder.encode(["Great"])[0], atol=1e-6)
    assert np.all(rows[[1, 3, 7]] == 0.0)
    assert np.allclose(np.linalg.norm(rows[[0, 2, 4, 5, 6]], axis=1), 1.0, atol=1e-5)


def test_nothing_but_blanks_needs_no_model(encoder: SentenceEncoder) -> None:
    counting = _CountingSession(encoder._session)
    session, encoder._session = encoder._session, counting
    try:
        rows = encoder.encode(["", " "])
        none = encoder.encode([])
    finally:
        encoder._session = session
    assert counting.rows == 0
    assert rows.shape == (2, 384)
    assert not rows.any()
    assert none.shape == (0, 384)
