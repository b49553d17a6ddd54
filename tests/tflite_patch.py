"""Edit a converted .tflite in place, the way real training leaves a model:
all-zero filters with zero scales, huge biases over near-zero filters,
requantization multipliers of 0.5 or more. The converter is not asked to
produce these (briefly trained test models never show them); the bytes it
wrote are changed where they lie, so the file stays a valid model that
tflite-micro runs as the oracle.

    blob = bytearray(path.read_bytes())
    w = tensor_data(blob, tensor_index, np.int8)      # a writable view
    s = tensor_scales(blob, tensor_index)              # float32 view
"""

from __future__ import annotations

import numpy as np
import tflite

# Field slots (vtable offsets) in TFLite's schema.
_BUFFER_DATA = 4          # Buffer.data
_QUANT_SCALE = 8          # QuantizationParameters.scale


def _tensor(blob: bytearray, index: int):
    model = tflite.Model.GetRootAsModel(blob, 0)
    return model, model.Subgraphs(0).Tensors(index)


def _vector(table, slot: int, blob: bytearray, dtype) -> np.ndarray:
    o = table._tab.Offset(slot)
    if not o:
        raise ValueError("the field is absent")
    start = table._tab.Vector(o)
    n = table._tab.VectorLen(o)
    width = 1 if slot == _BUFFER_DATA else np.dtype(dtype).itemsize
    view = np.frombuffer(memoryview(blob)[start:start + n * width], dtype=np.uint8)
    return view.view(dtype)


def tensor_data(blob: bytearray, index: int, dtype) -> np.ndarray:
    """A writable view of constant tensor `index`'s data (flat)."""
    model, t = _tensor(blob, index)
    return _vector(model.Buffers(t.Buffer()), _BUFFER_DATA, blob, dtype)


def tensor_scales(blob: bytearray, index: int) -> np.ndarray:
    """A writable view of tensor `index`'s quantization scales."""
    _, t = _tensor(blob, index)
    return _vector(t.Quantization(), _QUANT_SCALE, blob, np.float32)


def weighted_layers(blob: bytearray) -> list[tuple[int, int, int, int]]:
    """(input, weights, bias, output) tensor indices of every CONV_2D,
    DEPTHWISE_CONV_2D and FULLY_CONNECTED with a bias, in graph order."""
    model = tflite.Model.GetRootAsModel(blob, 0)
    sg = model.Subgraphs(0)
    names = {v: k for k, v in tflite.BuiltinOperator.__dict__.items() if not k.startswith("_")}
    out = []
    for i in range(sg.OperatorsLength()):
        op = sg.Operators(i)
        code = model.OperatorCodes(op.OpcodeIndex())
        name = names.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()))
        ins = op.InputsAsNumpy()
        if name in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED") and len(ins) > 2 and ins[2] >= 0:
            out.append((int(ins[0]), int(ins[1]), int(ins[2]), int(op.OutputsAsNumpy()[0])))
    return out


def as_trained(blob: bytes, rng: np.random.Generator) -> bytes:
    """The model with, in every weighted layer, some channels of each kind
    real training leaves: an all-zero filter with scale 0, a near-zero filter
    under a bias near the int32 limit (its output still in range), and a
    requantization multiplier between 0.5 and 4."""
    b = bytearray(blob)
    for x, w, bias, y in weighted_layers(b):
        scales = tensor_scales(b, w)
        if scales.size < 3:
            continue  # per-tensor weights: one scale for all channels
        wq = tensor_data(b, w, np.int8)
        bq = tensor_data(b, bias, np.int32)
        channels = scales.size
        # Channel c is the last axis for depthwise ([1][h][w][C]), the first otherwise.
        depthwise = _is_depthwise(b, w)
        s_in, s_out = float(tensor_scales(b, x)[0]), float(tensor_scales(b, y)[0])
        zero, huge, large = rng.choice(channels, 3, replace=False)
        _set_rows(wq, depthwise, channels, zero, 0)
        scales[zero] = 0.0
        big = int(rng.choice([-1, 1])) * int(rng.integers(1 << 30, (1 << 31) - (1 << 24)))
        bq[huge] = big
        # The output near the middle of int8: bias * s_in * s_w / s_out ~ 40.
        scales[huge] = np.float32(40.0 * s_out / (abs(big) * s_in))
        scales[large] = np.float32(rng.uniform(0.5, 4.0) * s_out / s_in)
    return bytes(b)


def _set_rows(wq: np.ndarray, depthwise: bool, channels: int, c: int, value: int) -> None:
    if depthwise:
        wq.reshape(-1, channels)[:, c] = value
    else:
        wq.reshape(channels, -1)[c] = value


def _is_depthwise(blob: bytearray, w: int) -> bool:
    _, t = _tensor(blob, w)
    shape = t.ShapeAsNumpy()
    return len(shape) == 4 and shape[0] == 1
