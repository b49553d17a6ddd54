"""The dsp table kernels (kiln.kernels_dsp_tables) against tflite-micro on the host.

Their tables are the portable kernels' arithmetic evaluated in Python
(kiln.fixedpoint), so these tests are what holds that port to the C:

* one-operator QUANTIZE / DEQUANTIZE models between int8, uint8 and float32
  (tests/test_ops_int16.quant_model), run over every input byte (for float
  input, every float beside a rounding boundary);
* Keras models whose LOGISTIC, TANH and SOFTMAX (several rows, and logits
  wide enough that small exponentials drop out) take every int8 input value;
* kiln.fixedpoint's tables against the host-compiled portable kernels over
  many input scales.

Each model must really run its table kernel. tests/test_dsp_qemu.py runs the
same models on the emulated board (QUANTIZE from float32 uses VCVTA there).
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import opmodels
import pytest
from kiln import hostcheck
from test_ops_int16 import quant_inputs, quant_model, run_host

# (name, operator, input dtype, (scale, zero point) or None, output dtype, (scale, zp) or None)
QUANT_SPECS = [
    ("q_s8_s8_down", "QUANTIZE", "int8", (0.021, -7), "int8", (0.0533, 3)),
    ("q_s8_s8_up", "QUANTIZE", "int8", (0.0533, 3), "int8", (0.021, -7)),
    ("q_u8_s8", "QUANTIZE", "uint8", (0.0173, 117), "int8", (0.0173, -11)),
    ("q_s8_u8", "QUANTIZE", "int8", (0.0211, 4), "uint8", (0.0197, 128)),
    ("q_f32_s8", "QUANTIZE", "float32", None, "int8", (0.0213, 5)),
    ("dq_s8_f32", "DEQUANTIZE", "int8", (0.0377, -3), "float32", None),
    ("dq_u8_f32", "DEQUANTIZE", "uint8", (0.0173, 117), "float32", None),
]
QUANT_KERNEL = {"q_f32_s8": "kiln_dsp_quantize_f32_s8", "dq_s8_f32": "kiln_dsp_lut_s8_f32",
                "dq_u8_f32": "kiln_dsp_lut_s8_f32"}


def _concat_channels(L):  # noqa: ANN001, ANN202 - tf_keras.layers, a Keras model
    k = opmodels._keras()
    i = k.Input((5, 7, 2), batch_size=1)
    parts = [L.Conv2D(c, 1)(i) for c in (4, 3, 5)]
    return k.Model(i, L.Concatenate()(parts))


def _act_specs() -> list[tuple[str, object, str]]:
    """(name, Keras builder, the table kernel it must run)."""
    L = opmodels._keras().layers
    seq = opmodels._seq
    return [
        ("logistic", lambda: seq((6, 6, 8), L.Conv2D(8, 1), L.Activation("sigmoid")), "kiln_dsp_lut_s8"),
        ("tanh", lambda: seq((6, 6, 8), L.Conv2D(8, 1), L.Activation("tanh")), "kiln_dsp_lut_s8"),
        # x * relu6(x + 3) / 6, as Keras writes it: the converter makes it one HARD_SWISH
        ("hard_swish", lambda: seq((6, 6, 8), L.Conv2D(8, 1),
                                   L.Lambda(lambda x: x * opmodels._tf().nn.relu6(x + 3.0) / 6.0)),
         "kiln_dsp_lut_s8"),
        ("leaky_relu", lambda: seq((6, 6, 8), L.Conv2D(8, 1), L.LeakyReLU(0.15)), "kiln_dsp_lut_s8"),
        ("concat_channels", lambda: _concat_channels(L), "kiln_dsp_concat_s8"),
        ("softmax_rows", lambda: seq((5, 16), L.Dense(12), L.Softmax()), "kiln_dsp_softmax_s8"),
        # logits over +-60: differences below diff_min drop out of the sum
        ("softmax_wide", lambda: seq((3, 64), L.Dense(10), L.Rescaling(12.0), L.Softmax()),
         "kiln_dsp_softmax_s8"),
    ]


ACT_SPECS = _act_specs()
#: Every kernel this module's models reach (test_dsp_fidelity checks that the dsp set
#: has no kernel that no test claims).
KERNELS = ({k for _, k, in QUANT_KERNEL.items()} | {"kiln_dsp_lut_s8", "kiln_dsp_concat_s8"} |
           {s[2] for s in ACT_SPECS})


class Converted(dict):
    """The models, each converted or written on first use."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder

    def __missing__(self, name: str) -> Path:
        path = self.folder / f"{name}.tflite"
        quant = {s[0]: s for s in QUANT_SPECS}
        if name in quant:
            _, op, idt, iq, odt, oq = quant[name]
            path.write_bytes(quant_model(op, idt, iq, odt, oq))
        else:
            i = next(i for i, s in enumerate(ACT_SPECS) if s[0] == name)
            path.write_bytes(opmodels.convert(opmodels.build(ACT_SPECS[i][1], 700 + i), int8=True, seed=i))
        self[name] = path
        return path


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> Converted:
    return Converted(tmp_path_factory.mktemp("dsptables"))


def _run(path: Path, xs: np.ndarray, kernels: str = "dsp") -> tuple[hostcheck.HostCheckResult, set[str]]:
    return run_host(path, xs, kernels=kernels)


@pytest.mark.parametrize("name", [s[0] for s in QUANT_SPECS])
def test_quantize_tables_over_every_input(converted: Converted, name: str) -> None:
    _, _, idt, _, _, oq = next(s for s in QUANT_SPECS if s[0] == name)
    res, used = _run(converted[name], quant_inputs(idt, oq))
    assert QUANT_KERNEL.get(name, "kiln_dsp_lut_s8") in used, used
    assert res.ok and res.identical_values == res.total_values, res.summary()


@pytest.mark.parametrize("name", [s[0] for s in ACT_SPECS])
def test_activation_tables_identical(converted: Converted, name: str) -> None:
    res, used = opmodels.check_random(converted[name], zlib.crc32(name.encode()) % 1000, 40,
                                      kernels="dsp")
    kernel = next(s[2] for s in ACT_SPECS if s[0] == name)
    assert kernel in used, used
    assert res.ok and res.identical_samples == res.samples, res.summary()


#: One-operator LOGISTIC / TANH models over input scales from 1/1000 to 1 (the table's
#: multiplier, shift and saturation radius all vary), zero points across the range.
SIGMOID_SCALES = [(0.00113, -5), (0.0197, 31), (0.0831, -128), (0.377, 100), (0.962, 0)]


#: One-operator activation models: (operator, input (scale, zp), output (scale, zp), alpha).
#: Scales from 1/1000 to 2 in and out, so that HARD_SWISH's relu exponent runs from left
#: shifts to right shifts past 16 and its output exponent across its range, and the
#: requantizing activations scale up as well as down.
UNARY_SPECS = [
    ("HARD_SWISH", (0.0231, -3), (0.0197, -114), None),
    ("HARD_SWISH", (0.00093, 40), (0.00041, -128), None),
    ("HARD_SWISH", (0.19, -128), (0.37, 7), None),
    ("HARD_SWISH", (1.93, 100), (0.05, 0), None),
    ("HARD_SWISH", (0.0625, 0), (1.7, -20), None),
    ("LEAKY_RELU", (0.0213, 5), (0.0187, -9), 0.2),
    ("LEAKY_RELU", (0.11, 0), (0.31, 100), 0.01),
    ("LEAKY_RELU", (0.0041, 60), (0.0299, -40), 1.7),
    ("RELU", (0.0213, 5), (0.0107, -128), None),
    ("RELU", (0.21, -17), (0.9, -3), None),
    ("RELU6", (0.0313, -100), (0.0313, -100), None),
    ("RELU6", (0.0061, 20), (0.0061, 20), None),
    # RSQRT (a layer norm's 1 / sqrt(variance + eps)): inputs from the zero point up
    # (tflite-micro refuses those below it), the Newton iteration over 1 to 255
    ("RSQRT", (0.01, -128), (0.04, -128), None),
    ("RSQRT", (0.5, -128), (0.0056, -128), None),
    ("RSQRT", (0.0001, -128), (0.39, -128), None),
]


@pytest.mark.parametrize("k", range(len(UNARY_SPECS)),
                         ids=[f"{s[0].lower()}_{i}" for i, s in enumerate(UNARY_SPECS)])
def test_activation_tables_over_every_input(tmp_path: Path, k: int) -> None:
    """HARD_SWISH, LEAKY_RELU, RELU, RELU6 and RSQRT as tables (kiln.fixedpoint's port of
    each portable kernel) against tflite-micro, on every int8 input."""
    op, in_q, out_q, alpha = UNARY_SPECS[k]
    path = tmp_path / f"{op.lower()}.tflite"
    path.write_bytes(quant_model(op, "int8", in_q, "int8", out_q, alpha=alpha))
    res, used = _run(path, quant_inputs("int8", None))
    assert "kiln_dsp_lut_s8" in used, used
    assert res.ok and res.identical_values == res.total_values, f"{UNARY_SPECS[k]}: {res.summary()}"


#: GELU (erfc form, tanh form): input scales whose 256 values span from the linear part
#: near zero to both tails, output scales from much finer to coarser than the input's.
GELU_SPECS = [((0.0031, -7), (0.0016, -120), False), ((0.0412, 15), (0.0188, -101), True),
              ((0.0412, 15), (0.0188, -101), False), ((0.233, -128), (0.117, -126), True),
              ((0.9, 40), (2.1, 3), False), ((0.052, 127), (0.0004, 60), True)]


@pytest.mark.parametrize("k", [k if k < 1 else pytest.param(k, marks=pytest.mark.slow)
                               for k in range(len(GELU_SPECS))])
def test_gelu_tables_over_every_input(tmp_path: Path, k: int) -> None:
    """GELU's table (kiln.quantmath.lut_s8 over the C library's erfcf and tanhf) against
    TensorFlow Lite's own, which the oracle looks up (kiln.oracle_gelu), on every input;
    the portable kernel reads the same table."""
    in_q, out_q, approximate = GELU_SPECS[k]
    path = tmp_path / "gelu.tflite"
    path.write_bytes(quant_model("GELU", "int8", in_q, "int8", out_q, approximate=approximate))
    for kernels, kernel in (("dsp", "kiln_dsp_lut_s8"), ("portable", "kiln_lut_s8")):
        res, used = _run(path, quant_inputs("int8", None), kernels)
        assert kernel in used, used
        assert res.ok and res.identical_values == res.total_values, f"{GELU_SPECS[k]}: {res.summary()}"


@pytest.mark.parametrize("op", ["LOGISTIC", "TANH"])
def test_sigmoid_tables_over_every_input_and_scale(tmp_path: Path, op: str) -> None:
    out_q = (1.0 / 256, -128) if op == "LOGISTIC" else (1.0 / 128, 0)
    xs = quant_inputs("int8", None)
    for k, in_q in enumerate(SIGMOID_SCALES):
        path = tmp_path / f"{op.lower()}_{k}.tflite"
        path.write_bytes(quant_model(op, "int8", in_q, "int8", out_q))
        res, used = _run(path, xs)
        assert "kiln_dsp_lut_s8" in used, used
        assert res.ok and res.identical_values == res.total_values, f"input {in_q}: {res.summary()}"


def concat_model(shape: list[int], x_q: tuple[float, int], parts: list[tuple[float, int] | None],
                 out_q: tuple[float, int], axis: int) -> bytes:
    """A .tflite with one int8 input x that concatenates `parts` along `axis`: x itself
    (None), or x requantized by a QUANTIZE to the part's (scale, zero point). The
    converter gives a concatenation's inputs the output's quantization; other tools
    and older files do not."""
    import flatbuffers
    from tensorflow.lite.python import schema_py_generated as schema

    def tensor(name: str, shape: list[int], q: tuple[float, int]):
        t = schema.TensorT()
        t.name, t.shape, t.type, t.buffer = name, shape, schema.TensorType.INT8, 0
        t.quantization = schema.QuantizationParametersT()
        t.quantization.scale, t.quantization.zeroPoint = [float(q[0])], [int(q[1])]
        return t

    def opcode(op: int, version: int):
        code = schema.OperatorCodeT()
        code.builtinCode = code.deprecatedBuiltinCode = op
        code.version = version
        return code

    out_shape = list(shape)
    out_shape[axis] = shape[axis] * len(parts)
    tensors, ops, ins = [tensor("x", shape, x_q)], [], []
    for q in parts:
        if q is None:
            ins.append(0)
            continue
        tensors.append(tensor(f"x_{len(tensors)}", shape, q))
        node = schema.OperatorT()
        node.opcodeIndex, node.inputs, node.outputs = 0, [0], [len(tensors) - 1]
        ops.append(node)
        ins.append(len(tensors) - 1)
    tensors.append(tensor("y", out_shape, out_q))
    node = schema.OperatorT()
    node.opcodeIndex, node.inputs, node.outputs = 1, ins, [len(tensors) - 1]
    node.builtinOptionsType = schema.BuiltinOptions.ConcatenationOptions
    node.builtinOptions = schema.ConcatenationOptionsT()
    node.builtinOptions.axis = axis
    graph = schema.SubGraphT()
    graph.tensors, graph.operators, graph.name = tensors, [*ops, node], "main"
    graph.inputs, graph.outputs = [0], [len(tensors) - 1]
    model = schema.ModelT()
    model.version, model.description = 3, "kiln test: one concatenation"
    model.operatorCodes = [opcode(schema.BuiltinOperator.QUANTIZE, 2),
                           opcode(schema.BuiltinOperator.CONCATENATION, 2)]
    model.subgraphs = [graph]
    model.buffers = [schema.BufferT()]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


#: (shape, the input's quantization, the parts (None: the input itself), the output's,
#: axis): channels of an odd count, parts requantized up and down with shifted zero
#: points beside a copied one; and a concatenation along the width, whose rows are
#: whole (width x channels) blocks.
CONCAT_SPECS = [
    ([1, 5, 3, 3], (0.031, 0), [(0.02, -3), (0.05, 10), None], (0.031, 0), 3),
    ([1, 4, 5, 8], (0.05, -7), [(0.011, -128), (0.4, 127), (0.09, -20)], (0.09, -20), 2),
]


def _host_outputs(path: Path, kernels: str, xs: np.ndarray) -> tuple[np.ndarray, set[str]]:
    hm = hostcheck.HostModel(path, kernels=kernels, sanitize=True)
    try:
        return hm.invoke_many(xs), {layer.kernel for layer in hm.model.layers}
    finally:
        hm.close()


@pytest.mark.parametrize("k", range(len(CONCAT_SPECS)))
def test_requantizing_concatenation_matches_the_portable_kernel(tmp_path: Path, k: int) -> None:
    """kiln_dsp_concat_s8's tables (parts quantized unlike the output) beside its word
    copies, against the portable kernel's element-wise requantization on every input
    byte. tflite-micro and TensorFlow Lite refuse an int8 concatenation whose inputs'
    quantization differs, so Kiln's portable kernel is the reference here; the copies
    are held to tflite-micro by test_concat_slices and ACT_SPECS' concat_channels."""
    shape, x_q, parts, out_q, axis = CONCAT_SPECS[k]
    path = tmp_path / f"concat{k}.tflite"
    path.write_bytes(concat_model(shape, x_q, parts, out_q, axis))
    n = int(np.prod(shape))
    xs = np.resize(np.arange(-128, 128, dtype=np.int8), (-(-256 // n) + 3, n))
    xs[-3:] = np.random.default_rng(k).integers(-128, 128, (3, n), dtype=np.int8)
    got, used = _host_outputs(path, "dsp", xs)
    want, plain = _host_outputs(path, "portable", xs)
    assert "kiln_dsp_concat_s8" in used and "kiln_concat" in plain, (used, plain)
    assert len(np.unique(want)) > 100
    assert np.array_equal(got, want)

