"""Spatial operators (kiln.codegen.ops.spatial) against tflite-micro.

RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR (up and down, align_corners,
half_pixel_centers, neither), TRANSPOSE_CONV (kernel sizes, strides,
SAME/VALID, output padding, with and without bias, fused activations),
L2_NORMALIZATION, LOG_SOFTMAX, BATCH_MATMUL (adj_x, adj_y, broadcast batch
dimensions, constant operands) and FULLY_CONNECTED with runtime weights,
batch > 1 and keep_num_dims, int8 and float32, and L2_POOL_2D (float32; an
AVERAGE_POOL_2D retagged after conversion, the converter never emits it),
converted by the real TFLite converter (int8 calibrated over a chosen range,
from tiny to huge scales), compiled by Kiln for the host
(sanitizer build) and run on seeded random inputs: int8 outputs identical,
float32 within 1e-5 relative.

The fast loop (-m "not slow") checks one model per operator and dtype; the
slow part the rest and that every kernel the module registers is reached.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import opmodels
import pytest
from kiln import hostcheck, oracle
from kiln.codegen import registry
from kiln.tflite_reader import read_tflite

SAMPLES = 16
MODULE = "kiln.codegen.ops.spatial"


def _tf():
    import tensorflow
    return tensorflow


def _L():
    return opmodels._keras().layers


def _lambda(fn: Callable) -> Callable:
    """input -> Lambda(fn)."""
    return lambda shape: opmodels._seq(shape, _L().Lambda(fn))


def _layer(make: Callable) -> Callable:
    """input -> make()."""
    return lambda shape: opmodels._seq(shape, make())


def _resize(size, method):
    return _lambda(lambda t: _tf().image.resize(t, size, method=method))


def _resize_v1(size, bilinear: bool, align: bool):
    def fn(t):
        img = _tf().compat.v1.image
        f = img.resize_bilinear if bilinear else img.resize_nearest_neighbor
        return f(t, size, align_corners=align)
    return _lambda(fn)


def _tconv(filters, k, s, pad, act=None, bias=True, out_pad=None):
    return _layer(lambda: _L().Conv2DTranspose(filters, k, strides=s, padding=pad, activation=act,
                                               use_bias=bias, output_padding=out_pad))


# (name, builder(shape), input shape, int8?, calibration range (int8) or input range (float), fast?)
SPECS = [
    ("nearest_up2_s8", _layer(lambda: _L().UpSampling2D(2)), (4, 5, 3), True, (-1.0, 1.0), True),
    ("nearest_hpc_s8", _resize((7, 9), "nearest"), (4, 5, 3), True, (-0.01, 0.02), False),
    ("nearest_down_s8", _resize((4, 5), "nearest"), (9, 11, 2), True, (-50.0, 80.0), False),
    ("nearest_align_s8", _resize_v1((9, 7), False, True), (5, 4, 3), True, (-1.0, 1.0), False),
    ("nearest_plain_s8", _resize_v1((4, 9), False, False), (6, 6, 2), True, (-1.0, 1.0), False),
    ("nearest_up2_f32", _layer(lambda: _L().UpSampling2D((2, 3))), (4, 5, 3), False, (-1.0, 1.0), True),
    ("nearest_align_f32", _resize_v1((9, 7), False, True), (5, 4, 3), False, (-1.0, 1.0), False),
    ("bilinear_up2_s8", _layer(lambda: _L().UpSampling2D(2, interpolation="bilinear")), (4, 5, 3),
     True, (-1.0, 1.0), True),
    ("bilinear_hpc_s8", _resize((7, 9), "bilinear"), (4, 5, 3), True, (-0.02, 0.01), False),
    ("bilinear_down_s8", _resize((4, 6), "bilinear"), (10, 9, 2), True, (-90.0, 40.0), False),
    ("bilinear_align_s8", _resize_v1((9, 7), True, True), (5, 4, 3), True, (-1.0, 1.0), False),
    ("bilinear_plain_s8", _resize_v1((8, 5), True, False), (3, 3, 2), True, (-3.0, 1.0), False),
    ("bilinear_up2_f32", _layer(lambda: _L().UpSampling2D(2, interpolation="bilinear")), (4, 5, 3),
     False, (-1.0, 1.0), True),
    ("bilinear_align_f32", _resize_v1((9, 7), True, True), (5, 4, 3), False, (-1.0, 1.0), False),
    ("bilinear_down_f32", _resize((4, 6), "bilinear"), (10, 9, 2), False, (-5.0, 5.0), False),
    ("tconv_k3s2same_s8", _tconv(4, 3, 2, "same"), (4, 5, 3), True, (-1.0, 1.0), True),
    ("tconv_k3s2valid_relu_s8", _tconv(3, 3, 2, "valid", "relu"), (3, 4, 2), True, (-2.0, 1.0), False),
    ("tconv_k2s2_nobias_s8", _tconv(5, 2, 2, "same", bias=False), (4, 4, 4), True, (-0.02, 0.03), False),
    ("tconv_k5s1same_s8", _tconv(2, 5, 1, "same"), (5, 6, 1), True, (-60.0, 40.0), False),
    ("tconv_k4s3valid_relu6_s8", _tconv(3, (4, 3), (3, 2), "valid", "relu6"), (3, 3, 2), True,
     (-1.0, 1.0), False),
    ("tconv_outpad_s8", _tconv(2, 3, 2, "valid", out_pad=1), (3, 4, 3), True, (-1.0, 1.0), False),
    ("tconv_k4s2same_s8", _tconv(3, 4, 2, "same"), (3, 5, 2), True, (-8.0, 3.0), False),
    ("tconv_k3s2same_f32", _tconv(4, 3, 2, "same"), (4, 5, 3), False, (-1.0, 1.0), True),
    ("tconv_k4s3valid_f32", _tconv(3, (4, 3), (3, 2), "valid", "relu"), (3, 3, 2), False,
     (-2.0, 2.0), False),
]

def _conv_then(fn: Callable) -> Callable:
    """A 1x1 convolution (or Dense on 1-D input) first, then Lambda(fn)."""
    def build(shape):
        first = _L().Conv2D(shape[-1] + 2, 1) if len(shape) == 3 else _L().Dense(shape[-1] + 3)
        return opmodels._seq(shape, first, _L().Lambda(fn))
    return build


def _l2(t):
    return _tf().math.l2_normalize(t, axis=-1)


def _log_softmax(t):
    return _tf().nn.log_softmax(t)


SPECS += [
    ("l2norm_s8", _conv_then(_l2), (4, 5, 3), True, (-1.0, 1.0), True),
    ("l2norm_s8_input", _lambda(_l2), (6, 7), True, (-0.01, 0.03), False),
    ("l2norm_s8_huge", _lambda(_l2), (40,), True, (-200.0, 100.0), False),
    ("l2norm_s8_deep", _conv_then(_l2), (2, 2, 61), True, (-1.0, 1.0), False),
    ("l2norm_f32", _lambda(_l2), (4, 5, 3), False, (-2.0, 2.0), True),
    ("l2norm_f32_tiny", _lambda(_l2), (9,), False, (-1e-7, 1e-7), False),
    ("log_softmax_s8", _conv_then(_log_softmax), (10,), True, (-1.0, 1.0), True),
    ("log_softmax_s8_input", _lambda(_log_softmax), (4, 9), True, (-6.0, 6.0), False),
    ("log_softmax_s8_small", _lambda(_log_softmax), (2, 30), True, (-0.05, 0.1), False),
    ("log_softmax_s8_huge", _lambda(_log_softmax), (3, 5), True, (-150.0, 90.0), False),
    ("log_softmax_s8_deep", _lambda(_log_softmax), (300,), True, (-20.0, 20.0), False),
    ("log_softmax_f32", _lambda(_log_softmax), (3, 10), False, (-8.0, 8.0), True),
    ("log_softmax_f32_dense", _conv_then(_log_softmax), (12,), False, (-1.0, 1.0), False),
]


def _matmul(t):
    """BATCH_MATMUL of two views of one input: a plain product, then adj_x."""
    tf = _tf()
    a = tf.matmul(t, t[:, :, :3], transpose_a=True)                  # (1,5,3): adj_x
    return tf.concat([tf.reshape(a, [1, -1]), tf.reshape(tf.matmul(t, t[:, :2, :], adjoint_b=True),
                                                         [1, -1])], 1)


def _matmul_bcast(t):
    """Rank 4 against rank 4 with broadcast batch dimensions on both sides; adj_y."""
    tf = _tf()
    a = tf.reshape(t, [3, 1, 4, 5])
    b = tf.reshape(t[:, :, :2, :], [1, 3, 2, 5])
    return tf.reshape(tf.matmul(a, b, adjoint_b=True), [1, -1])      # (3,3,4,2)


def _matmul_const(t):
    """Constant operands: a constant RHS per batch, and a constant LHS broadcast over the batch."""
    tf = _tf()
    rng = np.random.default_rng(7)
    w = tf.constant(rng.normal(0, 1, (3, 5, 2)).astype(np.float32))
    wl = tf.constant(rng.normal(0, 1, (1, 2, 4)).astype(np.float32))
    return tf.concat([tf.reshape(tf.matmul(t, w), [1, -1]), tf.reshape(tf.matmul(wl, t), [1, -1])], 1)


def _dense_then(fn: Callable, units: int, act=None) -> Callable:
    """Dense on the whole input (FULLY_CONNECTED, keep_num_dims on a 3-D input), then fn."""
    return lambda shape: opmodels._seq(shape, _L().Dense(units, activation=act), _L().Lambda(fn))


def _fc_batch(shape):
    """Batch 3 through FULLY_CONNECTED (batch > 1, no keep_num_dims), then a product of
    the batch with itself, relu6: the converter makes it a FULLY_CONNECTED with runtime
    weights (asymmetric int8) and a fused RELU6, which runs on kiln_batch_matmul."""
    k = opmodels._keras()
    inp = k.Input(shape=shape, batch_size=3)
    x = k.layers.Dense(4, activation="relu")(inp)
    return k.Model(inp, k.layers.Lambda(lambda t: _tf().nn.relu6(_tf().matmul(t, t, transpose_b=True)))(x))


def _l2pool(pool: int, stride: int, padding: str):
    """An AVERAGE_POOL_2D the test retags as L2_POOL_2D (same options): the converter never
    emits L2_POOL_2D itself (sqrt(avg_pool(x^2)) stays three operators)."""
    return _layer(lambda: _L().AveragePooling2D(pool, stride, padding=padding))


SPECS += [
    ("matmul_s8", _dense_then(_matmul, 6), (4, 5), True, (-1.0, 1.0), True),
    ("matmul_f32", _dense_then(_matmul, 6, "relu"), (4, 5), False, (-1.0, 1.0), False),
    ("matmul_bcast_s8", _lambda(_matmul_bcast), (3, 4, 5), True, (-30.0, 50.0), False),
    ("matmul_bcast_f32", _lambda(_matmul_bcast), (3, 4, 5), False, (-2.0, 2.0), False),
    ("matmul_small_s8", _lambda(_matmul), (4, 7), True, (-0.01, 0.02), False),
    ("matmul_const_s8", _lambda(_matmul_const), (3, 4, 5), True, (-1.0, 1.0), False),
    ("fc_batch_s8", _fc_batch, (5,), True, (-1.0, 1.0), False),
    ("fc_batch_f32", _fc_batch, (5,), False, (-1.0, 1.0), False),
    ("l2pool_2x2_f32", _l2pool(2, 2, "valid"), (6, 7, 3), False, (-3.0, 3.0), True),
    ("l2pool_3s2same_f32", _l2pool(3, 2, "same"), (7, 6, 2), False, (-1e3, 1e3), False),
]
#: Specs whose AVERAGE_POOL_2D becomes an L2_POOL_2D after conversion.
L2POOL = {s[0] for s in SPECS if s[0].startswith("l2pool")}
FAST = [s[0] for s in SPECS if s[5]]
SLOW = [s[0] for s in SPECS if not s[5]]


def convert(model, int8: bool, lo: float, hi: float, seed: int) -> bytes:
    """Full-int8 (int8 input and output; calibration inputs uniform in [lo, hi]) or float32."""
    import warnings

    tf = _tf()
    warnings.filterwarnings("ignore", message="Statistics for quantized inputs")
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if int8:
        shape = [1] + [int(d) for d in model.input_shape[1:]]
        rng = np.random.default_rng(seed)

        def rep():
            for _ in range(32):
                yield [rng.uniform(lo, hi, shape).astype(np.float32)]

        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = rep
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
    return conv.convert()


def retag_l2pool(blob: bytes) -> bytes:
    """The model with its AVERAGE_POOL_2D operators turned into L2_POOL_2D (both take
    Pool2DOptions), through TensorFlow's own flatbuffer object API."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(blob))
    for code in model.operatorCodes:
        if code.builtinCode == schema.BuiltinOperator.AVERAGE_POOL_2D:
            code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.L2_POOL_2D
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


class Converted:
    """The suite's models, each converted on first use (TensorFlow loads once per module)."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.paths = folder, {}
        self.specs = {s[0]: s for s in SPECS}

    def __getitem__(self, name: str) -> Path:
        """The .tflite of spec `name`, converted now if it was not yet."""
        if name not in self.paths:
            _, builder, shape, int8, (lo, hi), _ = self.specs[name]
            seed = zlib.crc32(name.encode()) % 1000
            model = opmodels.build(lambda: builder(shape), seed)
            path = self.folder / f"{name}.tflite"
            blob = convert(model, int8, lo, hi, seed)
            path.write_bytes(retag_l2pool(blob) if name in L2POOL else blob)
            self.paths[name] = path
        return self.paths[name]


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> Converted:
    """One converter cache for the whole file: TensorFlow loads once."""
    return Converted(tmp_path_factory.mktemp("ops_spatial"))


def _ours() -> list[registry.KernelImpl]:
    return [k for k in registry.entries("portable") if k.build.__module__ == MODULE]


def _check(converted: Converted, name: str) -> None:
    """Kiln (sanitizer build) against tflite-micro on seeded random inputs."""
    path = converted[name]
    _, _, _, int8, (lo, hi), _ = converted.specs[name]
    seed = zlib.crc32(name.encode()) % 1000
    if int8:
        res, used = opmodels.check_random(path, seed, SAMPLES)
    else:
        hm = hostcheck.HostModel(path, sanitize=True)
        try:
            used = {layer.kernel for layer in hm.model.layers}
            xs = np.random.default_rng(seed).uniform(lo, hi, (SAMPLES, *hm.in_shape))
            xs = xs.astype(np.float32)
            got = hm.invoke_many(xs)
        finally:
            hm.close()
        ref = oracle.reference_outputs(path, xs)
        assert len(np.unique(ref)) > 2, f"degenerate reference output {np.unique(ref)}"
        res = hostcheck.compare(path.stem, got, ref)
    assert res.dtype == ("int8" if int8 else "float32")
    assert res.ok, res.summary()
    if int8:
        assert res.identical_samples == SAMPLES, res.summary()
    assert used & {k.func for k in _ours()}, f"{name} runs none of this module's kernels: {sorted(used)}"


@pytest.mark.parametrize("name", FAST)
def test_spatial_fast(converted: Converted, name: str) -> None:
    _check(converted, name)


@pytest.mark.slow
@pytest.mark.parametrize("name", SLOW)
def test_spatial(converted: Converted, name: str) -> None:
    _check(converted, name)


@pytest.mark.slow
def test_every_spatial_kernel_is_selected(converted: Converted) -> None:
    """The models reach every (operator, dtype, kernel) this module registers
    (the global coverage tests skip the kiln.codegen.ops package)."""
    reached = set()
    for name in FAST + SLOW:
        graph = read_tflite(converted[name])
        for op in graph.ops:
            impl = registry.select(graph, op)
            reached.add((impl.op, impl.dtype, impl.func))
    missing = {(k.op, k.dtype, k.func) for k in _ours()} - reached
    assert not missing, f"registered but reached by no model: {sorted(missing)}"
