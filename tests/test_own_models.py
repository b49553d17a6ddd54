"""Any trained model in (issue 11): a network folder needs a model and a net.toml, no Python.

A small Keras 3 CNN is trained here on a Fashion-MNIST subset saved as .npy
files, then saved the ways users bring models: a .keras file, a SavedModel,
and a .tflite with uint8 input and output. Each becomes a network with
`scons new-net` in a clean copy of the repository and runs on the emulated
board bit-exact with the host reference. The ONNX network exported from
PyTorch (models/fashion_torch) runs the same way.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest
from kiln import boards, datasets, paths
from kiln import firmware as fw
from support import ROOT, have, run_scons, tracked_copy

pytestmark = [pytest.mark.skipif(not have("qemu-system-arm") or not have("arm-none-eabi-gcc"),
                                 reason="qemu-system-arm or arm-none-eabi-gcc missing (toolchain/setup)"),
              pytest.mark.slow]

BOARD = boards.emulated()[0]
SAMPLES = 50


def _train_keras3(data: Path, out: Path) -> None:
    """Train a small Keras 3 functional CNN (with a residual add) on the .npy subset; save it three ways."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(5)
    x = np.load(data / "x_train.npy").astype("float32") / 255.0
    y = np.load(data / "y_train.npy")
    inp = keras.Input((28, 28, 1))
    a = keras.layers.MaxPooling2D()(keras.layers.Conv2D(6, 3, activation="relu")(inp))
    b = keras.layers.Conv2D(6, 3, padding="same")(a)
    c = keras.layers.ReLU()(keras.layers.Add()([a, b]))
    model = keras.Model(inp, keras.layers.Dense(10)(keras.layers.Flatten()(c)))
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=2, batch_size=64, verbose=0)
    model.save(out / "cnn.keras")
    model.export(str(out / "saved"), verbose=False)

    @tf.function
    def serve(t: tf.Tensor) -> tf.Tensor:
        return model(t, training=False)

    concrete = serve.get_concrete_function(tf.TensorSpec([1, 28, 28, 1], tf.float32))
    conv = tf.lite.TFLiteConverter.from_concrete_functions([concrete])
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([x[i: i + 1]] for i in range(100))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.uint8  # ST model zoo style: uint8 in and out
    conv.inference_output_type = tf.uint8
    (out / "zoo_u8.tflite").write_bytes(conv.convert())


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A clean copy of the repository, the .npy data and the trained models."""
    base = tmp_path_factory.mktemp("own")
    data = base / "data"
    data.mkdir()
    x_train, y_train = datasets.load_fashion_mnist("train")
    x_test, y_test = datasets.load_fashion_mnist("test")
    np.save(data / "x_train.npy", x_train[:1200])
    np.save(data / "y_train.npy", y_train[:1200])
    np.save(data / "x_test.npy", x_test[:300])
    np.save(data / "y_test.npy", y_test[:300])
    _train_keras3(data, base)
    return {"tree": tracked_copy(base / "repo"), "data": data, "models": base}


def _infer(tree: Path, net: str, variant: str) -> dict:
    """Run infer on the emulated board; the summary it wrote."""
    run_scons("-j2", "infer", f"NET={net}", f"MODEL={variant}", f"BOARD={BOARD}", f"LIMIT={SAMPLES}",
              cwd=tree, timeout=900)
    kernels = fw.resolve_kernels("auto", fw.cpu_flags(boards.load(BOARD).cpu))
    out = tree / paths.firmware_dir(BOARD, net, variant, kernels).relative_to(ROOT)
    return json.loads((out / "infer.json").read_text())


def _new_net(world: dict, net: str, source: str, *extra: str) -> dict:
    run_scons("new-net", f"NET={net}", f"FROM={world['models'] / source}",
              f"DATASET={world['data'] / 'x_test.npy'}", *extra, cwd=world["tree"], timeout=600)
    return tomllib.loads((world["tree"] / "models" / net / "net.toml").read_text())


def test_keras3_folder_builds_every_variant_and_runs_bit_exact(world: dict) -> None:
    manifest = _new_net(world, "own_k3", "cnn.keras")
    # Found beside the test inputs by name: the training split, for calibration and fine-tuning.
    assert manifest["dataset"]["train_x"].endswith("x_train.npy")
    assert manifest["model"]["output"] == "logits"
    tree = world["tree"]
    run_scons("-j2", "models", "NET=own_k3", cwd=tree, timeout=1500)
    reports = {v: json.loads((tree / "build/models/own_k3" / f"{v}.json").read_text())
               for v in ("float", "dynamic", "ptq", "qat", "prune_struct", "prune_unstruct", "prune_poly",
                         "pqat")}
    assert all(r["accuracy"] > 0.5 for r in reports.values()), {v: r["accuracy"] for v, r in reports.items()}
    # The fine-tuned variants ran on a tf_keras twin whose outputs matched the Keras 3 model.
    assert reports["qat"]["carry_over"]["max_abs_diff"] < 1e-4
    assert reports["prune_unstruct"]["sparsity"] > 0.45
    summary = _infer(tree, "own_k3", "ptq")
    assert summary["samples"] == SAMPLES and summary["fidelity"] == 1.0


def test_savedmodel_folder_runs_bit_exact(world: dict) -> None:
    _new_net(world, "own_sm", "saved")
    summary = _infer(world["tree"], "own_sm", "ptq")
    assert summary["samples"] == SAMPLES and summary["fidelity"] == 1.0 and summary["device_accuracy"] > 0.5
    refused = run_scons("NET=own_sm", "MODEL=qat", cwd=world["tree"], check=False)
    assert refused.returncode == 2 and "SavedModel" in refused.stderr and "MODEL=float, dynamic, ptq" in \
        refused.stderr


def test_uint8_tflite_folder_runs_as_given(world: dict) -> None:
    manifest = _new_net(world, "own_zoo", "zoo_u8.tflite")
    assert manifest["model"]["file"] == "model.tflite"
    summary = _infer(world["tree"], "own_zoo", "given")
    assert summary["samples"] == SAMPLES and summary["fidelity"] == 1.0 and summary["device_accuracy"] > 0.5
    refused = run_scons("NET=own_zoo", "MODEL=ptq", cwd=world["tree"], check=False)
    assert refused.returncode == 2 and "already converted" in refused.stderr


@pytest.mark.skipif(not (ROOT / "models/fashion_torch/model.onnx").is_file(), reason="no ONNX example")
def test_onnx_from_pytorch_runs_bit_exact(world: dict) -> None:
    tree = world["tree"]
    summary = _infer(tree, "fashion_torch", "ptq")
    assert summary["samples"] == SAMPLES and summary["fidelity"] == 1.0 and summary["device_accuracy"] > 0.6
    report = json.loads((tree / "build/models/fashion_torch/ptq.json").read_text())
    check = report["source_check"]
    assert check["reference"] == "onnxruntime" and check["max_abs_diff"] <= check["tolerance"]
    assert "TRANSPOSE" not in report["operators"], report["operators"]
    # new-net takes an .onnx like any other model file: logits told from sample outputs.
    manifest = _new_net(world, "own_onnx", str(ROOT / "models/fashion_torch/model.onnx"))
    assert manifest["model"] == {"file": "model.onnx", "output": "logits"}


def test_new_net_errors_name_the_problem(world: dict, tmp_path: Path) -> None:
    tree = world["tree"]
    odd = tmp_path / "model.pt"
    odd.write_bytes(b"not a model")
    bad_type = run_scons("new-net", "NET=own_pt", f"FROM={odd}", "DATASET=fashion_mnist", cwd=tree,
                         check=False)
    assert bad_type.returncode != 0 and "not a model type Kiln reads" in bad_type.stdout + bad_type.stderr
    wrong = tmp_path / "x_wrong.npy"
    np.save(wrong, np.zeros((20, 10), np.float32))
    shape = run_scons("new-net", "NET=own_wrong", f"FROM={world['models'] / 'cnn.keras'}", f"DATASET={wrong}",
                      cwd=tree, check=False)
    out = shape.stdout + shape.stderr
    assert shape.returncode != 0 and "shaped (10,)" in out and "(28, 28, 1)" in out, out[-2000:]
    assert not (tree / "models/own_wrong").exists()  # nothing half-made is left behind
    assert not any(p.name.startswith(".own_wrong") for p in (tree / "models").iterdir())
    unknown = run_scons("NET=own_nothing", cwd=tree, check=False)
    assert unknown.returncode == 2 and "new-net NET=own_nothing" in unknown.stderr


def test_keras3_model_tf_keras_cannot_rebuild_is_refused_for_fine_tuning(world: dict, tmp_path: Path) -> None:
    """A Keras 3 layer with no tf_keras counterpart: ptq converts, qat says why it cannot."""
    import keras

    inp = keras.Input((28, 28, 1))
    x = keras.layers.RMSNormalization()(keras.layers.Conv2D(4, 3, activation="relu")(inp))
    model = keras.Model(inp, keras.layers.Dense(10)(keras.layers.Flatten()(x)))
    model.save(tmp_path / "rms.keras")
    run_scons("new-net", "NET=own_rms", f"FROM={tmp_path / 'rms.keras'}",
              f"DATASET={world['data'] / 'x_test.npy'}", cwd=world["tree"], timeout=600)
    text = (world["tree"] / "models/own_rms/net.toml").read_text()
    assert "qat, prune_* and pqat are unavailable" in text and "RMSNormalization" in text
    qat = run_scons("NET=own_rms", "MODEL=qat", "build/models/own_rms/qat.tflite", cwd=world["tree"],
                    check=False, timeout=600)
    out = qat.stdout + qat.stderr
    assert qat.returncode != 0 and "needs a tf_keras model" in out and "MODEL=float, dynamic and ptq" in out
