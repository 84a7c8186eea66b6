"""The packaged model's GELU and attention written as onnxruntime's own fused operators.

The file spells each layer's GELU out in five element-wise steps (``x / sqrt 2``, ``Erf``, ``+ 1``,
``* 0.5``, ``* x``), each a pass over the 1,536-wide activations, and its attention in about
twenty (reshapes and transposes per head, the scaling of queries and keys, the mask as a bias, a
guard against rows with every key masked); onnxruntime does not recognise them once the products
are integer ones (:mod:`insights.text.integer_model`). Written as ``Gelu`` (onnxruntime then adds
the bias in the same pass: ``BiasGelu``) and ``MultiHeadAttention``, one core embeds about 5%
more comments a second, with embeddings within a cosine of 0.996 of the unfused graph's (0.9998
on average; the integer rounding of a token can land on the other side of a step).

Both rewrites match the file's layers by the names of their weights and the shape of their
steps; the file is checked against its digest before, so a layer that does not match is a bug
here, and is left as it was.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

#: The domain of onnxruntime's own operators, part of every CPU build.
CONTRIB = "com.microsoft"
#: The attention's heads (all-MiniLM-L6-v2: 384 dimensions, 12 heads of 32).
HEADS = 12
_LAYER = "inner.encoder.layer.{}.attention."
_MASK = "attention_mask"
#: Float and integer tensor types (ONNX's TensorProto codes), those a scale can be.
_NUMBERS = frozenset({1, 2, 3, 4, 5, 6, 7, 10, 11, 12, 13})


def fused_operators(model_bytes: bytes) -> tuple[bytes, int, int]:
    """The model with its GELUs and attentions fused, and how many of each."""
    import onnx

    model = onnx.load_model_from_string(model_bytes)
    graph = model.graph
    gelus = _fuse_gelus(graph)
    attentions = _fuse_attentions(graph)
    if gelus or attentions:
        _drop_unused(graph)
    if (gelus or attentions) and all(o.domain != CONTRIB for o in model.opset_import):
        model.opset_import.append(onnx.helper.make_opsetid(CONTRIB, 1))
    return model.SerializeToString(), gelus, attentions


def _users(graph: Any) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = defaultdict(list)
    for node in graph.node:
        for name in node.input:
            found[name].append(node)
    return found


def _only_user(users: dict[str, list[Any]], name: str, op_type: str) -> Any | None:
    found = users.get(name, [])
    return found[0] if len(found) == 1 and found[0].op_type == op_type else None


def _fuse_gelus(graph: Any) -> int:
    """``Div(x, sqrt 2) -> Erf -> Add 1 -> Mul 0.5 -> Mul x`` becomes ``Gelu(x)``."""
    from onnx import helper

    producer = {output: node for node in graph.node for output in node.output}
    users = _users(graph)
    constants = _scalars(graph)
    replaced: dict[str, Any] = {}
    folded: set[str] = set()
    for erf in [node for node in graph.node if node.op_type == "Erf"]:
        divide = producer.get(erf.input[0])
        plus_one = _only_user(users, erf.output[0], "Add")
        half = _only_user(users, plus_one.output[0], "Mul") if plus_one is not None else None
        times_x = _only_user(users, half.output[0], "Mul") if half is not None else None
        if divide is None or divide.op_type != "Div" or plus_one is None or half is None:
            continue
        if times_x is None:
            continue
        if len(users[divide.output[0]]) != 1 or divide.input[0] not in times_x.input:
            continue
        steps = ((divide, 2.0**0.5), (plus_one, 1.0), (half, 0.5))
        if not all(_by(step, value, constants) for step, value in steps):
            continue
        folded |= {divide.output[0], erf.output[0], plus_one.output[0], half.output[0]}
        replaced[times_x.output[0]] = helper.make_node(
            "Gelu", [divide.input[0]], [times_x.output[0]], domain=CONTRIB
        )
    _rewrite(graph, replaced, folded)
    return len(replaced)


def _scalars(graph: Any) -> dict[str, float]:
    """The graph's one-number constants, weights or ``Constant`` nodes, by name."""
    from onnx import numpy_helper

    tensors = {t.name: t for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            tensors[node.output[0]] = node.attribute[0].t
    return {
        name: float(numpy_helper.to_array(t).reshape(-1)[0])
        for name, t in tensors.items()
        if int(np.prod(t.dims)) == 1 and t.data_type in _NUMBERS
    }


def _by(step: Any, value: float, constants: dict[str, float]) -> bool:
    """Whether ``step``'s other operand is the constant ``value``."""
    return any(abs(constants.get(name, float("nan")) - value) < 1e-6 for name in step.input)


def _fuse_attentions(graph: Any) -> int:
    """Each layer's attention, from its query, key and value products (before their biases) to
    the heads' outputs joined again, becomes one ``MultiHeadAttention`` with the three biases
    and the comments' padding as its key mask."""
    from onnx import TensorProto, helper, numpy_helper

    weights = {t.name: t for t in graph.initializer}
    biased = {
        node.input[1]: node
        for node in graph.node
        if node.op_type == "Add" and len(node.input) == 2 and node.input[1] in weights
    }
    producer = {output: node for node in graph.node for output in node.output}
    replaced: dict[str, Any] = {}
    layer = 0
    while (prefix := _LAYER.format(layer)) + "self.query.bias" in biased:
        named = [biased.get(f"{prefix}self.{part}.bias") for part in ("query", "key", "value")]
        parts = [p for p in named if p is not None]
        products = [producer.get(p.input[0]) for p in parts]
        matmuls = [q for q in products if q is not None and q.op_type == "MatMul"]
        output = biased.get(f"{prefix}output.dense.bias")
        product = producer.get(output.input[0]) if output is not None else None
        if len(matmuls) != 3 or len({q.input[0] for q in matmuls}) != 1:
            break  # not three products of one input with their biases: left as it is
        if product is None or product.op_type != "MatMul":
            break
        bias = np.concatenate([numpy_helper.to_array(weights[p.input[1]]) for p in parts])
        graph.initializer.append(numpy_helper.from_array(bias, f"{prefix}qkv.bias"))
        heads = product.input[0]  # the heads' outputs, joined: what the output product reads
        replaced[heads] = helper.make_node(
            "MultiHeadAttention",
            [*(p.input[0] for p in parts), f"{prefix}qkv.bias", f"{_MASK}_int32"],
            [heads],
            domain=CONTRIB,
            num_heads=HEADS,
        )
        layer += 1
    if replaced:
        cast = helper.make_node("Cast", [_MASK], [f"{_MASK}_int32"], to=TensorProto.INT32)
        graph.node.insert(0, cast)
    _rewrite(graph, replaced, set())
    return len(replaced)


def _rewrite(graph: Any, replaced: dict[str, Any], folded: set[str]) -> None:
    nodes = [replaced.get(n.output[0], n) for n in graph.node if n.output[0] not in folded]
    del graph.node[:]
    graph.node.extend(nodes)


def _drop_unused(graph: Any) -> None:
    """Nodes and weights no graph output depends on any longer (the attention's old steps)."""
    needed = {output.name for output in graph.output}
    kept: list[Any] = []
    for node in reversed(graph.node):
        if any(output in needed for output in node.output):
            kept.append(node)
            needed.update(node.input)
    del graph.node[:]
    graph.node.extend(reversed(kept))
    live = [t for t in graph.initializer if t.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(live)
