"""The elementwise family (kiln.codegen.ops.elementwise) against tflite-micro.

Small models built from TensorFlow ops in a Keras Lambda, converted by the
real TFLiteConverter (full int8 with a representative dataset, float32, and
int32 models for the integer comparisons), compiled by Kiln for the host
(the sanitizer build) and compared with tflite-micro on seeded random
inputs: int8 and int32 outputs identical, float32 within 1e-5 relative.

Comparisons and logical operators produce bool tensors; the models end in
SELECT_V2 so that their outputs are numbers (a bool output has only two
values, which the checks reject as degenerate).

The fast part is a few combined models that reach every kernel of the
module; the slow part randomizes shapes, broadcasting patterns and
quantization ranges (tiny and huge scales, so multipliers with large
right shifts and left shifts occur) per operator.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import opmodels
import pytest
from kiln.codegen.registry import entries, select
from kiln.tflite_reader import read_tflite

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

MODULE = "kiln.codegen.ops.elementwise"
SAMPLES = 24
#: (name, kind: "int8" | "float32" | "int32", input shape, function of the input tensor)
Spec = tuple[str, str, tuple[int, ...], Callable]


def _tf():
    import tensorflow
    return tensorflow


def _model(kind: str, shape: tuple[int, ...], fn: Callable):
    import tf_keras as k
    inp = k.Input(shape=shape, batch_size=1, dtype="int32" if kind == "int32" else "float32")
    return k.Model(inp, k.layers.Lambda(fn)(inp))


#: Models whose EQUAL operators become NOT_EQUAL after conversion: the
#: converter never quantizes NOT_EQUAL (it keeps it in float between a
#: DEQUANTIZE and the consumer), but tflite-micro runs it on int8 like EQUAL.
TO_NOT_EQUAL = ("fast_not_equal_s8", "ne_int8_")


def _equal_to_not_equal(blob: bytes) -> bytes:
    """The .tflite with its EQUAL operator code changed into NOT_EQUAL."""
    import flatbuffers
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(blob, 0))
    ops = schema.BuiltinOperator
    for code in model.operatorCodes:
        if max(code.builtinCode, code.deprecatedBuiltinCode) == ops.EQUAL:
            code.builtinCode = code.deprecatedBuiltinCode = ops.NOT_EQUAL
    builder = flatbuffers.Builder(len(blob) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _convert(spec: Spec, seed: int, path: Path) -> Path:
    name, kind, shape, fn = spec
    blob = opmodels.convert(_model(kind, shape, fn), int8=kind == "int8", seed=seed)
    if name.startswith(TO_NOT_EQUAL):
        blob = _equal_to_not_equal(blob)
    path.write_bytes(blob)
    return path


def _f(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float32)


def _pos(t, eps: float = 0.25):
    """A strictly positive version of t (SQRT, LOG, RSQRT, DIV's divisor)."""
    return _tf().abs(t) + eps


# ---- the fast part: every kernel in a few models --------------------------------------

def fast_specs() -> list[Spec]:
    """Combined models: together they select every kernel the module registers."""
    tf = _tf()
    rng = np.random.default_rng(7)
    c4 = _f(rng.uniform(-1, 1, (1, 1, 4)))
    c34 = _f(rng.uniform(-1, 1, (3, 1, 4)))

    def binary(x):
        a = x - c4                                   # SUB, broadcast constant
        b = tf.math.squared_difference(x, c34)       # SQUARED_DIFFERENCE
        c = tf.maximum(a, c34)                       # MAXIMUM
        d = tf.minimum(b, x)                         # MINIMUM
        return tf.concat([a, b, c, d], axis=-1)

    def binary_div(x):
        return tf.concat([binary(x), x / _pos(c34 * x)], axis=-1)  # DIV

    def unary(x):
        parts = [tf.abs(x), -x, tf.square(x), tf.sqrt(_pos(x)), tf.math.rsqrt(_pos(x)),
                 tf.exp(x), tf.math.log(_pos(x)), tf.floor(x * 3.0), tf.round(x * 3.0)]
        return tf.concat(parts, axis=-1)

    def compare(x, c, c2, alt):
        # one constant per comparison: the quantizer leaves a comparison whose
        # constant another one already uses in float
        lt, le, gt = x < c, x <= c2, x > c * 0.75 + 0.1
        ge, eq, ne = x >= c * 0.5 - 0.1, tf.equal(x, c * 0.25), tf.not_equal(x, c * -0.5)
        keep = tf.logical_or(tf.logical_and(lt, tf.logical_not(tf.logical_and(le, gt))), eq)
        keep = tf.logical_or(keep, tf.logical_and(ge, ne))
        # SELECT_V2 (alt broadcasts); tflite-micro selects no int32: take floats then
        return tf.where(keep, x if x.dtype == tf.float32 else alt * 2.0, alt)

    ci = np.asarray(rng.integers(-(1 << 30), 1 << 30, (1, 1, 4)), dtype=np.int32)
    return [
        ("fast_binary_s8", "int8", (3, 5, 4), binary_div),
        ("fast_binary_f32", "float32", (3, 5, 4), binary_div),
        ("fast_abs_s8", "int8", (4, 6), lambda x: tf.abs(x - 0.3)),
        ("fast_rsqrt_s8", "int8", (4, 6), lambda x: tf.math.rsqrt(_pos(x, 0.1))),
        ("fast_unary_f32", "float32", (2, 3, 4), unary),
        ("fast_compare_s8", "int8", (3, 5, 4), lambda x: compare(x, c4, c4 * 0.5, c4 * 0.5)),
        ("fast_not_equal_s8", "int8", (3, 4), lambda x: tf.where(tf.equal(x, c4[0] * 0.3), x, c4[0])),
        ("fast_compare_f32", "float32", (3, 5, 4), lambda x: compare(x, c4, c4 * 0.5, c4 * 0.5)),
        ("fast_compare_s32", "int32", (3, 4), lambda x: compare(x, ci[0], ci[0] * 2, c4[0])),
    ]


# ---- the slow part: randomized per operator ---------------------------------------------

def _shapes(rng: np.random.Generator, rank: int | None = None) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """An input shape (rank 1-3 after the batch) and a shape broadcasting against it."""
    rank = rank or int(rng.integers(1, 4))
    shape = tuple(int(d) for d in rng.integers(2, 6, rank))
    other = tuple(1 if rng.random() < 0.5 else d for d in shape)
    return shape, other[int(rng.integers(0, rank)):]   # drop leading dims sometimes


def _range(rng: np.random.Generator) -> float:
    """A value range: tiny, ordinary or huge (quantization scales follow it)."""
    return float(rng.choice([1e-3, 0.05, 1.0, 8.0, 300.0]))


def _binary_fn(fn: Callable, pattern: int, ra: float, rb: float, const: np.ndarray) -> Callable:
    tf = _tf()
    if pattern == 0:     # input against a broadcast constant
        return lambda x: fn(x * ra, const)
    if pattern == 1:     # constant first
        return lambda x: fn(const, x * ra)
    if pattern == 2 and fn in (tf.maximum, tf.minimum):
        # MAXIMUM/MINIMUM give their inputs the output's parameters; a MEAN with
        # equal input and output parameters is off by one in Kiln (kiln_mean_s8
        # truncates where tflite-micro rounds): keep it out of these models
        return lambda x: fn(x * ra, x * (ra * 0.5) + const)
    if pattern == 2:     # two activations, one a spatial mean (4-D NHWC: Kiln's MEAN)
        return lambda x: fn(x * ra, tf.reduce_mean(x * rb, axis=[1, 2], keepdims=True))
    return lambda x: fn(x * ra, x * (ra * 0.5) + ra * 0.1)  # two activations, one shape


def _compare_fn(fn: Callable, ra: float, const: np.ndarray, alt: np.ndarray, equality: bool) -> Callable:
    tf = _tf()
    if equality:  # against max(x, c): equal where x >= c, so both outcomes occur
        return lambda x: tf.where(fn(x * ra, tf.maximum(x * ra, const)), x, alt)
    return lambda x: tf.where(fn(x * ra, const), x, alt)


def _compare_int32_fn(fn: Callable, const: np.ndarray, values: np.ndarray) -> Callable:
    return lambda x: _tf().where(fn(x, const), values, -values)


def _abs_fn(ra: float, off: float) -> Callable:
    return lambda x: _tf().abs(x * ra - off)


def _unary_fn(ra: float) -> Callable:
    tf = _tf()
    return lambda x: tf.concat(
        [tf.abs(x * ra), -x, tf.square(x * ra), tf.sqrt(_pos(x * ra, 1e-3)),
         tf.math.rsqrt(_pos(x * ra, 1e-3)), tf.exp(x * min(ra, 8.0)),
         tf.math.log(_pos(x * ra, 1e-3)), tf.floor(x * ra), tf.round(x * ra)], axis=-1)


def _rsqrt_fn(ra: float, eps: float) -> Callable:
    # a non-negative input: tflite-micro refuses int8 RSQRT inputs below the zero point
    return lambda x: _tf().math.rsqrt(_pos(x * ra, eps))


def _logical_fn(c1: np.ndarray, c2: np.ndarray) -> Callable:
    tf = _tf()
    return lambda x: tf.where(tf.logical_or(tf.logical_and(x > c1, x < c2),
                                            tf.logical_not(tf.logical_or(x > c2, x < -c1))), x, c2)


def _rank5_fn(fn: Callable) -> Callable:
    """fn on the (1, 6, 2, 4) input seen as (1, 2, 3, 2, 4) (RESHAPE is storage only)."""
    tf = _tf()
    return lambda x: tf.reshape(fn(tf.reshape(x, (1, 2, 3, 2, 4))), (1, 6, 2, 4))


def _act_fn(fn: Callable, act: Callable) -> Callable:
    return lambda x: act(fn(x))


def slow_specs() -> list[Spec]:
    """Per operator and dtype, several random models."""
    tf = _tf()
    specs: list[Spec] = []
    rng = np.random.default_rng(2024)
    binaries = {"sub": lambda a, b: a - b, "sqdiff": tf.math.squared_difference,
                "max": tf.maximum, "min": tf.minimum, "div": lambda a, b: a / _pos(b)}
    comparisons = {"eq": tf.equal, "ne": tf.not_equal, "lt": tf.less, "le": tf.less_equal,
                   "gt": tf.greater, "ge": tf.greater_equal}
    for kind in ("int8", "float32"):
        for k, (op, fn) in enumerate(binaries.items()):
            for i in range(3):
                pattern = (i + k) % 4
                shape, other = _shapes(rng, rank=3 if pattern == 2 else None)
                ra, rb = _range(rng), _range(rng)
                if op in ("max", "min"):  # both sides must overlap, or one always wins
                    rb = ra
                const = _f(rng.uniform(-rb, rb, other))
                specs.append((f"{op}_{kind}_{i}_{list(shape)}", kind, shape,
                              _binary_fn(fn, pattern, ra, rb, const)))
        for op, fn in comparisons.items():
            for i in range(2 if kind == "int8" else 1):
                shape, other = _shapes(rng)
                # int8 comparisons need scales below 1: ranges up to 8
                ra = _range(rng) if kind == "float32" else min(_range(rng), 8.0)
                # constants inside the values' range, so both outcomes occur
                const = _f(rng.uniform(-ra / 2, ra / 2, other))
                alt = _f(rng.uniform(-1, 1, shape))
                # int8 NOT_EQUAL: converted as EQUAL, then retargeted (TO_NOT_EQUAL)
                cmp = tf.equal if op == "ne" and kind == "int8" else fn
                specs.append((f"{op}_{kind}_{i}_{list(shape)}", kind, shape,
                              _compare_fn(cmp, ra, const, alt, op in ("eq", "ne"))))
    for i in range(3):
        shape, other = _shapes(rng)
        ra = _range(rng)
        specs.append((f"abs_int8_{i}", "int8", shape, _abs_fn(ra, float(rng.uniform(-1, 1)) * ra)))
        specs.append((f"unary_float32_{i}", "float32", shape, _unary_fn(ra)))
        eps = float(rng.choice([1e-4, 0.1, 1.0])) * ra
        specs.append((f"rsqrt_int8_{i}", "int8", shape, _rsqrt_fn(ra, eps)))
    for op in ("lt", "eq", "ge"):  # int32 (the fast part has all six)
        shape, other = _shapes(rng)
        # full-range constants, and small ones that the small inputs meet (EQUAL)
        ci = np.asarray(rng.integers(-(1 << 31), 1 << 31, other) if op != "eq" else
                        rng.integers(-3, 3, other), dtype=np.int32)
        values = _f(rng.uniform(-1, 1, shape))
        specs.append((f"{op}_int32", "int32", shape, _compare_int32_fn(comparisons[op], ci, values)))
    for kind in ("int8", "float32"):  # fused activations (the converter folds RELU, RELU6)
        shape, other = _shapes(rng)
        c = _f(rng.uniform(-1, 1, other))
        specs.append((f"sub_relu_{kind}", kind, shape, _act_fn(lambda x, c=c: x - c, tf.nn.relu)))
        specs.append((f"sub_relu6_{kind}", kind, shape, _act_fn(lambda x, c=c: x * 5.0 - c, tf.nn.relu6)))
        cf = _f(rng.uniform(-1, 1, shape))  # full shape: both signs occur
        specs.append((f"div_relu_{kind}", kind, shape, _act_fn(lambda x, c=cf: c / _pos(x), tf.nn.relu)))
    for kind in ("int8", "float32"):  # rank 5 inside the model (its interface stops at 4)
        c5 = _f(rng.uniform(-1, 1, (3, 1, 4)))
        c5b = _f(rng.uniform(-1, 1, (2, 1, 2, 1)))
        specs.append((f"rank5_sub_{kind}", kind, (6, 2, 4), _rank5_fn(lambda t, c=c5: t - c)))
        specs.append((f"rank5_lt_{kind}", kind, (6, 2, 4),
                      _rank5_fn(lambda t, c=c5, d=c5b: tf.where(t < c, t, d))))
    for i, kind in enumerate(("int8", "float32")):
        shape, other = _shapes(rng)
        c1, c2 = _f(rng.uniform(-1, 1, other)), _f(rng.uniform(-1, 1, shape[-1:]))
        specs.append((f"logical_{kind}_{i}", kind, shape, _logical_fn(c1, c2)))
    return specs


FAST = fast_specs()
SLOW = slow_specs()


def _convert_all(specs: list[Spec], out: Path) -> dict[str, Path]:
    return {s[0]: _convert(s, zlib.crc32(s[0].encode()) % 1000, out / f"{s[0]}.tflite") for s in specs}


@pytest.fixture(scope="module")
def fast_models(tmp_path_factory) -> dict[str, Path]:
    """The fast models, converted once (TensorFlow loads once)."""
    return _convert_all(FAST, tmp_path_factory.mktemp("ew_fast"))


@pytest.fixture(scope="module")
def slow_models(tmp_path_factory) -> dict[str, Path]:
    """The randomized models, converted once."""
    return _convert_all(SLOW, tmp_path_factory.mktemp("ew_slow"))


def _check_int32(path: Path) -> None:
    """Models with an int32 input: Kiln's model interface takes int8, uint8 and
    float32 only, so the generated layers run through the kernel harness of
    tests/test_kernels.py (every step in order on the planned arena) and the
    output is compared with tflite-micro's."""
    from kiln import oracle
    from test_kernels import Generated

    graph = read_tflite(path)
    rng = np.random.default_rng(zlib.crc32(path.stem.encode()))
    x_t, y_t = graph.inputs[0], graph.outputs[0]
    xs = rng.integers(-(1 << 31), 1 << 31, (SAMPLES, *graph.tensors[x_t].shape), dtype=np.int64)
    xs = xs.astype(np.int32)
    xs[:, ..., :1] = rng.integers(-3, 3, xs[:, ..., :1].shape)  # small values too
    gen = Generated(graph, "portable", path.parent / f"{path.stem}_layers")
    got = []
    for x in xs:
        gen.write(x_t, x)
        for step in range(len(graph.ops)):
            gen.lib.kh_step(step)
        got.append(gen.read(y_t))
    ref = oracle.reference_outputs(path, xs, graph)
    assert len(np.unique(ref)) > 2, "degenerate reference output"
    np.testing.assert_array_equal(np.stack(got).reshape(ref.shape), ref)


def _check(path: Path, kind: str) -> None:
    if kind == "int32":
        _check_int32(path)
        return
    res, _ = opmodels.check_random(path, zlib.crc32(path.stem.encode()) % 1000, SAMPLES)
    assert res.dtype == kind, res.dtype
    assert res.ok, res.summary()
    if kind != "float32":
        assert res.identical_samples == SAMPLES, res.summary()


@pytest.mark.parametrize("spec", FAST, ids=[s[0] for s in FAST])
def test_fast_model(fast_models: dict, spec: Spec) -> None:
    _check(fast_models[spec[0]], spec[1])


@pytest.mark.slow
@pytest.mark.parametrize("spec", SLOW, ids=[s[0] for s in SLOW])
def test_random_model(slow_models: dict, spec: Spec) -> None:
    _check(slow_models[spec[0]], spec[1])


def test_fast_models_select_every_kernel(fast_models: dict) -> None:
    """The global coverage tests skip the ops package: every entry of this module
    must be reached by a model here."""
    mine = [k for k in entries("portable") if k.build.__module__ == MODULE]
    assert mine
    used = set()
    for path in fast_models.values():
        graph = read_tflite(path)
        used.update(id(select(graph, op)) for op in graph.ops)
    missing = [f"{k.op}/{k.dtype}->{k.out_dtype or k.dtype}" for k in mine if id(k) not in used]
    assert not missing, f"kernels no model selects: {missing}"
