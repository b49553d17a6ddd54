"""Models with several inputs and outputs (issue 12): the generated C takes all inputs back to
back and returns all outputs, the host check compares every output with tflite-micro, and the
board answers INFO with every tensor and INFER with every output, bit-exact."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from kiln import boards, codegen, hostcheck, paths
from support import have, run_scons


def _convert(model, inputs: int) -> bytes:  # noqa: ANN001 - a tf_keras model
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    rng = np.random.default_rng(0)

    def rep():  # noqa: ANN202 - a generator
        for _ in range(32):
            yield [rng.uniform(-1, 1, [1, *t.shape[1:]]).astype(np.float32) for t in model.inputs[:inputs]]

    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = rep
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    return conv.convert()


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """two_in: two inputs, two outputs; heads: one image in, a class head and a box head out."""
    import tf_keras as k

    out = tmp_path_factory.mktemp("multi")
    L = k.layers
    a, b = k.Input((6, 6, 3), batch_size=1), k.Input((6, 6, 3), batch_size=1)
    x = L.Conv2D(4, 3, padding="same", activation="relu")(L.Add()([a, b]))
    p = L.Dense(5)(L.Flatten()(x))
    q = L.Conv2D(2, 1)(L.Multiply()([a, b]))
    two_in = k.Model([a, b], [p, q])
    i = k.Input((8, 8, 1), batch_size=1)
    f = L.MaxPooling2D()(L.Conv2D(6, 3, activation="relu")(i))
    cls = L.Dense(4, name="classes")(L.Flatten()(f))
    box = L.Dense(4, name="boxes")(L.GlobalAveragePooling2D()(f))
    heads = k.Model(i, [box, cls])
    for name, model, n in (("two_in", two_in, 2), ("heads", heads, 1)):
        (out / f"{name}.tflite").write_bytes(_convert(model, n))
    return {"two_in": out / "two_in.tflite", "heads": out / "heads.tflite"}


def test_descriptor_lists_every_tensor(models: dict[str, Path]) -> None:
    m = codegen.compile_model(models["two_in"])
    assert len(m.inputs) == 2 and len(m.outputs) == 2
    assert [t["at"] for t in m.inputs] == [0, m.inputs[0]["bytes"]]
    assert m.input_bytes == 2 * 6 * 6 * 3 and m.output_bytes == 5 + 6 * 6 * 2
    assert [t["name"] for t in m.descriptor["outputs"]] == [t["name"] for t in m.outputs]
    header = m.render()["kiln_model.h"]
    assert f"KILN_MODEL_INPUT_BYTES {m.input_bytes}u" in header and "KILN_MODEL_N_OUTPUTS 2u" in header


@pytest.mark.parametrize("name", ["two_in", "heads"])
def test_every_output_identical_on_the_host(models: dict[str, Path], name: str) -> None:
    res = hostcheck.check_host(models[name], count=40)
    assert res.ok and res.identical_samples == 40, res.summary()


@pytest.mark.slow
@pytest.mark.skipif(not have("qemu-system-arm") or not have("arm-none-eabi-gcc"),
                    reason="qemu-system-arm or arm-none-eabi-gcc missing (toolchain/setup)")
def test_board_runs_several_inputs_and_outputs(models: dict[str, Path], tmp_path: Path) -> None:
    from host.client import Client
    from host.qemu import Qemu
    from host.reference import Reference

    board = boards.load(boards.emulated()[0])
    model = tmp_path / "kiln_test_two_in.tflite"
    shutil.copy(models["two_in"], model)
    out = paths.tflite_firmware_dir(board.name, model, "portable")
    try:
        run_scons(f"TFLITE={model}", f"BOARD={board.name}", "KERNELS=portable")
        ref = Reference(model)
        rng = np.random.default_rng(3)
        with Qemu.for_board(board, out / "firmware.elf") as q, Client(q.port, board.default_baud) as link:
            info = link.info()
            assert info["protocol"] == 2
            assert [t["shape"] for t in info["model"]["inputs"]] == [[1, 6, 6, 3], [1, 6, 6, 3]]
            assert len(info["model"]["outputs"]) == 2
            wires = [ref.encode([rng.uniform(-1, 1, (1, 6, 6, 3)), rng.uniform(-1, 1, (1, 6, 6, 3))])
                     for _ in range(10)]
            results = list(link.infer_stream(enumerate(wires), ref.output_bytes))
            assert len(results) == 10
            for res in results:
                assert res.output == ref.run(wires[res.key])
                assert sorted(a.size for a in ref.split_outputs(res.output)) == [5, 72]
        # infer feeds both inputs from one .npz (arrays in the inputs' order), labels beside them.
        np.savez(tmp_path / "pairs.npz", a=rng.uniform(-1, 1, (12, 6, 6, 3)).astype(np.float32),
                 b=rng.uniform(-1, 1, (12, 6, 6, 3)).astype(np.float32), labels=np.arange(12) % 5)
        run_scons("infer", f"TFLITE={model}", f"BOARD={board.name}", "KERNELS=portable",
                  f"DATASET={tmp_path / 'pairs.npz'}")
        summary = json.loads((out / "infer.json").read_text())
        assert summary["samples"] == 12 and summary["fidelity"] == 1.0
        assert summary["device_accuracy"] is not None and len(summary["fidelity_per_output"]) == 2
    finally:
        shutil.rmtree(out.parent, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.skipif(not have("qemu-system-arm") or not have("arm-none-eabi-gcc"),
                    reason="qemu-system-arm or arm-none-eabi-gcc missing (toolchain/setup)")
def test_infer_reads_the_named_output(models: dict[str, Path], tmp_path: Path) -> None:
    board = boards.emulated()[0]
    model = tmp_path / "kiln_test_heads.tflite"
    shutil.copy(models["heads"], model)
    x = np.random.default_rng(5).uniform(0, 1, (30, 8, 8, 1)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "x_labels.npy", np.arange(30) % 4)
    out = paths.tflite_firmware_dir(board, model, "portable")
    common = (f"TFLITE={model}", f"BOARD={board}", "KERNELS=portable", f"DATASET={tmp_path / 'x.npy'}")
    try:
        bad = run_scons("infer", *common, "OUTPUT=nothing", check=False)
        assert bad.returncode != 0 and "no output named 'nothing'" in bad.stdout + bad.stderr
        names = [t["name"] for t in codegen.compile_model(model).outputs]
        # The converter names outputs after its graph (StatefulPartitionedCall:1...): the second.
        run_scons("infer", *common, f"OUTPUT={names[1]}", "LIMIT=20")
        summary = json.loads((out / "infer.json").read_text())
        assert summary["samples"] == 20 and summary["fidelity"] == 1.0
        assert summary["fidelity_per_output"] == [1.0, 1.0]
    finally:
        shutil.rmtree(out.parent, ignore_errors=True)
