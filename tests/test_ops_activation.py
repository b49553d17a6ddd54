"""Standalone activations (kiln.codegen.ops.activation) against tflite-micro.

Small models, converted by the real TFLite converter (full int8 with a
representative dataset over a chosen range, so input and output scales
range from tiny to huge, and float32), compiled by Kiln for the host
(sanitizer build) and run on seeded random inputs: int8 outputs identical,
float32 within 1e-5 relative. Most models apply the activation to the model
input directly, so the random int8 inputs reach every one of the 256 values.

The fast loop (-m "not slow") checks one model per operator and dtype; the
slow part the rest and that every kernel the module registers is reached.
Not covered, because tflite-micro or the converter cannot: RELU_N1_TO_1
(tflite-micro has no kernel for it) and int8 ELU (the converter keeps ELU in
float between DEQUANTIZE and QUANTIZE; the model `elu_int8_io` checks that).
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

SAMPLES = 24
MODULE = "kiln.codegen.ops.activation"


def _tf():
    import tensorflow
    return tensorflow


def _hard_swish(t):  # the converter fuses this pattern into HARD_SWISH
    return t * _tf().nn.relu6(t + 3.0) / 6.0


def _gelu_tanh(t):  # the converter keeps the approximate form as GELU(approximate=true)
    return _tf().nn.gelu(t, approximate=True)


def _act(layer: Callable[[], object]):
    """input -> activation."""
    def build(shape: tuple[int, ...]):
        return opmodels._seq(shape, layer())
    return build


def _L():
    return opmodels._keras().layers


def _conv_then(layer: Callable[[], object]):
    """A 1x1 convolution first: the activation's input scale comes from calibration."""
    def build(shape: tuple[int, ...]):
        return opmodels._seq(shape, _L().Conv2D(shape[-1] + 1, 1), layer())
    return build


# (name, builder(shape), input shape, int8?, range, fast?): the range is the calibration
# inputs' of an int8 model and the test inputs' of a float one (int8 test inputs are
# uniform over the 256 values).
Spec = tuple[str, Callable, tuple[int, ...], bool, tuple[float, float], bool]

SPECS: list[Spec] = [
    # RELU: requantizes to the output's parameters
    ("relu_s8", _act(lambda: _L().ReLU()), (6, 5, 3), True, (-1.0, 1.0), True),
    ("relu_s8_tiny", _act(lambda: _L().ReLU()), (37,), True, (-0.004, 0.01), False),
    ("relu_s8_huge", _act(lambda: _L().ReLU()), (4, 9), True, (-300.0, 90.0), False),
    ("relu_s8_positive", _act(lambda: _L().ReLU()), (5, 4, 2), True, (0.5, 3.0), False),
    # RELU6: tflite-micro clamps without rescaling
    ("relu6_s8", _act(lambda: _L().ReLU(6.0)), (6, 5, 3), True, (-2.0, 9.0), True),
    ("relu6_s8_huge", _act(lambda: _L().ReLU(6.0)), (20,), True, (-40.0, 7.0), False),
    ("relu6_s8_small", _act(lambda: _L().ReLU(6.0)), (3, 7), True, (-0.5, 0.3), False),
    # LEAKY_RELU: alpha below and above 1
    ("leaky_s8", _act(lambda: _L().LeakyReLU(0.2)), (6, 5, 3), True, (-1.0, 1.0), True),
    ("leaky_s8_a001_tiny", _act(lambda: _L().LeakyReLU(0.01)), (33,), True, (-0.02, 0.005), False),
    ("leaky_s8_a17_huge", _act(lambda: _L().LeakyReLU(1.7)), (4, 4, 2), True, (-200.0, 350.0), False),
    ("leaky_s8_conv", _conv_then(lambda: _L().LeakyReLU(0.5)), (5, 6, 3), True, (-3.0, 2.0), False),
    # PRELU: alpha per channel (shared over H, W), per element, on a 2-D tensor
    ("prelu_s8", _act(lambda: _L().PReLU(shared_axes=[1, 2])), (6, 5, 4), True, (-1.0, 1.0), True),
    ("prelu_s8_full", _act(lambda: _L().PReLU()), (3, 4, 2), True, (-6.0, 2.0), False),
    ("prelu_s8_2d", _act(lambda: _L().PReLU()), (19,), True, (-0.05, 0.02), False),
    ("prelu_s8_shared_w", _act(lambda: _L().PReLU(shared_axes=[2])), (3, 5, 2), True,
     (-100.0, 100.0), False),
    # LOGISTIC and TANH: fixed point, radius saturation at every input scale
    ("logistic_s8", _act(lambda: _L().Activation("sigmoid")), (6, 5, 3), True, (-1.0, 1.0), True),
    ("logistic_s8_small", _act(lambda: _L().Activation("sigmoid")), (40,), True, (-0.1, 0.08), False),
    ("logistic_s8_wide", _act(lambda: _L().Activation("sigmoid")), (5, 8), True, (-12.0, 16.0), False),
    ("logistic_s8_huge", _act(lambda: _L().Activation("sigmoid")), (30,), True, (-150.0, 90.0), False),
    ("logistic_s8_conv", _conv_then(lambda: _L().Activation("sigmoid")), (4, 4, 3), True,
     (-1.0, 1.0), False),
    ("tanh_s8", _act(lambda: _L().Activation("tanh")), (6, 5, 3), True, (-1.0, 1.0), True),
    ("tanh_s8_small", _act(lambda: _L().Activation("tanh")), (40,), True, (-0.07, 0.1), False),
    ("tanh_s8_wide", _act(lambda: _L().Activation("tanh")), (5, 8), True, (-5.0, 3.0), False),
    ("tanh_s8_huge", _act(lambda: _L().Activation("tanh")), (30,), True, (-90.0, 150.0), False),
    ("tanh_s8_conv", _conv_then(lambda: _L().Activation("tanh")), (4, 4, 3), True, (-1.0, 1.0), False),
    # HARD_SWISH: 16-bit fixed point, both signs of the relu-ish exponent
    ("hswish_s8", _act(lambda: _L().Lambda(_hard_swish)), (6, 5, 3), True, (-4.0, 4.0), True),
    ("hswish_s8_small", _act(lambda: _L().Lambda(_hard_swish)), (40,), True, (-0.3, 0.2), False),
    ("hswish_s8_wide", _act(lambda: _L().Lambda(_hard_swish)), (5, 8), True, (-9.0, 12.0), False),
    ("hswish_s8_tiny", _act(lambda: _L().Lambda(_hard_swish)), (40,), True, (-1e-6, 2e-6), False),
    ("hswish_s8_micro", _act(lambda: _L().Lambda(_hard_swish)), (40,), True, (-2e-8, 1e-8), False),
    ("hswish_s8_huge", _act(lambda: _L().Lambda(_hard_swish)), (30,), True, (-60.0, 100.0), False),
    ("hswish_s8_conv", _conv_then(lambda: _L().Lambda(_hard_swish)), (4, 4, 3), True,
     (-1.0, 1.0), False),
    # GELU: TensorFlow Lite's float-built table (erfc and tanh forms); tflite-micro has no
    # GELU, so the oracle looks the table up with CAST, ADD and GATHER (kiln.oracle_gelu)
    ("gelu_s8", _act(lambda: _L().Activation("gelu")), (6, 5, 3), True, (-4.0, 4.0), True),
    ("gelu_s8_tanh_wide", _act(lambda: _L().Lambda(_gelu_tanh)), (5, 8), True, (-12.0, 9.0), False),
    ("gelu_s8_small", _act(lambda: _L().Activation("gelu")), (40,), True, (-0.05, 0.08), False),
    ("gelu_s8_huge", _act(lambda: _L().Activation("gelu")), (30,), True, (-150.0, 200.0), False),
    ("gelu_s8_conv", _conv_then(lambda: _L().Lambda(_gelu_tanh)), (4, 4, 3), True, (-2.0, 2.0), False),
    # beside an ELU: the oracle's table is cut from a model listing an operator TensorFlow
    # Lite's reference resolver lacks (ELU), which it refused (tests/fuzz/nets.py found it)
    ("gelu_s8_after_elu", _act(lambda: _L().Lambda(lambda t: _tf().nn.gelu(_tf().nn.elu(t)))), (24,), True,
     (-3.0, 3.0), False),
    # ELU stays float in an int8 model: DEQUANTIZE, ELU, QUANTIZE
    ("elu_int8_io", _act(lambda: _L().ELU()), (6, 5, 3), True, (-3.0, 2.0), False),
    # float32
    ("relu_f32", _act(lambda: _L().ReLU()), (6, 5, 3), False, (-1.0, 1.0), True),
    ("relu6_f32", _act(lambda: _L().ReLU(6.0)), (6, 5, 3), False, (-4.0, 9.0), True),
    ("leaky_f32", _act(lambda: _L().LeakyReLU(0.3)), (6, 5, 3), False, (-1.0, 1.0), True),
    ("leaky_f32_a25", _act(lambda: _L().LeakyReLU(2.5)), (17,), False, (-1.0, 1.0), False),
    ("prelu_f32", _act(lambda: _L().PReLU(shared_axes=[1, 2])), (6, 5, 4), False, (-1.0, 1.0), True),
    ("prelu_f32_full", _act(lambda: _L().PReLU()), (3, 4, 2), False, (-1.0, 1.0), False),
    ("logistic_f32", _act(lambda: _L().Activation("sigmoid")), (6, 5, 3), False, (-25.0, 25.0), True),
    ("logistic_f32_small", _act(lambda: _L().Activation("sigmoid")), (25,), False, (-0.01, 0.01), False),
    ("tanh_f32", _act(lambda: _L().Activation("tanh")), (6, 5, 3), False, (-6.0, 6.0), True),
    ("tanh_f32_small", _act(lambda: _L().Activation("tanh")), (25,), False, (-0.001, 0.001), False),
    ("hswish_f32", _act(lambda: _L().Lambda(_hard_swish)), (6, 5, 3), False, (-5.0, 5.0), True),
    ("elu_f32", _act(lambda: _L().ELU()), (6, 5, 3), False, (-4.0, 2.0), True),
    ("elu_f32_small", _act(lambda: _L().ELU()), (25,), False, (-0.01, 0.01), False),
    ("elu_f32_conv", _conv_then(lambda: _L().ELU()), (4, 4, 3), False, (-2.0, 2.0), False),
    ("gelu_f32", _act(lambda: _L().Activation("gelu")), (6, 5, 3), False, (-9.0, 6.0), False),
    ("gelu_f32_tanh", _act(lambda: _L().Lambda(_gelu_tanh)), (25,), False, (-7.0, 5.0), False),
    # float GELU sends the oracle to TensorFlow Lite's reference kernels, which lack ELU
    # (tests/fuzz/nets.py --quant float found it: an internal error)
    ("gelu_f32_after_elu", _act(lambda: _L().Lambda(lambda t: _tf().nn.gelu(_tf().nn.elu(t)))), (24,), False,
     (-3.0, 3.0), False),
]
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
            path.write_bytes(convert(model, int8, lo, hi, seed))
            self.paths[name] = path
        return self.paths[name]


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> Converted:
    """One converter cache for the whole file: TensorFlow loads once."""
    return Converted(tmp_path_factory.mktemp("ops_activation"))


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
    ours = {k.func for k in _ours()}
    assert used & ours, f"{name} runs none of this module's kernels: {sorted(used)}"


def _ours() -> list[registry.KernelImpl]:
    return [k for k in registry.entries("portable") if k.build.__module__ == MODULE]


@pytest.mark.parametrize("name", FAST)
def test_activation_fast(converted: Converted, name: str) -> None:
    _check(converted, name)


@pytest.mark.slow
@pytest.mark.parametrize("name", SLOW)
def test_activation(converted: Converted, name: str) -> None:
    _check(converted, name)


@pytest.mark.slow
def test_every_activation_kernel_is_selected(converted: Converted) -> None:
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
