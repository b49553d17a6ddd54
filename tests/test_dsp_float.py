"""The dsp set's float32 kernels for the FPU (issue 15): on the host (their
plain-C path) every output equals the portable kernels' bit for bit and stays
within 1e-5 relative of tflite-micro, on shapes that reach each kernel's
cases (padding, stride, dilation, 1x1 read in place, channel and unit counts
that are not multiples of four); on the emulated Cortex-M33 (VMLA)
fashion_mnist's 2:4-pruned float model runs in fewer instructions than its
portable image and its dense image, with the same outputs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import opmodels
import pytest
from kiln import hostcheck, oracle
from support import have, run_scons, variant_path

#: The float kernels these tests reach (the 2:4 one through prune_struct).
FLOAT_KERNELS = {"kiln_dsp_conv_f32", "kiln_dsp_dwconv_f32", "kiln_dsp_fc_f32", "kiln_dsp_maxpool_f32",
                 "kiln_dsp_avgpool_f32", "kiln_dsp_fc_f32_sparse"}


def _specs() -> list[tuple[str, object, tuple[int, ...], set[str]]]:
    k = opmodels._keras()
    L = k.layers
    seq = opmodels._seq
    return [
        ("conv_same_dilated", lambda: seq((9, 8, 3), L.Conv2D(7, 3, padding="same", dilation_rate=2,
                                                              activation="relu")),
         (9, 8, 3), {"kiln_dsp_conv_f32"}),
        ("conv_strided_valid", lambda: seq((11, 7, 5), L.Conv2D(6, (3, 2), strides=(2, 1))),
         (11, 7, 5), {"kiln_dsp_conv_f32"}),
        ("pointwise_in_place", lambda: seq((5, 6, 9), L.Conv2D(13, 1, activation="relu6")),
         (5, 6, 9), {"kiln_dsp_conv_f32"}),
        ("depthwise_pad_stride", lambda: seq((10, 9, 6), L.DepthwiseConv2D(3, strides=2, padding="same",
                                                                          activation="relu")),
         (10, 9, 6), {"kiln_dsp_dwconv_f32"}),
        ("depthwise_5x5_odd_channels", lambda: seq((8, 8, 7), L.DepthwiseConv2D(5, padding="same")),
         (8, 8, 7), {"kiln_dsp_dwconv_f32"}),
        ("pools_same", lambda: seq((9, 9, 5), L.MaxPooling2D(3, strides=2, padding="same"),
                                   L.AveragePooling2D(2, padding="same")),
         (9, 9, 5), {"kiln_dsp_maxpool_f32", "kiln_dsp_avgpool_f32"}),
        ("dense_odd_units", lambda: seq((37,), L.Dense(13, activation="relu"), L.Dense(3)),
         (37,), {"kiln_dsp_fc_f32"}),
    ]


SPECS = _specs()


@contextmanager
def both_kernel_sets(path: Path) -> Iterator[tuple[hostcheck.HostModel, hostcheck.HostModel]]:
    """The model built for the host with the dsp set and with the portable one."""
    dsp = hostcheck.HostModel(path, kernels="dsp")
    portable = hostcheck.HostModel(path, kernels="portable")
    try:
        yield dsp, portable
    finally:
        dsp.close()
        portable.close()


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("float")
    paths = {}
    for i, (name, builder, _, _) in enumerate(SPECS):
        paths[name] = out / f"{name}.tflite"
        paths[name].write_bytes(opmodels.convert(opmodels.build(builder, 700 + i), int8=False))
    return paths


@pytest.mark.slow
@pytest.mark.parametrize("name, shape, expected", [(s[0], s[2], s[3]) for s in SPECS],
                         ids=[s[0] for s in SPECS])
def test_float_kernels_equal_the_portable_ones_and_the_oracle(converted: dict, name: str, shape: tuple,
                                                             expected: set) -> None:
    path = converted[name]
    with both_kernel_sets(path) as (dsp, portable):
        chosen = {la.kernel for la in dsp.model.layers}
        assert expected <= chosen, chosen
        xs = np.random.default_rng(3).normal(0, 1, (12, *shape)).astype(np.float32)
        got = dsp.invoke_many(xs)
        np.testing.assert_array_equal(got, portable.invoke_many(xs))
        ref = oracle.reference_outputs(path, xs)
        np.testing.assert_allclose(got.reshape(ref.shape), ref, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_two_of_four_pruned_dense_layer_runs_sparse_with_the_portable_bits() -> None:
    """prune_struct (tfmot's 2:4) keeps two weights in every four inputs: its dense layer
    runs kiln_dsp_fc_f32_sparse and gives the portable kernels' outputs."""
    with both_kernel_sets(variant_path("fashion_mnist", "prune_struct")) as (dsp, portable):
        assert "kiln_dsp_fc_f32_sparse" in {la.kernel for la in dsp.model.layers}
        xs = np.random.default_rng(4).random((10, 28, 28, 1), dtype=np.float32)
        np.testing.assert_array_equal(dsp.invoke_many(xs), portable.invoke_many(xs))


@pytest.mark.slow
@pytest.mark.skipif(not have("qemu-system-arm") or not have("arm-none-eabi-gcc"),
                    reason="qemu-system-arm or arm-none-eabi-gcc missing (toolchain/setup)")
def test_float_kernels_on_the_emulated_fpu_beat_portable_and_dense() -> None:
    """One benchmark of prune_struct on the emulated M33 (VMLA): its images give the
    same outputs, the FPU kernels beat the portable ones, and the 2:4 layer beats the
    dense float kernel of the same model (SPARSE=off)."""
    proc = run_scons("bench", f"TFLITE={variant_path('fashion_mnist', 'prune_struct')}", "BOARD=mps2_an505")
    assert "outputs of the two images identical on 3 inputs: yes" in proc.stdout
    assert "sparse layers against the dense image (SPARSE=off), outputs identical: yes" in proc.stdout
    rows = {line.split()[2]: line.split() for line in proc.stdout.splitlines()
            if line.strip()[:1].isdigit() and "kiln_" in line and "->" not in line}
    for kernel in ("kiln_dsp_conv_f32", "kiln_dsp_maxpool_f32", "kiln_dsp_fc_f32_sparse"):
        portable, dsp = int(rows[kernel][4]), int(rows[kernel][5])
        assert dsp < portable / 1.5, (kernel, portable, dsp)
    row = next(line for line in proc.stdout.splitlines() if "kiln_dsp_fc_f32 " in line and "->" in line)
    dense, sparse = int(row.split("->")[0].split()[-1]), int(row.split("->")[1].split()[0])
    assert sparse < dense, row
