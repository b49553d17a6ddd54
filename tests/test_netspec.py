"""Network folders (kiln.netspec, kiln.netdata): what a net.toml folder builds, and the errors
a user meets writing one. TensorFlow-free: these run in the fast loop."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from kiln import netdata, netspec, registry
from kiln.errors import KilnError
from support import ROOT

MANIFEST = """
[model]
output = "probabilities"
[dataset]
test_x = "x.npy"
test_y = "y.npy"
scale = 0.5
offset = -1.0
classes = ["a", "b"]
[training]
qat_epochs = 3
"""


def _folder(tmp_path: Path, model: str = "model.tflite", manifest: str = MANIFEST) -> Path:
    folder = tmp_path / "mynet"
    folder.mkdir()
    if model.endswith("/"):
        (folder / model).mkdir()
        (folder / model / "saved_model.pb").write_bytes(b"")
    else:
        (folder / model).write_bytes(b"model")
    (folder / "net.toml").write_text(manifest)
    return folder


def test_the_code_networks_are_listed_with_their_variants() -> None:
    assert {"fashion_mnist", "cifar_cnn"} <= set(registry.nets())
    spec = netspec.load(ROOT / "models/fashion_mnist")
    assert spec.has_code and spec.kind == "h5" and spec.default_variant == "ptq"
    assert "given" not in spec.variants and "pqat" in spec.variants


@pytest.mark.parametrize(("model", "kind", "variants"), [
    ("model.keras", "keras", 8), ("model.h5", "h5", 8), ("saved_model/", "savedmodel", 3),
    ("model.onnx", "onnx", 3), ("model.tflite", "tflite", 1),
])
def test_a_manifest_folder_builds_what_its_model_allows(tmp_path: Path, model: str, kind: str,
                                                        variants: int) -> None:
    spec = netspec.load(_folder(tmp_path, model))
    assert spec.kind == kind and len(spec.variants) == variants and not spec.has_code
    assert spec.output == "probabilities" and spec.training["qat_epochs"] == 3
    assert spec.training["batch_size"] == netspec.TRAINING_DEFAULTS["batch_size"]
    assert spec.data.classes == ("a", "b") and spec.data.input_scale(np.dtype(np.uint8)) == 0.5


def test_an_impossible_variant_says_why(tmp_path: Path) -> None:
    spec = netspec.load(_folder(tmp_path, "model.tflite"))
    assert spec.default_variant == "given" and spec.why_not("given") is None
    reason = spec.why_not("qat")
    assert "MODEL=qat" in reason and "already converted" in reason and "MODEL=given" in reason


@pytest.mark.parametrize(("manifest", "message"), [
    ("[model\n", "not valid TOML"),
    ("[dataset]\nname = \"fashion_mnist\"\n[trainig]\n", "unknown table [trainig]"),
    ("[dataset]\nname = \"fashion_mnist\"\nscal = 1\n", "unknown key 'scal'"),
    ("[model]\noutput = \"softmax\"\n[dataset]\nname = \"fashion_mnist\"\n",
     "\"logits\" or \"probabilities\""),
    ("[model]\n", "no [dataset] table"),
    ("[dataset]\nname = \"imagenet\"\n", "unknown dataset name 'imagenet'"),
    ("[dataset]\ntrain_x = \"x.npy\"\n", "no test_x"),
    ("[dataset]\n", "names no data"),
])
def test_manifest_mistakes_are_named(tmp_path: Path, manifest: str, message: str) -> None:
    with pytest.raises(KilnError) as err:
        netspec.load(_folder(tmp_path, manifest=manifest))
    assert message in str(err.value)


def test_folder_without_or_with_two_models(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    (folder / "model.onnx").write_bytes(b"")
    with pytest.raises(KilnError, match="several models"):
        netspec.load(folder)
    (folder / "model.onnx").unlink()
    (folder / "model.tflite").unlink()
    with pytest.raises(KilnError, match="holds no trained model.*new-net"):
        netspec.load(folder)
    with pytest.raises(KilnError, match="not a network.*new-net"):
        netspec.load(tmp_path)


def test_unknown_model_file_type(tmp_path: Path) -> None:
    (tmp_path / "model.pt").write_bytes(b"")
    with pytest.raises(KilnError, match="not a model type Kiln reads"):
        netspec.kind_of(tmp_path / "model.pt")


def test_npy_dataset_scaled_and_fitted(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    x = np.arange(2 * 3 * 4 * 5, dtype=np.uint8).reshape(2, 3, 4, 5)  # stored NCHW
    np.save(folder / "x.npy", x)
    np.save(folder / "y.npy", np.eye(2, dtype=np.float32))  # one-hot labels
    spec = netspec.load(folder)
    inputs, labels = netdata.load_split(spec, "test")
    assert labels.tolist() == [0, 1] and netdata.load_split(spec, "train") is None
    scaled = netdata.scale_inputs(spec, inputs)
    assert scaled[0, 0, 0, 1] == np.float32(1 * 0.5 - 1.0)
    nhwc = netdata.fit_layout(scaled, (4, 5, 3), "x.npy")
    assert nhwc.shape == (2, 4, 5, 3) and nhwc[1, 2, 3, 0] == scaled[1, 0, 2, 3]
    assert netdata.fit_layout(scaled.reshape(2, 60), (60, 1), "x").shape == (2, 60, 1)
    with pytest.raises(KilnError, match=r"shaped \(3, 4, 5\), but the model takes \(28, 28, 1\)"):
        netdata.fit_layout(scaled, (28, 28, 1), "x.npy")


def test_labels_that_do_not_match_the_inputs(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    np.save(folder / "x.npy", np.zeros((3, 2), np.float32))
    np.save(folder / "y.npy", np.zeros(4, np.int64))
    with pytest.raises(KilnError, match="4 labels for 3 inputs"):
        netdata.load_split(netspec.load(folder), "test")
