"""Block-sparse int8 kernels (issue 15): models whose convolution and dense
weights are pruned in Kiln's blocks (kiln.sparsity: four K elements by two
output channels) take kiln_dsp_conv_sparse_s8 and kiln_dsp_fc_sparse_s8,
store fewer weight bytes, and give outputs identical to tflite-micro, on the
host (the kernels' plain C) and on the emulated Cortex-M33 (their assembly);
dense layers keep the dense kernels. The figures (instructions and flash,
dense against sparse) are printed by `scons bench`, not asserted as timings."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from kiln import codegen, hostcheck, oracle, sparsity
from kiln.codegen.layout import Budget
from support import have, run_scons, variant_path
from tflite_patch import tensor_data, weighted_layers

SPARSE = {"kiln_dsp_conv_sparse_s8", "kiln_dsp_fc_sparse_s8"}


def block_pruned(src: Path, dst: Path, share: float, seed: int = 0) -> Path:
    """`src` with `share` of every CONV_2D and FULLY_CONNECTED layer's weight blocks
    zeroed, the smallest first (the weights' bytes changed in place: a valid model)."""
    blob = bytearray(src.read_bytes())
    from kiln.tflite_reader import read_tflite

    graph = read_tflite(src)
    for op in graph.ops:
        if op.op not in ("CONV_2D", "FULLY_CONNECTED"):
            continue
        t = graph.tensors[op.inputs[1]]
        w = tensor_data(blob, op.inputs[1], np.int8)
        rows = w.reshape(t.shape[0], -1)
        mask = sparsity.block_mask(rows.T.astype(np.float32), share).T
        rows[...] = (rows * mask).astype(np.int8)
    dst.write_bytes(bytes(blob))
    assert weighted_layers(blob)   # still a model with weights
    return dst


def _random_inputs(path: Path, n: int, seed: int) -> np.ndarray:
    interp, _ = oracle.open_reference(path)
    d = interp.get_input_details(0)
    rng = np.random.default_rng(seed)
    return rng.integers(-128, 128, size=(n, *d["shape"])).astype(np.dtype(d["dtype"]))


@pytest.fixture(scope="module")
def pruned(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("sparse")
    return {net: block_pruned(variant_path(net, "ptq"), out / f"{net}_sparse.tflite", 0.5)
            for net in ("fashion_mnist", "cifar_cnn")}


@pytest.mark.parametrize("net", ["fashion_mnist", "cifar_cnn"])
def test_block_pruned_layers_run_sparse_and_identical_on_the_host(pruned: dict, net: str) -> None:
    path = pruned[net]
    hm = hostcheck.HostModel(path, kernels="dsp")
    try:
        kernels = {la.op: la.kernel for la in hm.model.layers if la.op in ("CONV_2D", "FULLY_CONNECTED")}
        assert "kiln_dsp_fc_sparse_s8" in kernels.values()
        xs = _random_inputs(path, 20, seed=5)
        got = np.stack([hm.invoke(x) for x in xs])
        np.testing.assert_array_equal(got, oracle.reference_outputs(path, xs).reshape(got.shape))
    finally:
        hm.close()


def test_sparse_weights_take_fewer_bytes_and_dense_layers_keep_dense_kernels(pruned: dict) -> None:
    dense = codegen.compile_model(variant_path("cifar_cnn", "ptq"), kernels="dsp", budget=Budget("speed"))
    sparse = codegen.compile_model(pruned["cifar_cnn"], kernels="dsp", budget=Budget("speed"))
    assert not {la.kernel for la in dense.layers} & SPARSE
    chosen = [la for la in sparse.layers if la.kernel in SPARSE]
    assert chosen
    before = {d.name: d.weight_bytes for d in dense.layers}
    # half the blocks, their indices, and the records (16 bytes a channel) that do not shrink
    for la in chosen:
        assert la.weight_bytes < 0.8 * before[la.name], (la.name, la.weight_bytes, before[la.name])
    assert sum(la.weight_bytes for la in chosen) < 0.62 * sum(before[la.name] for la in chosen)


def test_a_layer_with_too_many_blocks_kept_says_why(tmp_path: Path) -> None:
    path = block_pruned(variant_path("fashion_mnist", "ptq"), tmp_path / "light.tflite", 0.2)
    model = codegen.compile_model(path, kernels="dsp")
    fc = next(la for la in model.layers if la.op == "FULLY_CONNECTED")
    assert fc.kernel == "kiln_dsp_fc_s8"
    assert "80% of its weight blocks are nonzero" in fc.why


@pytest.mark.slow
@pytest.mark.skipif(not have("qemu-system-arm") or not have("arm-none-eabi-gcc"),
                    reason="qemu-system-arm or arm-none-eabi-gcc missing (toolchain/setup)")
def test_sparse_kernels_on_the_emulated_board_match_and_beat_the_dense_image(pruned: dict) -> None:
    """`scons bench TFLITE=` measures the pruned model's dense image (SPARSE=off) beside
    it: the same outputs, and its sparse layers in fewer instructions and bytes."""
    proc = run_scons("bench", f"TFLITE={pruned['cifar_cnn']}", "BOARD=mps2_an505")
    assert "outputs of the two images identical on 3 inputs: yes" in proc.stdout
    assert "sparse layers against the dense image (SPARSE=off), outputs identical: yes" in proc.stdout
    bench = json.loads((Path(proc.stdout.split("bench: written ")[-1].split()[0])).read_text())
    entry = next(v for k, v in bench.items() if isinstance(v, dict) and "layers" in v)
    assert {la["kernel"] for la in entry["layers"]} & SPARSE
    dense = entry["dense"]
    # four: the two 3x3 stride-1 layers run Winograd dense, faster at half the blocks kept
    assert dense["outputs_identical"] and dense["sparse_layers"] >= 4
    assert dense["sparse_layer_instructions"] < dense["dense_layer_instructions"]
    assert dense["sparse_layer_weight_bytes"] < 0.65 * dense["dense_layer_weight_bytes"]


def test_pqat_stores_its_pruned_blocks_sparse() -> None:
    """The pqat recipe prunes in the kernels' blocks: its dense layer runs sparse, and the
    model's weights take at most 60% of ptq's bytes (issue 15's figure)."""
    pqat = codegen.compile_model(variant_path("fashion_mnist", "pqat"), kernels="dsp")
    ptq = codegen.compile_model(variant_path("fashion_mnist", "ptq"), kernels="dsp")
    assert "kiln_dsp_fc_sparse_s8" in {la.kernel for la in pqat.layers}
    assert pqat.weight_bytes <= 0.6 * ptq.weight_bytes, (pqat.weight_bytes, ptq.weight_bytes)
