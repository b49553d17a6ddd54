"""The DSP kernels on the emulated board (the registry's first board
with an [emulator] section, under -icount): the target's own instruction sequences (inline assembly included)
give outputs identical to tflite-micro, and the benchmark's figures meet the
issue's targets (instruction counts are deterministic under -icount, so
these are exact measurements, not timings)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import target_image
from kiln import ROOT, bench, datasets, paths
from kiln.tflite_reader import read_tflite
from support import have, run_scons, variant_path

from host import bench as host_bench
from host.client import Client
from host.qemu import Qemu
from host.reference import Reference

pytestmark = [pytest.mark.skipif(not have("qemu-system-arm") or not have("arm-none-eabi-gcc"),
                                 reason="qemu-system-arm or arm-none-eabi-gcc missing (toolchain/setup)"),
              pytest.mark.slow]

NETS = list(bench.NETS)
#: The board `scons bench` runs on when BOARD= is not an emulated one.
BOARD = bench.board_for("")


def elf(net: str, variant: str, kernels: str) -> Path:
    """Where kiln_bench builds the image (kiln.paths.firmware_dir of the bench board)."""
    return paths.firmware_elf(BOARD.name, net, variant, kernels)


@pytest.fixture(scope="module")
def images() -> dict:
    """The four benchmark images, built through scons."""
    for net, variant in NETS:
        variant_path(net, variant)
    targets = [str(elf(n, v, k).relative_to(ROOT)) for n, v in NETS for k in ("portable", "dsp")]
    run_scons("-j2", f"BOARD={BOARD.name}", *targets)
    return {(n, v, k): elf(n, v, k) for n, v in NETS for k in ("portable", "dsp")}


def _device_outputs(path: Path, inputs: list[bytes], out_bytes: int) -> list[bytes]:
    with Qemu.for_board(BOARD, path) as q, Client(q.port) as client:
        model = client.info()["model"]
        assert {la["kernel"] for la in model["layers"]} & {"kiln_dsp_conv_s8", "kiln_dsp_conv1_pool_s8"}
        return [r.output for r in client.infer_stream(list(enumerate(inputs)), out_bytes)]


def test_fashion_mnist_dsp_on_qemu_matches_tflite_micro(images) -> None:
    ref = Reference(paths.tflite("fashion_mnist", "ptq"))
    x, _ = datasets.load_fashion_mnist("test")
    data = [ref.encode(img.astype(np.float32) / np.float32(255.0)) for img in x[:40]]
    got = _device_outputs(images[("fashion_mnist", "ptq", "dsp")], data, ref.output.nbytes)
    expected = [ref.run(d) for d in data]
    assert len(set(expected)) > 2
    assert got == expected


def test_cifar_cnn_dsp_on_qemu_matches_tflite_micro(images) -> None:
    ref = Reference(paths.tflite("cifar_cnn", "ptq"))
    x, _ = datasets.synthetic_images(8, (32, 32, 3), 10, seed=9)
    data = [ref.encode(img.astype(np.float32) / np.float32(255.0)) for img in x]
    got = _device_outputs(images[("cifar_cnn", "ptq", "dsp")], data, ref.output.nbytes)
    assert got == [ref.run(d) for d in data]


def test_bench_meets_the_targets(images, tmp_path) -> None:
    pairs = [(n, v, str(images[(n, v, "portable")]), str(images[(n, v, "dsp")])) for n, v in NETS]
    out = tmp_path / "bench.json"
    host_bench.run(BOARD, "dsp", pairs, out)
    data = json.loads(out.read_text())
    fm, cf = data["fashion_mnist"], data["cifar_cnn"]
    for entry in (fm, cf):
        assert entry["outputs_identical"]
        for key in ("macs", "instructions", "instructions_per_mac", "layers"):
            assert key in entry and key in entry["portable"]
        assert sum(la["macs"] for la in entry["layers"]) == entry["macs"]
        for la in entry["layers"]:
            if la["op"] in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
                assert la["kernel"].startswith("kiln_dsp_"), la
                assert la["speedup"] >= 4.0, la
    assert fm["macs"] == _macs_from_shapes(paths.tflite("fashion_mnist", "ptq"))
    assert fm["instructions_per_mac"] <= 2.0, fm["instructions"]
    assert cf["instructions_per_mac"] <= 1.3, cf["instructions"]


def _macs_from_shapes(tflite: Path) -> int:
    """Multiply-accumulates of the model's convolutions and dense layers,
    counted from their tensors' shapes (output elements x taps)."""
    g = read_tflite(tflite)
    total = 0
    for op in g.ops:
        out, w = g.tensors[op.outputs[0]], g.tensors[op.inputs[1]] if len(op.inputs) > 1 else None
        if op.op == "CONV_2D":
            total += out.size * w.shape[1] * w.shape[2] * w.shape[3]
        elif op.op == "FULLY_CONNECTED":
            total += out.size * w.shape[1]
    return total


# ---- the specialized kernels one by one, on the target -----------------------------

#: Models of test_dsp_fidelity run on the board: the inline-assembly paths
#: (conv1 + pool without clamp, the conv's LDM loop with odd/even groups and
#: an odd channel count, the planar depthwise loop with an odd output width)
#: and the C paths the host cannot tell apart.
TARGET_SPECS = ["conv1_pool_odd_noact", "conv1_pool_relu6", "conv1_pool_relu_chunks", "conv_c16_s2_odd_out",
                "conv_dilated",
                "conv_dil_h2_c8", "stem3_valid_odd", "stem3_same_s1_relu", "conv_c3_same_relu6",
                "conv_5x5_c2", "dw_c16_s2", "dw_c8_same_relu", "dw3_c5_valid_relu6", "dw3_c3_same_w13",
                "dw3_c12_w11", "dw3s2_c8_same_tall", "dw3s2_c6_valid", "dw3s2_c4_same_relu6",
                "dw3_c8_tall_odd", "dw3_c4_tall_valid_relu6", "dw3_c32_same_w3", "dw_9x9_c6",
                "pw8_c16", "pw8_c5", "pw8_c7_relu6", "dense_20_7", "dense_44_10", "dense_b3_18_8",
                "dense_46_14", "maxpool_c8_same", "avgpool_c8_same", "add_residual", "mul_se_block",
                "add_sub_row_mean", "mean_gap_272px", "wino_c16_same_odd_relu", "wino_c8_valid_oc9",
                "wino_c32_same_relu6", "wino_c12_1x1_out", "conv_k576_oc15",
                "conv_rowword_c1_10x4_s2", "conv_rowword_c2_dil_h", "conv_rowword_c1_narrow",
                "conv_1x1_c64", "conv_1x1_c128_odd_px", "conv_1x1_c80", "conv_1x1", "avgpool_global_c12_odd",
                "resize_up2_c8", "reduce_max_gmp_c12", "dw5_c8_same_relu6", "dw5_c4_bands",
                "sqdiff_layer_norm", "matmul_mha_3heads", "mean_gap1d_c40", "narrow_oc1_same",
                "dense_rows_5x12", "conv_3x1_c1_s2", "matmul_ta_tiles", "matmul_attention_odd",
                "transpose_2d_odd", "transpose_rank5", "nearest_up2_c16", "nearest_c3_down",
                "minmax_hard_sigmoid", "minmax_rows"]


def _firmware(tflite: Path, workdir: Path, runtime_objs: list[Path], optimize: str = "speed") -> Path:
    return target_image.firmware(BOARD, tflite, workdir, runtime_objs, optimize)


@pytest.fixture(scope="module")
def target_objects(tmp_path_factory) -> list[Path]:
    """Runtime (portable + dsp) and board objects, compiled once (the app
    includes the model's header, so _firmware compiles it with each model)."""
    return target_image.runtime_objects(BOARD, tmp_path_factory.mktemp("dspobjs"))


@pytest.fixture(scope="module")
def target_models(dsp_spec_models) -> dict:
    """The TARGET_SPECS models: test_dsp_fidelity's, converted once for both."""
    return dsp_spec_models


@pytest.mark.parametrize("name", TARGET_SPECS)
def test_specialized_kernel_on_qemu_matches_tflite_micro(name, target_models, target_objects,
                                                         tmp_path) -> None:
    path = target_models[name]
    image = _firmware(path, tmp_path, target_objects)
    ref = Reference(path)
    rng = np.random.default_rng(len(name))
    data = [rng.integers(-128, 128, ref.input.nbytes, dtype=np.int8).tobytes() for _ in range(12)]
    with Qemu.for_board(BOARD, image) as q, Client(q.port) as client:
        kernels = {la["kernel"] for la in client.info()["model"]["layers"]}
        got = [r.output for r in client.infer_stream(list(enumerate(data)), ref.output.nbytes)]
    assert any(k.startswith("kiln_dsp_") for k in kernels), kernels
    expected = [ref.run(d) for d in data]
    assert len(set(expected)) > 1
    assert got == expected


@pytest.mark.parametrize("name,kernel", [("dense_20_7", "kiln_dsp_fc_w8_s8"),
                                         ("dense_46_14", "kiln_dsp_fc_w8_s8"),
                                         ("dense_b3_18_8", "kiln_dsp_fc_w8_s8"),
                                         ("conv_k576_oc15", "kiln_dsp_wino_w8_s8"),
                                         ("wino_c16_same_odd_relu", "kiln_dsp_wino_w8_s8"),
                                         ("wino_c64_blocks", "kiln_dsp_wino_w8_s8")])
def test_size_layout_on_qemu_matches_tflite_micro(name, kernel, target_models, target_objects,
                                                  tmp_path) -> None:
    """The int8-weight FC's assembly (groups in pairs after an odd first one, a partial
    last group, blocks of 6, 2 and 1 rows) and Winograd's U made at run time (SADD16 and
    SSUB16 on the target: the three ways of keeping U and the inputs' transforms)."""
    path = target_models[name]
    image = _firmware(path, tmp_path, target_objects, optimize="size")
    ref = Reference(path)
    rng = np.random.default_rng(len(name) + 1)
    data = [rng.integers(-128, 128, ref.input.nbytes, dtype=np.int8).tobytes() for _ in range(12)]
    data.append(bytes([0x80]) * ref.input.nbytes)          # the inputs' extremes
    data.append(bytes([0x7F]) * ref.input.nbytes)
    with Qemu.for_board(BOARD, image) as q, Client(q.port) as client:
        kernels = {la["kernel"] for la in client.info()["model"]["layers"]}
        got = [r.output for r in client.infer_stream(list(enumerate(data)), ref.output.nbytes)]
    assert kernel in kernels, kernels
    assert got == [ref.run(d) for d in data]


@pytest.mark.parametrize("name", ["q_f32_s8", "dq_s8_f32", "q_s8_u8", "logistic", "hard_swish",
                                  "softmax_wide", "concat_channels"])
def test_table_kernel_on_qemu_matches_tflite_micro(name, target_objects, tmp_path_factory,
                                                   tmp_path) -> None:
    """The table kernels on the target (QUANTIZE from float32 rounds with VCVTA there,
    a path the host build cannot take), every input byte or rounding boundary."""
    import test_dsp_tables as tables

    models = tables.Converted(tmp_path_factory.mktemp("tables"))
    path = models[name]
    image = _firmware(path, tmp_path, target_objects)
    ref = Reference(path)
    spec = next((s for s in tables.QUANT_SPECS if s[0] == name), None)
    if spec is not None:
        xs = tables.quant_inputs(spec[2], spec[5])
        if xs.shape[0] == 1:   # every byte value once: shuffled into several requests
            xs = np.stack([np.random.default_rng(k).permutation(xs[0]) for k in range(6)])
        data = [x.tobytes() for x in xs[:24]]
    else:
        rng = np.random.default_rng(len(name))
        data = [rng.integers(-128, 128, ref.input.nbytes, dtype=np.int8).tobytes() for _ in range(24)]
    with Qemu.for_board(BOARD, image) as q, Client(q.port) as client:
        kernels = {la["kernel"] for la in client.info()["model"]["layers"]}
        got = [r.output for r in client.infer_stream(list(enumerate(data)), ref.output.nbytes)]
    assert kernels & tables.KERNELS, kernels
    expected = [ref.run(d) for d in data]
    assert len(set(expected)) > 1
    assert got == expected


@pytest.mark.parametrize("k", [1, 5])
def test_lowered_transpose_conv_on_qemu_matches_tflite_micro(k: int, target_objects, tmp_path) -> None:
    """kiln.lowering's convolutions on the target's assembly (explicit leading padding
    in the block-sparse and Winograd kernels), then the interleave and crop, against
    tflite-micro running the model's TRANSPOSE_CONV (the host runs all the cases)."""
    import test_lowering

    path = tmp_path / "tconv.tflite"
    path.write_bytes(test_lowering.model(k))
    image = _firmware(path, tmp_path, target_objects)
    ref = Reference(path)
    rng = np.random.default_rng(k)
    data = [rng.integers(-128, 128, ref.input.nbytes, dtype=np.int8).tobytes() for _ in range(12)]
    data += [bytes([0x80]) * ref.input.nbytes, bytes([0x7F]) * ref.input.nbytes]
    with Qemu.for_board(BOARD, image) as q, Client(q.port) as client:
        kernels = {la["kernel"] for la in client.info()["model"]["layers"]}
        got = [r.output for r in client.infer_stream(list(enumerate(data)), ref.output.nbytes)]
    assert "kiln_transpose_conv_s8" not in kernels, kernels
    expected = [ref.run(d) for d in data]
    assert len(set(expected)) > 1
    assert got == expected
