"""Fidelity of the Cortex-M33 kernel set on the host: models compiled with
kernels="cm33" (the kernels' plain-C host path, same source as the target)
against tflite-micro, every int8 output identical.

* shapes aimed at each specialized kernel (and the fused conv + max pool),
  asserting that the specialized kernel was really chosen;
* the compiler's randomized per-operator suite (tests/opmodels.py), where
  layers the cm33 kernels do not handle must fall back to portable;
* fashion_mnist ptq on all 10,000 test images, cifar_cnn ptq on 300 images.
"""

from __future__ import annotations

import zlib

import numpy as np
import opmodels
import pytest
from kiln import datasets, hostcheck
from kiln.codegen.registry import entries
from support import run_both, variant_path

SAMPLES = 60


def _cm33_specs() -> list[tuple[str, object, tuple[int, ...], set[str]]]:
    """(name, builder, input shape, cm33 kernels the model must use)."""
    k = opmodels._keras()
    L = k.layers
    seq = opmodels._seq

    def add_block(shape):
        inp = k.Input(shape=shape, batch_size=1)
        a = L.Conv2D(shape[2], 1)(inp)
        b = L.Conv2D(shape[2], 3, padding="same", activation="relu")(inp)
        return k.Model(inp, L.ReLU()(L.Add()([a, b])))

    conv = "kiln_cm33_conv_s8"
    return [
        ("conv1_pool_fashion", lambda: seq((28, 28, 1), L.Conv2D(12, 3, activation="relu"),
                                           L.MaxPooling2D(2), L.Flatten(), L.Dense(10)),
         (28, 28, 1), {"kiln_cm33_conv1_pool_s8", "kiln_cm33_copy", "kiln_cm33_fc_s8"}),
        ("conv1_pool_odd_noact", lambda: seq((11, 9, 1), L.Conv2D(5, 3), L.MaxPooling2D(2)),
         (11, 9, 1), {"kiln_cm33_conv1_pool_s8"}),
        ("conv1_pool_relu6", lambda: seq((10, 12, 1), L.Conv2D(7, 3, activation="relu6"),
                                         L.MaxPooling2D(2)), (10, 12, 1), {"kiln_cm33_conv1_pool_s8"}),
        ("conv_c4_same_relu", lambda: seq((9, 8, 4), L.Conv2D(8, 3, padding="same", activation="relu")),
         (9, 8, 4), {conv}),
        ("conv_c3_same_relu6", lambda: seq((10, 10, 3), L.Conv2D(16, 3, strides=2, padding="same",
                                                                  activation="relu6")), (10, 10, 3), {conv}),
        ("conv_c16_s2_odd_out", lambda: seq((9, 9, 16), L.Conv2D(7, 3, strides=2, padding="same")),
         (9, 9, 16), {conv}),
        ("conv_1x1", lambda: seq((5, 7, 8), L.Conv2D(12, 1)), (5, 7, 8), {conv}),
        ("conv_dilated", lambda: seq((11, 11, 4), L.Conv2D(4, 3, dilation_rate=2, padding="same")),
         (11, 11, 4), {conv}),
        ("conv_5x5_c2", lambda: seq((9, 9, 2), L.Conv2D(6, 5, padding="same")), (9, 9, 2), {conv}),
        ("dw_c8_same_relu", lambda: seq((9, 10, 8), L.DepthwiseConv2D(3, padding="same",
                                                                      activation="relu")),
         (9, 10, 8), {"kiln_cm33_dwconv_s8"}),
        ("dw_c16_s2", lambda: seq((10, 9, 16), L.DepthwiseConv2D(3, strides=2, padding="same")),
         (10, 9, 16), {"kiln_cm33_dwconv_s8"}),
        ("dense_64_11_relu", lambda: seq((64,), L.Dense(11, activation="relu")), (64,),
         {"kiln_cm33_fc_s8"}),
        ("dense_20_7", lambda: seq((20,), L.Dense(7)), (20,), {"kiln_cm33_fc_s8"}),
        ("maxpool_c8_same", lambda: seq((9, 8, 8), L.Conv2D(6, 1), L.MaxPooling2D(3, 2, "same")),
         (9, 8, 8), {"kiln_cm33_maxpool_s8"}),
        ("avgpool_c8_same", lambda: seq((9, 8, 8), L.Conv2D(8, 1), L.AveragePooling2D(3, 2, "same")),
         (9, 8, 8), {"kiln_cm33_avgpool_s8"}),
        ("avgpool_global_c6", lambda: seq((8, 8, 6), L.Conv2D(6, 1), L.AveragePooling2D(8)),
         (8, 8, 6), {"kiln_cm33_avgpool_s8"}),
        ("add_residual", lambda: add_block((6, 6, 8)), (6, 6, 8), {"kiln_cm33_add_s8"}),
    ]


CM33_SPECS = _cm33_specs()
OP_SPECS = opmodels.op_specs()


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> dict:
    """Every model of both suites converted in this one process."""
    out = tmp_path_factory.mktemp("cm33models")
    paths = {}
    for i, (name, builder, _, _) in enumerate(CM33_SPECS):
        paths[name] = out / f"{name}.tflite"
        paths[name].write_bytes(opmodels.convert(opmodels.build(builder, 900 + i), int8=True, seed=i))
    for i, (name, builder, _) in enumerate(OP_SPECS):
        paths[name] = out / f"op_{name}.tflite"
        paths[name].write_bytes(opmodels.convert(opmodels.build(builder, 100 + i), int8=True, seed=i))
    return paths


def _check(path, seed: int) -> tuple[hostcheck.HostCheckResult, set[str]]:
    return opmodels.check_random(path, seed, SAMPLES, kernels="cm33")


def test_specs_reach_every_cm33_kernel() -> None:
    """Between them the specs above claim every kernel the cm33 set registers
    (test_specialized_kernel_identical then checks the claim)."""
    claimed = set().union(*(s[3] for s in CM33_SPECS))
    assert claimed == {impl.func for impl in entries("cm33")}


@pytest.mark.slow
@pytest.mark.parametrize("name", [s[0] for s in CM33_SPECS])
def test_specialized_kernel_identical(converted: dict, name: str) -> None:
    expected = next(s[3] for s in CM33_SPECS if s[0] == name)
    res, kernels = _check(converted[name], seed=zlib.crc32(name.encode()) % 1000)
    assert expected <= kernels, f"{name}: expected {expected}, the generator chose {kernels}"
    assert res.ok and res.identical_samples == SAMPLES, res.summary()


@pytest.mark.slow
@pytest.mark.parametrize("name", [s[0] for s in OP_SPECS])
def test_operator_suite_identical_with_cm33_kernels(converted: dict, name: str) -> None:
    res, _ = _check(converted[name], seed=zlib.crc32(name.encode()) % 1000)
    assert res.ok and res.identical_samples == SAMPLES, res.summary()


@pytest.mark.slow
def test_unfit_layers_fall_back_to_portable(converted: dict) -> None:
    """Depth multiplier 2 and channel counts not a multiple of 4 have no cm33
    kernel: those layers keep the portable one (and stay exact, above)."""
    name = next(n for n, _, _ in OP_SPECS if n.startswith("dw") and "_m2" in n)
    hm = hostcheck.HostModel(converted[name], kernels="cm33")
    try:
        dw = [la.kernel for la in hm.model.layers if la.op == "DEPTHWISE_CONV_2D"]
    finally:
        hm.close()
    assert dw == ["kiln_dwconv2d_s8"]


@pytest.mark.slow
def test_fashion_mnist_ptq_all_test_images_identical() -> None:
    images, _ = datasets.load_fashion_mnist("test")
    res, kernels = run_both(variant_path("fashion_mnist", "ptq"),
                            images.astype(np.float32) / np.float32(255.0), kernels="cm33")
    assert kernels[:3] == ["kiln_cm33_conv1_pool_s8", "kiln_cm33_copy", "kiln_cm33_fc_s8"]
    assert res.samples == 10000 and res.ok and res.identical_samples == 10000, res.summary()


@pytest.mark.slow
def test_cifar_cnn_ptq_identical() -> None:
    images, _ = datasets.synthetic_images(300, (32, 32, 3), 10, seed=5)
    res, kernels = run_both(variant_path("cifar_cnn", "ptq"),
                            images.astype(np.float32) / np.float32(255.0), kernels="cm33")
    assert {"kiln_cm33_conv_s8", "kiln_cm33_dwconv_s8", "kiln_cm33_add_s8", "kiln_cm33_avgpool_s8",
            "kiln_cm33_fc_s8"} <= set(kernels)
    assert res.ok and res.identical_samples == 300, res.summary()
