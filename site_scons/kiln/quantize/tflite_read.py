"""Read a .tflite flatbuffer without TensorFlow: operator list and weight sparsity."""

from __future__ import annotations

import numpy as np
import tflite

#: Operators whose input 1 is a weight kernel (counted for sparsity).
_KERNEL_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV"}
_OP_NAMES = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
_TYPE_DTYPES = {
    tflite.TensorType.FLOAT32: np.float32, tflite.TensorType.INT8: np.int8,
    tflite.TensorType.UINT8: np.uint8, tflite.TensorType.INT32: np.int32,
    tflite.TensorType.FLOAT16: np.float16, tflite.TensorType.INT16: np.int16,
}


def _op_name(model: tflite.Model, op: tflite.Operator) -> str:
    code = model.OperatorCodes(op.OpcodeIndex())
    # Newer files keep the code in BuiltinCode, old ones in the deprecated int8 field.
    builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
    return _OP_NAMES.get(builtin, f"OP_{builtin}")


def operators(tflite_bytes: bytes) -> list[str]:
    """The builtin operator names of the main subgraph, in execution order."""
    model = tflite.Model.GetRootAsModel(tflite_bytes, 0)
    graph = model.Subgraphs(0)
    return [_op_name(model, graph.Operators(i)) for i in range(graph.OperatorsLength())]


def weight_sparsity(tflite_bytes: bytes) -> float:
    """Share of exactly-zero values over all conv/depthwise/dense weight kernels.

    Quantized kernels are symmetric (zero point 0), so a zero int8 weight is a
    zero real weight and the count is the same for every variant.
    """
    model = tflite.Model.GetRootAsModel(tflite_bytes, 0)
    graph = model.Subgraphs(0)
    zeros = total = 0
    seen: set[int] = set()
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        if _op_name(model, op) not in _KERNEL_OPS or op.InputsLength() < 2:
            continue
        tensor_index = op.Inputs(1)
        if tensor_index in seen:
            continue
        seen.add(tensor_index)
        tensor = graph.Tensors(tensor_index)
        raw = model.Buffers(tensor.Buffer()).DataAsNumpy()
        if isinstance(raw, int) or tensor.Type() not in _TYPE_DTYPES:
            continue  # a kernel computed at run time (no constant buffer)
        values = np.frombuffer(raw.tobytes(), dtype=_TYPE_DTYPES[tensor.Type()])
        zeros += int(np.count_nonzero(values == 0))
        total += values.size
    return zeros / total if total else 0.0
