"""Any trained .tflite in (issue 11): TFLITE= with every target, and models
with uint8 inputs and outputs (ST model zoo style: QUANTIZE uint8->int8 after
the input, int8->uint8 before the output), bit-exact with tflite-micro; and
TFLite's float16 quantization (float16 weights behind DEQUANTIZE), which Kiln
folds into float32 constants.

The uint8 model is made here with the real TFLite converter
(inference_input_type / inference_output_type uint8).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from kiln import boards, paths
from kiln.codegen.registry import select
from kiln.tflite_reader import read_tflite
from support import ROOT, run_scons


def _uint8_model(path: Path, seed: int = 3) -> Path:
    """A small conv + dense int8 model with uint8 input and output, converted by TFLite."""
    import warnings

    import tensorflow as tf
    from opmodels import _keras, _randomize, _seq

    warnings.filterwarnings("ignore", message="Statistics for quantized inputs")
    layers = _keras().layers
    model = _seq((8, 8, 1), layers.Conv2D(4, 3, activation="relu"), layers.Flatten(), layers.Dense(5))
    _randomize(model, seed)
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    rng = np.random.default_rng(seed)

    def rep():  # images in [0, 1], as a uint8 image model is trained on
        for _ in range(32):
            yield [rng.uniform(0.0, 1.0, (1, 8, 8, 1)).astype(np.float32)]

    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = rep
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.uint8
    conv.inference_output_type = tf.uint8
    path.write_bytes(conv.convert())
    return path


@pytest.fixture(scope="module")
def uint8_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The uint8-I/O model, under a name of its own (its build folder is named by it)."""
    return _uint8_model(tmp_path_factory.mktemp("u8") / "kiln_test_zoo_u8.tflite")


def test_uint8_model_edges_are_requantizations(uint8_model: Path) -> None:
    """The converter puts QUANTIZE uint8->int8 first and int8->uint8 last; Kiln has a kernel for each."""
    g = read_tflite(uint8_model)
    first, last = g.ops[0], g.ops[-1]
    assert (g.tensors[first.inputs[0]].dtype, g.tensors[first.outputs[0]].dtype) == ("uint8", "int8")
    assert (g.tensors[last.inputs[0]].dtype, g.tensors[last.outputs[0]].dtype) == ("int8", "uint8")
    assert select(g, first).func == "kiln_requantize_u8_s8"
    assert select(g, last).func == "kiln_requantize_s8_u8"


def test_uint8_model_bit_exact_on_the_host(uint8_model: Path, tmp_path: Path) -> None:
    """Random uint8 inputs, and a float dataset quantized as the model's input says."""
    from kiln import hostcheck, quantmath

    res = hostcheck.check_host(uint8_model, count=200)
    assert res.ok and res.identical_samples == 200 and res.dtype == "uint8", res.summary()

    x = np.random.default_rng(7).uniform(0.0, 1.0, (40, 8, 8, 1)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    hm = hostcheck.HostModel(uint8_model)
    try:
        xs = hostcheck.make_inputs(hm, tmp_path / "x.npy", 0)
        scale, zp = hm.model.input["scale"], hm.model.input["zero_point"]
    finally:
        hm.close()
    assert xs.dtype == np.uint8
    assert np.array_equal(xs.reshape(x.shape), quantmath.quantize(x, scale, zp, "uint8"))
    res = hostcheck.check_host(uint8_model, tmp_path / "x.npy")
    assert res.ok and res.samples == 40, res.summary()


@pytest.mark.slow
def test_float16_weights_run_as_float32(tmp_path: Path) -> None:
    """TFLite's float16 quantization: every weight float16 behind a DEQUANTIZE. Kiln
    folds them into float32 constants; tflite-micro cannot run the file, so the oracle
    is TensorFlow Lite's reference interpreter, and the outputs agree within 1e-5."""
    import tensorflow as tf
    from kiln import hostcheck, oracle
    from opmodels import _keras, _randomize, _seq

    layers = _keras().layers
    model = _seq((8, 8, 2), layers.Conv2D(4, 3, activation="relu"), layers.Flatten(), layers.Dense(5))
    _randomize(model, 5)
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.target_spec.supported_types = [tf.float16]
    path = tmp_path / "f16.tflite"
    path.write_bytes(conv.convert())
    g = read_tflite(path)
    assert any(t.dtype == "float16" for t in g.tensors)
    assert not any(op.op == "DEQUANTIZE" for op in g.ops), "the float16 weights were not folded"
    assert oracle.open_reference(path, g)[1] == oracle.TFLITE
    res = hostcheck.check_host(path, count=50)
    assert res.ok and res.samples == 50 and res.dtype == "float32", res.summary()


def test_host_reference_encodes_uint8(uint8_model: Path) -> None:
    """host/reference.py: floats quantized to uint8, uint8 passed unchanged, int8 refused."""
    from kiln.errors import KilnError
    from kiln.quantmath import quantize

    from host.reference import Reference

    ref = Reference(uint8_model)
    assert ref.input.dtype == "uint8" and ref.output.dtype == "uint8"
    x = np.linspace(0.0, 1.0, 64, dtype=np.float32).reshape(8, 8, 1)
    assert ref.encode(x) == quantize(x, ref.input.scale, ref.input.zero_point, "uint8").tobytes()
    raw = np.arange(64, dtype=np.uint8).reshape(8, 8, 1)
    assert ref.encode(raw) == raw.tobytes()
    with pytest.raises(KilnError, match="int8 inputs given"):
        ref.encode(raw.astype(np.int8))
    out = ref.decode_output(ref.run(ref.encode(raw)))
    assert out.dtype == np.uint8 and out.size == 5


def test_tflite_with_model_is_one_clear_error(uint8_model: Path) -> None:
    proc = run_scons(f"TFLITE={uint8_model}", "MODEL=qat", check=False)
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if line.startswith("scons: ***")]
    assert len(errors) == 1, proc.stderr
    assert "TFLITE=" in errors[0] and "MODEL=qat" in errors[0] and "drop MODEL" in errors[0]


def test_tflite_with_net_is_one_clear_error(uint8_model: Path) -> None:
    proc = run_scons(f"TFLITE={uint8_model}", "NET=fashion_mnist", "check-host", check=False)
    assert proc.returncode != 0 and "drop NET" in proc.stderr and proc.stderr.count("scons: ***") == 1


def test_tflite_of_a_missing_file_is_one_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.tflite"
    proc = run_scons(f"TFLITE={missing}", check=False)
    assert proc.returncode != 0 and proc.stderr.count("scons: ***") == 1
    assert f"TFLITE={missing}: no such file" in proc.stderr


def test_tflite_firmware_folder_is_named_by_the_file() -> None:
    out = paths.tflite_firmware_dir("b", "/x/y/zoo_model.tflite", "portable")
    assert out == paths.BUILD / "b" / "tflite" / "zoo_model" / "portable"
    assert paths.tflite_firmware_elf("b", "zoo_model.tflite", "dsp").name == "firmware.elf"


@pytest.mark.slow
def test_uint8_model_end_to_end_on_the_emulated_board(uint8_model: Path, tmp_path: Path,
                                                      cross_compiler: None, emulator: None) -> None:
    """scons TFLITE=..., then infer (bit-exact with the host), size-report and info on it."""
    board = boards.emulated()[0]
    model = tmp_path / uint8_model.name
    shutil.copy(uint8_model, model)
    common = (f"TFLITE={model}", f"BOARD={board}", "KERNELS=portable")
    out = paths.tflite_firmware_dir(board, model, "portable")
    shutil.rmtree(out, ignore_errors=True)
    try:
        build = run_scons(*common)
        # The default target builds this file's firmware, not the default network's.
        assert (out / "firmware.elf").is_file() and "fashion_mnist" not in build.stdout

        # A float dataset without labels: fidelity and latency, no accuracy.
        x = np.random.default_rng(11).uniform(0.0, 1.0, (60, 8, 8, 1)).astype(np.float32)
        np.save(tmp_path / "x.npy", x)
        proc = run_scons("infer", *common, f"DATASET={tmp_path / 'x.npy'}", "LIMIT=50")
        summary = json.loads((out / "infer.json").read_text())
        assert summary["samples"] == 50 and summary["fidelity"] == 1.0, proc.stdout[-3000:]
        assert summary["device_accuracy"] is None and "no labels" in proc.stdout
        assert any(layer["kernel"] == "kiln_requantize_u8_s8" for layer in summary["layers"])

        # uint8 inputs with labels beside them: sent unchanged, accuracy measured.
        raw = np.random.default_rng(12).integers(0, 256, (20, 8, 8, 1), dtype=np.uint8)
        np.save(tmp_path / "raw.npy", raw)
        np.save(tmp_path / "raw_labels.npy", np.arange(20) % 5)
        run_scons("infer", *common, f"DATASET={tmp_path / 'raw.npy'}")
        summary = json.loads((out / "infer.json").read_text())
        assert summary["samples"] == 20 and summary["fidelity"] == 1.0
        assert summary["device_accuracy"] is not None

        size = run_scons("size-report", *common)
        assert (out / "size.json").is_file() and "kiln_requantize_s8_u8" in size.stdout

        info = run_scons("info", *common)
        assert "uint8 [1, 8, 8, 1]" in info.stdout and model.stem in info.stdout

        # bench: this file's portable and optimized images, its figures beside them.
        run_scons("bench", f"TFLITE={model}", f"BOARD={board}")
        figures = json.loads(paths.tflite_bench_json(board, model).read_text())
        entry = figures["tflite"]  # host.bench keys by the pair's first part
        assert entry["outputs_identical"] and entry["instructions"] > 0
    finally:
        shutil.rmtree(out.parent, ignore_errors=True)
    assert str(out.relative_to(ROOT)).startswith(f"build/{board}/tflite/{model.stem}/")


def test_infer_checks_the_board_runs_the_given_tflite(uint8_model: Path) -> None:
    """infer's INFO check compares the board's model sha256 with TFLITE=, and its
    hint names TFLITE=, not NET/MODEL."""
    import argparse

    from kiln.errors import KilnError

    from host.infer import check_info
    from host.reference import Reference

    ref = Reference(uint8_model)
    args = argparse.Namespace(net="fashion_mnist", variant="ptq", board="mps2_an505", port="",
                              select=f"TFLITE={uint8_model}")
    model = {"name": uint8_model.stem, "tflite_sha256": ref.sha256, "inputs": [ref.input.as_info()],
             "outputs": [ref.output.as_info()]}
    check_info({"board": "mps2_an505", "model": model}, ref, args)  # the same file: accepted
    other = dict(model, tflite_sha256="0" * 64)
    with pytest.raises(KilnError, match=f"flash this one with 'scons flash TFLITE={uint8_model} "
                                        "BOARD=mps2_an505'") as exc:
        check_info({"board": "mps2_an505", "model": other}, ref, args)
    assert "MODEL=" not in str(exc.value)


def test_models_with_tflite_is_one_clear_error(uint8_model: Path) -> None:
    """`models` makes the networks' variants; with TFLITE= it would silently ignore the file."""
    proc = run_scons("models", f"TFLITE={uint8_model}", check=False)
    assert proc.returncode != 0 and proc.stderr.count("scons: ***") == 1 and "drop TFLITE=" in proc.stderr
