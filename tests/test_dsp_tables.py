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
        ("softmax_rows", lambda: seq((5, 16), L.Dense(12), L.Softmax()), "kiln_dsp_softmax_s8"),
        # logits over +-60: differences below diff_min drop out of the sum
        ("softmax_wide", lambda: seq((3, 64), L.Dense(10), L.Rescaling(12.0), L.Softmax()),
         "kiln_dsp_softmax_s8"),
    ]


ACT_SPECS = _act_specs()
#: Every kernel this module's models reach (test_dsp_fidelity checks that the dsp set
#: has no kernel that no test claims).
KERNELS = {k for _, k, in QUANT_KERNEL.items()} | {"kiln_dsp_lut_s8"} | {s[2] for s in ACT_SPECS}


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


def _run(path: Path, xs: np.ndarray) -> tuple[hostcheck.HostCheckResult, set[str]]:
    return run_host(path, xs, kernels="dsp")


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
]


@pytest.mark.parametrize("k", range(len(UNARY_SPECS)),
                         ids=[f"{s[0].lower()}_{i}" for i, s in enumerate(UNARY_SPECS)])
def test_activation_tables_over_every_input(tmp_path: Path, k: int) -> None:
    """HARD_SWISH, LEAKY_RELU, RELU and RELU6 as tables (kiln.fixedpoint's port of each
    portable kernel) against tflite-micro, on every int8 input."""
    op, in_q, out_q, alpha = UNARY_SPECS[k]
    path = tmp_path / f"{op.lower()}.tflite"
    path.write_bytes(quant_model(op, "int8", in_q, "int8", out_q, alpha=alpha))
    res, used = _run(path, quant_inputs("int8", None))
    assert "kiln_dsp_lut_s8" in used, used
    assert res.ok and res.identical_values == res.total_values, f"{UNARY_SPECS[k]}: {res.summary()}"


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
