"""kiln.lowering: an int8 TRANSPOSE_CONV runs as a CONV_2D (then DEPTH_TO_SPACE and a
crop at stride above 1) on the dsp kernels, bit-identical to tflite-micro running the
model's own TRANSPOSE_CONV.

The cases cover what the rewrite's arithmetic depends on: kernel sizes below,
equal to and above the stride (a phase with no tap, windows of 1 to 3), SAME
and VALID (crops on either side, or none), strides 1 to 3, a non-square
kernel, odd input sizes and channel counts, a fused ReLU; and the kernels the
rewritten convolution lands on (Winograd with explicit padding, the
block-sparse kernel that the window's zero taps invite, the direct one).
tests/test_dsp_qemu.py runs some of them on the emulated board.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import numpy as np
import opmodels
import pytest
from kiln import codegen
from kiln.tflite_reader import read_tflite

#: (kernel, stride, padding, input height and width, input channels, filters, activation)
CASES = [
    (3, 2, "same", (8, 8), 8, 8, None),
    (3, 2, "valid", (7, 5), 4, 6, "relu"),
    (4, 2, "same", (6, 6), 8, 16, None),
    (2, 2, "valid", (5, 7), 12, 4, "relu"),
    (5, 2, "same", (6, 5), 4, 8, None),
    (3, 1, "valid", (6, 6), 8, 8, None),
    (4, 1, "same", (7, 6), 8, 4, "relu"),
    (3, 3, "same", (4, 5), 4, 4, None),
    (1, 2, "valid", (5, 5), 8, 8, None),
    (5, 3, "valid", (3, 4), 3, 5, None),
    ((3, 5), 2, "same", (6, 7), 8, 8, None),
    (3, 1, "same", (12, 12), 16, 16, None),
    (6, 2, "same", (5, 5), 8, 8, None),
]
IDS = [f"k{c[0] if isinstance(c[0], int) else 'x'.join(map(str, c[0]))}_s{c[1]}_{c[2]}_{k}"
       for k, c in enumerate(CASES)]


def model(k: int) -> bytes:
    """Case k as a full-int8 .tflite: one Keras Conv2DTranspose over random weights."""
    kern, stride, padding, (h, w), ic, oc, act = CASES[k]
    keras = opmodels._keras()

    def build():  # noqa: ANN202 - a tf_keras.Model
        i = keras.Input((h, w, ic), batch_size=1)
        return keras.Model(i, keras.layers.Conv2DTranspose(oc, kern, strides=stride, padding=padding,
                                                           activation=act)(i))

    return opmodels.convert(opmodels.build(build, 100 + k), int8=True, seed=k)


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Callable[[int], Path]:
    """Case k's .tflite, converted on first use."""
    folder = tmp_path_factory.mktemp("tconv")

    @functools.cache
    def path(k: int) -> Path:
        out = folder / f"tconv{k}.tflite"
        out.write_bytes(model(k))
        return out

    return path


@pytest.mark.slow
@pytest.mark.parametrize("k", range(len(CASES)), ids=IDS)
def test_transpose_conv_as_conv_matches_tflite_micro(models: Callable[[int], Path], k: int) -> None:
    res, used = opmodels.check_random(models(k), k, 20, kernels="dsp")
    assert "kiln_transpose_conv_s8" not in used and used & {
        "kiln_dsp_conv_s8", "kiln_dsp_wino_s8", "kiln_dsp_conv_sparse_s8", "kiln_dsp_pw8_s8"}, used
    assert res.ok and res.identical_samples == res.samples, res.summary()


def test_the_rewrite_reports_the_model_operator(models: Callable[[int], Path]) -> None:
    """Every part is listed as the model's TRANSPOSE_CONV under its output's name, and
    the parts' MACs add up to the model operator's (not the window's zero taps); the
    portable kernel set keeps the operator whole."""
    path = models(0)   # 3x3 stride 2 SAME: conv, DEPTH_TO_SPACE, no crop
    g = read_tflite(path)
    (op,) = [o for o in g.ops if o.op == "TRANSPOSE_CONV"]
    y = g.tensors[op.outputs[0]]
    _, oh, ow, oc = y.shape
    ic = g.tensors[op.inputs[2]].shape[3]
    dsp = codegen.compile_model(path, kernels="dsp")
    parts = [la for la in dsp.layers if la.op == "TRANSPOSE_CONV"]
    assert len(parts) == 2 and {la.name for la in parts} == {y.name}
    assert [la.kernel for la in parts][1] == "kiln_strided_copy"
    assert sum(la.macs for la in parts) == oh * ow * oc * ic * 9 // 4
    portable = codegen.compile_model(path, kernels="portable")
    assert [la.kernel for la in portable.layers] == ["kiln_transpose_conv_s8"]


def test_crops_take_a_slice(models: Callable[[int], Path]) -> None:
    """VALID at stride 2 with K = 3 leaves an odd output: the interleaved grid is cropped."""
    dsp = codegen.compile_model(models(1), kernels="dsp")
    assert [la.kernel for la in dsp.layers][-1] == "kiln_strided_copy"
    assert len(dsp.layers) == 3
    assert np.all([la.op == "TRANSPOSE_CONV" for la in dsp.layers])
