"""int16 (16x8) kernels and QUANTIZE / DEQUANTIZE directions (kiln.codegen.ops.int16)
against tflite-micro.

Keras models converted by the real TFLite converter in its 16x8 mode
(EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8: int16 activations,
int8 weights, int64 bias), int16 or float32 at the model's edges, calibrated
over a chosen range; compiled by Kiln for the host (sanitizer build) and run on
seeded random inputs: int16 outputs identical, float32 within 1e-5 relative.

QUANTIZE / DEQUANTIZE directions the converter never emits (uint8 <-> float32,
int8 <-> int16, int16 -> int16, uint8 -> uint8) are one-operator .tflite files
written here with TFLite's own schema, run over every input value (every
float near a rounding boundary for QUANTIZE from float32).

The fast loop (-m "not slow") checks one whole 16x8 model (every priority
operator) and the quantize models; the slow part the rest, and that every
kernel the module registers is reached.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import opmodels
import pytest
from kiln import hostcheck, oracle
from kiln import quantmath as qm
from kiln.codegen import registry
from kiln.tflite_reader import read_tflite

SAMPLES = 8
MODULE = "kiln.codegen.ops.int16"


def _L():
    return opmodels._keras().layers


def _seq(*make: Callable) -> Callable:
    """input -> make[0]() -> make[1]() ..."""
    return lambda shape: opmodels._seq(shape, *[m() for m in make])


def _mixed(shape):
    """Every priority operator in one graph: CONV_2D (fused RELU), DEPTHWISE_CONV_2D,
    ADD, MUL, SUB, TANH, LOGISTIC, MAX_POOL_2D, AVERAGE_POOL_2D, LEAKY_RELU,
    FULLY_CONNECTED and SOFTMAX."""
    k, L = opmodels._keras(), _L()
    inp = k.Input(shape=shape, batch_size=1)
    a = L.Conv2D(4, 3, padding="same", activation="relu")(inp)
    b = L.DepthwiseConv2D(3, padding="same")(a)
    c = L.Multiply()([L.Add()([a, b]), a])
    e = L.Activation("sigmoid")(L.Activation("tanh")(L.Subtract()([c, b])))
    f = L.AveragePooling2D()(L.MaxPooling2D()(e))
    f = L.Dense(5)(L.Flatten()(L.LeakyReLU(0.2)(f)))
    return k.Model(inp, L.Softmax()(f))


def _binary_chain(shape):
    """ADD, SUB, MUL, MAXIMUM and MINIMUM of activations of different scales, in one graph."""
    k, L = opmodels._keras(), _L()
    inp = k.Input(shape=shape, batch_size=1)
    a = L.Conv2D(shape[-1], 1)(inp)
    s = L.Add()([a, inp])
    m = L.Multiply()([L.Subtract()([s, a]), inp])
    return k.Model(inp, L.Minimum()([L.Maximum()([m, a]), inp]))


def _bcast_chain(shape):
    """ADD, MUL, SUB and SQUARED_DIFFERENCE against per-channel constants (broadcast
    over H and W)."""
    tf = opmodels._tf()
    c = [np.linspace(lo, hi, shape[-1]).astype(np.float32) for lo, hi in ((-0.7, 1.3), (0.2, -2), (1, 3))]
    def fn(t):
        return tf.math.squared_difference(tf.subtract(tf.multiply(tf.add(t, c[0]), c[1]), c[2]), c[0])
    return opmodels._seq(shape, _L().Conv2D(shape[-1], 1), _L().Lambda(fn))


def _movement(shape):
    """PAD, TRANSPOSE, STRIDED_SLICE, SLICE and CONCATENATION of int16 data."""
    k, L, tf = opmodels._keras(), _L(), opmodels._tf()
    inp = k.Input(shape=shape, batch_size=1)
    a = L.Permute((2, 1, 3))(L.ZeroPadding2D(((1, 2), (0, 1)))(inp))
    c = L.Lambda(lambda t: tf.slice(t[:, 1:5:2, ::2, :], [0, 0, 1, 0], [1, 2, 3, 3]))(a)
    return k.Model(inp, L.Concatenate()([c, L.Conv2D(3, 1)(c)]))


def _movement2(shape):
    """SPLIT_V, REVERSE_V2, UNPACK, PACK, SPLIT and BROADCAST_TO of int16 data."""
    tf = opmodels._tf()

    def fn(t):
        u = tf.reverse(tf.concat(tf.split(t, [1, 3, 2], axis=-1)[::-1], -1), [1])
        w = tf.stack(tf.unstack(u, axis=1)[::-1], axis=2)
        h = tf.split(w, 2, axis=1)
        return tf.concat([h[1], tf.broadcast_to(h[0][:, :1, :], [1, 2, 4])], axis=1)
    return opmodels._seq(shape, _L().Lambda(fn))


def _reductions(shape):
    """MEAN over the spatial axes, over the last axis, and SUM."""
    tf = opmodels._tf()

    def fn(t):
        centred = t - tf.reduce_mean(t, axis=[1, 2], keepdims=True)
        return tf.reduce_mean(tf.reduce_sum(centred, axis=-1), axis=-1)
    return opmodels._seq(shape, _L().Conv2D(6, 1), _L().Lambda(fn))


# (name, builder(shape), input shape, model edges "int16" or "float", calibration range, fast?)
SPECS = [
    ("mixed_s16", _mixed, (6, 6, 3), "int16", (-1.0, 1.0), True),
    # float32 edges: QUANTIZE float32 -> int16 and DEQUANTIZE int16 -> float32 around
    # strided, dilated, depth-multiplied and bias-less convolutions
    ("convs_float_io", _seq(
        lambda: _L().Conv2D(5, 3, strides=2, padding="same", activation="relu6"),
        lambda: _L().DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="relu"),
        lambda: _L().Conv2D(4, 2, dilation_rate=2, use_bias=False)), (9, 8, 3), "float",
     (-3.0, 2.0), False),
    ("fc_softmax", _seq(lambda: _L().Dense(7, activation="relu"), lambda: _L().Softmax()), (3, 100),
     "int16", (-20.0, 30.0), False),
    ("binary_chain", _binary_chain, (4, 5, 3), "int16", (-6.0, 2.0), False),
    ("bcast_chain", _bcast_chain, (3, 4, 5), "int16", (-1.0, 1.0), False),
    ("acts", _seq(lambda: _L().LeakyReLU(0.1), lambda: _L().ReLU(6.0),
                  lambda: _L().Activation("tanh"),
                  lambda: _L().Lambda(lambda t: opmodels._tf().abs(t - 0.2)), lambda: _L().ReLU(),
                  lambda: _L().Lambda(lambda t: opmodels._tf().math.rsqrt(t + 0.3))),
     (40,), "int16", (-5.0, 9.0), False),
    ("tconvs_pools", _seq(lambda: _L().Conv2DTranspose(4, 3, strides=2, padding="same"),
                          lambda: _L().Conv2DTranspose(3, 2, strides=2, use_bias=False, activation="relu"),
                          lambda: _L().MaxPooling2D(3, 2, padding="same"),
                          lambda: _L().AveragePooling2D(2, 1, padding="same"),
                          lambda: _L().UpSampling2D((2, 3))), (3, 4, 2), "int16", (-1.0, 1.0), False),
    ("movement", _movement, (6, 5, 3), "int16", (-1.0, 1.0), False),
    ("movement2", _movement2, (4, 6), "int16", (-1.0, 1.0), False),
    ("reductions", _reductions, (4, 5, 3), "int16", (-1.0, 1.0), False),
]
#: Checked over every int16 input (test_sigmoid_tables_over_every_input), not in SPECS' loop.
TABLES = [
    ("logistic_wide", _seq(lambda: _L().Activation("sigmoid")), (64,), "int16", (-12.0, 12.0), False),
    ("tanh_narrow", _seq(lambda: _L().Activation("tanh")), (64,), "int16", (-0.3, 0.2), False),
]
FAST = [s[0] for s in SPECS if s[5]]
SLOW = [s[0] for s in SPECS if not s[5]]


def convert(model, float_io: bool, lo: float, hi: float, seed: int) -> bytes:
    """The 16x8 conversion: int16 activations, int8 weights; int16 (or float32) edges."""
    import warnings

    tf = opmodels._tf()
    warnings.filterwarnings("ignore", message="Statistics for quantized inputs")
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    shape = [1] + [int(d) for d in model.input_shape[1:]]
    rng = np.random.default_rng(seed)

    def rep():
        for _ in range(24):
            yield [rng.uniform(lo, hi, shape).astype(np.float32)]

    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = rep
    conv.target_spec.supported_ops = [
        tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    if not float_io:
        conv.inference_input_type = tf.int16
        conv.inference_output_type = tf.int16
    return conv.convert()


# ---- one-operator QUANTIZE / DEQUANTIZE models ---------------------------------------

# (name, operator, input dtype, (scale, zero point) or None, output dtype, (scale, zp) or None)
QUANT_SPECS = [
    ("q_f32_s16", "QUANTIZE", "float32", None, "int16", (0.00113, 0)),
    ("q_s8_s16", "QUANTIZE", "int8", (0.021, -7), "int16", (0.000271, 0)),
    ("q_s16_s8", "QUANTIZE", "int16", (0.000173, 0), "int8", (0.0213, 5)),
    ("q_s16_s16", "QUANTIZE", "int16", (0.000173, 0), "int16", (0.000411, 0)),
    ("q_s16_s16_up", "QUANTIZE", "int16", (0.00091, 0), "int16", (0.00013, 0)),
    ("q_s8_s32", "QUANTIZE", "int8", (0.021, -7), "int32", (0.0000271, 3)),
    ("q_s16_s32", "QUANTIZE", "int16", (0.000173, 0), "int32", (0.00000411, -5)),
    ("q_s32_s8", "QUANTIZE", "int32", (0.0000173, 9), "int8", (0.0213, 5)),
    ("q_s32_s16", "QUANTIZE", "int32", (0.0000173, -4), "int16", (0.000411, 0)),
    ("dq_u8_f32", "DEQUANTIZE", "uint8", (0.0173, 117), "float32", None),
    ("dq_s16_f32", "DEQUANTIZE", "int16", (0.000377, 0), "float32", None),
]
QUANT_N = 256  # elements per sample


def quant_model(op: str, in_dtype: str, in_q, out_dtype: str, out_q, alpha: float | None = None,
                approximate: bool | None = None) -> bytes:
    """A .tflite holding one QUANTIZE or DEQUANTIZE (or another one-input operator) of a
    [1, QUANT_N] tensor; `alpha`: LEAKY_RELU's option, `approximate`: GELU's."""
    import flatbuffers
    from tensorflow.lite.python import schema_py_generated as schema

    types = {"float32": schema.TensorType.FLOAT32, "int8": schema.TensorType.INT8,
             "uint8": schema.TensorType.UINT8, "int16": schema.TensorType.INT16,
             "int32": schema.TensorType.INT32}

    def tensor(name: str, dtype: str, q, buffer: int):
        t = schema.TensorT()
        t.name, t.shape, t.type, t.buffer = name, [1, QUANT_N], types[dtype], buffer
        if q is not None:
            t.quantization = schema.QuantizationParametersT()
            t.quantization.scale, t.quantization.zeroPoint = [float(q[0])], [int(q[1])]
        return t

    code = schema.OperatorCodeT()
    code.builtinCode = getattr(schema.BuiltinOperator, op)
    code.deprecatedBuiltinCode = min(code.builtinCode, 127)  # codes past 127 live in builtinCode
    code.version = 1
    node = schema.OperatorT()
    node.opcodeIndex, node.inputs, node.outputs = 0, [0], [1]
    if alpha is not None:
        node.builtinOptionsType = schema.BuiltinOptions.LeakyReluOptions
        node.builtinOptions = schema.LeakyReluOptionsT()
        node.builtinOptions.alpha = alpha
    if approximate is not None:
        node.builtinOptionsType = schema.BuiltinOptions.GeluOptions
        node.builtinOptions = schema.GeluOptionsT()
        node.builtinOptions.approximate = approximate
    graph = schema.SubGraphT()
    graph.tensors = [tensor("x", in_dtype, in_q, 1), tensor("y", out_dtype, out_q, 2)]
    graph.inputs, graph.outputs, graph.operators, graph.name = [0], [1], [node], "main"
    model = schema.ModelT()
    model.version, model.description = 3, "kiln test: one quantize operator"
    model.operatorCodes, model.subgraphs = [code], [graph]
    model.buffers = [schema.BufferT() for _ in range(3)]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def quant_inputs(in_dtype: str, out_q) -> np.ndarray:
    """Every value of an integer input type (int16 over 256 samples); for float32,
    values on and just beside each rounding boundary (q + 1/2) * scale across and
    beyond the output range, plus NaN-free random values."""
    if in_dtype == "int32":  # too many to enumerate: the whole range and small values
        rng = np.random.default_rng(5)
        wide = rng.integers(-(1 << 31), 1 << 31, (8, QUANT_N))
        return np.concatenate([wide, wide >> 10, wide >> 20]).astype(np.int32)
    if in_dtype != "float32":
        info = np.iinfo(in_dtype)
        vals = np.arange(int(info.min), int(info.max) + 1)
        return np.resize(vals, (max(1, vals.size // QUANT_N), QUANT_N)).astype(in_dtype)
    scale, zp = out_q
    rng = np.random.default_rng(7)
    q = rng.integers(-40000, 40000, 8 * QUANT_N)
    edges = ((q - zp) + 0.5).astype(np.float32) * np.float32(scale)
    nudged = np.concatenate([edges, np.nextafter(edges, np.float32(np.inf)),
                             np.nextafter(edges, np.float32(-np.inf)),
                             rng.uniform(-50, 50, 8 * QUANT_N).astype(np.float32)])
    return nudged.astype(np.float32).reshape(-1, QUANT_N)


# ---- fixtures and checks -------------------------------------------------------------

class Converted:
    """The suite's models, each converted (or written) on first use."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.paths = folder, {}
        self.specs = {s[0]: s for s in SPECS + TABLES}
        self.quant = {s[0]: s for s in QUANT_SPECS}

    def __getitem__(self, name: str) -> Path:
        """The .tflite of spec `name`."""
        if name not in self.paths:
            path = self.folder / f"{name}.tflite"
            if name in self.quant:
                _, op, idt, iq, odt, oq = self.quant[name]
                path.write_bytes(quant_model(op, idt, iq, odt, oq))
            else:
                _, builder, shape, edges, (lo, hi), _ = self.specs[name]
                seed = zlib.crc32(name.encode()) % 1000
                model = opmodels.build(lambda: builder(shape), seed)
                path.write_bytes(convert(model, edges == "float", lo, hi, seed))
            self.paths[name] = path
        return self.paths[name]


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> Converted:
    """One converter cache for the whole file: TensorFlow loads once."""
    return Converted(tmp_path_factory.mktemp("ops_int16"))


def _ours() -> list[registry.KernelImpl]:
    return [k for k in registry.entries("portable") if k.build.__module__ == MODULE]


def run_host(path: Path, xs: np.ndarray,
             kernels: str = "portable") -> tuple[hostcheck.HostCheckResult, set[str]]:
    """Kiln's sanitizer build (`kernels`) and tflite-micro on the same inputs; the set of
    kernel functions the model used."""
    hm = hostcheck.HostModel(path, kernels=kernels, sanitize=True)
    try:
        used = {layer.kernel for layer in hm.model.layers}
        got = hm.invoke_many(xs)
    finally:
        hm.close()
    ref = oracle.reference_outputs(path, xs)
    assert len(np.unique(ref)) > 2, f"degenerate reference output {np.unique(ref)}"
    return hostcheck.compare(path.stem, got, ref), used


def _check(converted: Converted, name: str) -> None:
    """Seeded inputs over the calibration range (and, for int16 edges, over the whole
    int16 range): int16 outputs identical, float32 within 1e-5 relative."""
    path = converted[name]
    _, _, shape, edges, (lo, hi), _ = converted.specs[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()) % 1000)
    xs = rng.uniform(lo, hi, (SAMPLES, 1, *shape)).astype(np.float32)
    if edges == "int16":
        graph = read_tflite(path)
        scale, zp = graph.tensors[graph.inputs[0]].qparams()
        xs = qm.quantize(xs, scale, zp, "int16")
        xs[: SAMPLES // 4] = rng.integers(-32768, 32768, xs[: SAMPLES // 4].shape)
    res, used = run_host(path, xs)
    assert res.dtype == ("int16" if edges == "int16" else "float32")
    assert res.ok, res.summary()
    assert used & {k.func for k in _ours()}, f"{name} runs none of this module's kernels: {sorted(used)}"


def _check_quant(converted: Converted, name: str) -> None:
    _, _, idt, _, odt, oq = converted.quant[name]
    res, used = run_host(converted[name], quant_inputs(idt, oq))
    assert res.ok and res.identical_values == res.total_values, res.summary()
    assert used & {k.func for k in _ours()}, f"{name} runs none of this module's kernels: {sorted(used)}"


@pytest.mark.parametrize("name", FAST)
def test_int16_fast(converted: Converted, name: str) -> None:
    _check(converted, name)


@pytest.mark.parametrize("name", [s[0] for s in QUANT_SPECS])
def test_quantize_directions(converted: Converted, name: str) -> None:
    _check_quant(converted, name)


@pytest.mark.slow
@pytest.mark.parametrize("name", SLOW)
def test_int16(converted: Converted, name: str) -> None:
    _check(converted, name)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["logistic_wide", "tanh_narrow"])
def test_sigmoid_tables_over_every_input(converted: Converted, name: str) -> None:
    """LOGISTIC and TANH on all 65,536 int16 inputs: every table segment and every
    interpolation step."""
    path = converted[name]
    graph = read_tflite(path)
    n = int(np.prod(graph.tensors[graph.inputs[0]].shape))
    xs = np.resize(np.arange(-32768, 32768), (65536 // n + 1, n)).astype(np.int16)
    res, _ = run_host(path, xs)
    assert res.ok and res.identical_values == res.total_values, res.summary()


@pytest.mark.slow
def test_every_int16_kernel_is_selected(converted: Converted) -> None:
    """The models reach every (operator, dtype, kernel) this module registers
    (the global coverage tests skip the kiln.codegen.ops package)."""
    reached = set()
    for name in FAST + SLOW + [s[0] for s in TABLES + QUANT_SPECS]:
        graph = read_tflite(converted[name])
        for op in graph.ops:
            impl = registry.select(graph, op)
            reached.add((impl.op, impl.dtype, impl.func))
    missing = {(k.op, k.dtype, k.func) for k in _ours()} - reached
    assert not missing, f"registered but reached by no model: {sorted(missing)}"


def _edit_biases(blob: bytes, how: str) -> bytes:
    """The .tflite with every CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED bias dropped
    (how="drop") or its FULLY_CONNECTED biases stored as int32 (how="int32"): forms
    the converter never writes but tflite-micro runs."""
    import flatbuffers
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(blob, 0))
    ops = schema.BuiltinOperator
    weighted = {ops.CONV_2D, ops.DEPTHWISE_CONV_2D, ops.FULLY_CONNECTED}
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in model.operatorCodes]
    for node in model.subgraphs[0].operators:
        code = codes[node.opcodeIndex]
        if code not in weighted or len(node.inputs) < 3:
            continue
        if how == "drop":
            node.inputs = list(node.inputs)[:2]
        elif code == ops.FULLY_CONNECTED:
            t = model.subgraphs[0].tensors[node.inputs[2]]
            buf = model.buffers[t.buffer]
            vals = np.frombuffer(bytes(bytearray(buf.data)), dtype=np.int64)
            buf.data = np.frombuffer(vals.astype(np.int32).tobytes(), dtype=np.uint8)
            t.type = schema.TensorType.INT32
    builder = flatbuffers.Builder(len(blob) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


@pytest.mark.slow
@pytest.mark.parametrize("name,how", [("mixed_s16", "drop"), ("fc_softmax", "int32")])
def test_bias_forms(converted: Converted, name: str, how: str, tmp_path: Path) -> None:
    """No bias: tflite-micro's int64 arithmetic; an int32 FULLY_CONNECTED bias: its
    int32 accumulator. Both identical to tflite-micro."""
    path = tmp_path / f"{name}_{how}.tflite"
    path.write_bytes(_edit_biases(converted[name].read_bytes(), how))
    _, _, shape, edges, (lo, hi), _ = converted.specs[name]
    xs = np.random.default_rng(3).uniform(lo, hi, (SAMPLES, 1, *shape)).astype(np.float32)
    if edges == "int16":
        graph = read_tflite(path)
        xs = qm.quantize(xs, *graph.tensors[graph.inputs[0]].qparams(), "int16")
    res, _ = run_host(path, xs)
    assert res.ok, res.summary()


def test_refusals_are_clear(tmp_path: Path) -> None:
    """A direction tflite-micro does not run either (int16 -> uint8) is refused with
    the operator and the dtypes, not a traceback."""
    from kiln.codegen import compile_model
    from kiln.errors import KilnError

    bad = tmp_path / "s16_u8.tflite"
    bad.write_bytes(quant_model("QUANTIZE", "int16", (0.001, 0), "uint8", (0.002, 128)))
    with pytest.raises(KilnError, match="QUANTIZE with int16->uint8"):
        compile_model(bad)
