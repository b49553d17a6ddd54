"""Models as build sources: every variant of a fixture net, the SCons graph, bad input.

Real parts throughout: TensorFlow conversion and training in subprocesses
(python -m kiln.quantize, as the SCons tool runs it), the tflite-micro
interpreter as an independent accuracy check, and real scons runs.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from kiln import datasets, netspec
from kiln.atomic import write_atomic
from kiln.errors import KilnError
from kiln.quantmath import quantize
from kiln.tflite_reader import parse_tflite
from support import run_scons

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "tiny_net"
FULL_INTEGER = {"ptq", "qat", "pqat"}
TINY_PARAMS = 40 + 1450  # conv 4x(3x3x1)+4, dense (6x6x4)x10+10
#: tiny_net is a net.py network: every variant of a trained Keras model.
TINY_VARIANTS = netspec.VARIANTS_BY_KIND["h5"]


def _quantize_command(*args: str) -> tuple[list[str], dict[str, str]]:
    """`python -m kiln.quantize args` as the SCons tool runs it: its argv and environment."""
    return ([sys.executable, "-W", "ignore", "-m", "kiln.quantize", *args],
            dict(os.environ, PYTHONPATH=str(ROOT / "site_scons")))


def _quantize_started(*args: str) -> subprocess.Popen:
    argv, env = _quantize_command(*args)
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _quantize(*args: str) -> subprocess.CompletedProcess:
    argv, env = _quantize_command(*args)
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)


def _scons(args: list[str], cwd: Path, site: Path | None = None) -> subprocess.CompletedProcess:
    return run_scons(*args, *([f"--site-dir={site}"] if site else []), cwd=cwd, check=False, timeout=600)


def _load_fixture_net():  # noqa: ANN202 - the fixture's net module (numpy only, no TensorFlow)
    spec = importlib.util.spec_from_file_location("tiny_net_for_tests", FIXTURE / "net.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture net trained into a temp folder, with all eight variants built in out/."""
    base = tmp_path_factory.mktemp("tiny")
    net_dir = base / "tiny_net"
    net_dir.mkdir()
    shutil.copy(FIXTURE / "net.py", net_dir / "net.py")
    done = _quantize("train", "--net-dir", str(net_dir))
    assert done.returncode == 0, done.stderr[-3000:]
    # Two converters at once, half the variants each: one per core.
    halves = [_quantize_started("convert", "--net-dir", str(net_dir), "--out-dir", str(base / "out"),
                                *[a for v in TINY_VARIANTS[i::2] for a in ("--variant", v)])
              for i in (0, 1)]
    errors = [proc.communicate(timeout=600)[1] for proc in halves]   # both done before any assert
    for proc, err in zip(halves, errors, strict=True):
        assert proc.returncode == 0, err[-3000:]
    return base


def _report(tiny: Path, variant: str) -> dict:
    return json.loads((tiny / "out" / f"{variant}.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("variant", TINY_VARIANTS)
def test_variant_json_is_sane(tiny: Path, variant: str) -> None:
    r = _report(tiny, variant)
    blob = (tiny / "out" / f"{variant}.tflite").read_bytes()
    assert r["variant"] == variant and r["net"] == "tiny_net"
    assert 0.3 < r["accuracy"] <= 1.0, "one epoch on 2,000 images should beat chance (0.1) clearly"
    assert 0.0 < r["loss"] < 5.0
    assert r["test_samples"] == 500
    assert r["tflite_bytes"] == len(blob)
    assert r["gzip_bytes"] == len(gzip.compress(blob, compresslevel=9, mtime=0))
    assert "compression" not in r, "compression compares variants: the summary computes it"
    assert r["keras_bytes"] == (tiny / "tiny_net" / "model.h5").stat().st_size
    assert r["params"] == TINY_PARAMS
    io_dtype = "int8" if variant in FULL_INTEGER else "float32"
    for side, shape in (("input", [1, 28, 28, 1]), ("output", [1, 10])):
        assert r[side]["dtype"] == io_dtype and r[side]["shape"] == shape
        assert (r[side]["scale"] > 0) == (variant in FULL_INTEGER)
    assert "SHAPE" not in r["operators"] and "STRIDED_SLICE" not in r["operators"]


@pytest.mark.slow
def test_sparsity_and_sizes_follow_the_recipes(tiny: Path) -> None:
    r = {v: _report(tiny, v) for v in TINY_VARIANTS}
    assert r["float"]["sparsity"] < 0.05
    assert 0.45 <= r["prune_unstruct"]["sparsity"] <= 0.6
    assert r["prune_struct"]["sparsity"] >= 0.45
    assert r["prune_poly"]["sparsity"] > r["prune_unstruct"]["sparsity"]
    assert r["pqat"]["sparsity"] >= 0.45, "prune-preserving QAT must keep the zeros"
    assert r["dynamic"]["tflite_bytes"] < r["float"]["tflite_bytes"] / 1.5
    assert r["prune_unstruct"]["gzip_bytes"] < r["float"]["gzip_bytes"]


@pytest.mark.slow
def test_ptq_has_static_shapes_and_only_expected_ops(tiny: Path) -> None:
    ops = [op.op for op in parse_tflite((tiny / "out" / "ptq.tflite").read_bytes()).ops]
    assert set(ops) <= {"CONV_2D", "MAX_POOL_2D", "RESHAPE", "FULLY_CONNECTED"}, ops
    assert ops.count("CONV_2D") == 1 and ops.count("FULLY_CONNECTED") == 1


@pytest.mark.slow
def test_json_accuracy_agrees_with_tflite_micro(tiny: Path) -> None:
    """The JSON accuracy is measured from the .tflite: the tflite-micro reference kernels agree."""
    from tflite_micro.python.tflite_micro import runtime

    _, _, x_test, y_test = _load_fixture_net().load_data()
    r = _report(tiny, "ptq")
    interp = runtime.Interpreter.from_bytes((tiny / "out" / "ptq.tflite").read_bytes())
    scale, zp = r["input"]["scale"], r["input"]["zero_point"]
    xq = quantize(x_test, scale, zp)
    hits = 0
    for x, y in zip(xq, y_test, strict=True):
        interp.set_input(x[None], 0)
        interp.invoke()
        hits += int(np.argmax(interp.get_output(0)) == y)
    assert hits / len(y_test) == pytest.approx(r["accuracy"], abs=0.01)


def test_corrupt_model_is_named_and_nothing_is_written(tmp_path: Path) -> None:
    net_dir = tmp_path / "tiny_net"
    net_dir.mkdir()
    shutil.copy(FIXTURE / "net.py", net_dir / "net.py")
    (net_dir / "model.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"garbage" * 50)
    out = tmp_path / "out"
    done = _quantize("convert", "--net-dir", str(net_dir), "--variant", "ptq", "--out-dir", str(out))
    assert done.returncode == 2
    assert str(net_dir / "model.h5") in done.stderr and "corrupt" in done.stderr
    assert not out.exists() or not list(out.iterdir())


def test_write_atomic_leaves_nothing_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "x.tflite"
    with pytest.raises(TypeError):
        write_atomic(target, 12345)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []
    write_atomic(target, b"abc")
    assert target.read_bytes() == b"abc" and list(tmp_path.iterdir()) == [target]


def test_missing_fashion_mnist_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(datasets.FASHION_MNIST_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(KilnError, match="apt-get install dataset-fashion-mnist") as err:
        datasets.load_fashion_mnist("test")
    assert datasets.FASHION_MNIST_ENV in str(err.value)


def _idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def test_idx_reader_plain_gz_and_truncated(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx_bytes(images)))
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(_idx_bytes(labels))
    x, y = datasets.load_mnist("test", tmp_path)
    assert x.shape == (5, 28, 28, 1) and x.dtype == np.uint8 and np.array_equal(x[..., 0], images)
    assert y.tolist() == [3, 1, 4, 1, 5]
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(_idx_bytes(labels)[:-2])
    with pytest.raises(KilnError, match="truncated"):
        datasets.load_mnist("test", tmp_path)


def test_real_fashion_mnist_test_split() -> None:
    x, y = datasets.load_fashion_mnist("test")
    assert x.shape == (10000, 28, 28, 1) and x.dtype == np.uint8
    assert sorted(np.bincount(y).tolist()) == [1000] * 10


def test_cifar10_python_and_binary_batches(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    rows = rng.integers(0, 256, size=(4, 3072), dtype=np.uint8)
    labels = [9, 0, 2, 7]
    py_dir, bin_dir = tmp_path / "cifar-10-batches-py", tmp_path / "bin"
    py_dir.mkdir()
    bin_dir.mkdir()
    with open(py_dir / "test_batch", "wb") as f:
        pickle.dump({b"data": rows, b"labels": labels}, f)
    records = np.concatenate([np.array(labels, dtype=np.uint8)[:, None], rows], axis=1)
    records.tofile(bin_dir / "test_batch.bin")
    for where in (tmp_path, bin_dir):
        x, y = datasets.load_cifar10("test", where)
        assert x.shape == (4, 32, 32, 3) and y.tolist() == labels
        # Rows hold the red plane, then green, then blue.
        assert x[1, 0, 1, 0] == rows[1, 1] and x[1, 0, 1, 2] == rows[1, 2048 + 1]
    with pytest.raises(KilnError, match="KILN_CIFAR10_DIR"):
        datasets.load_cifar10("train", tmp_path)


SCONSTRUCT = """
import sys
env = Environment(tools=["kiln_models"])
env.Decider("content-timestamp")
SConsignFile("sconsign")
m = env.KilnModels("tiny_net", net_dir=r"{net_dir}", build_dir="out", variants=["float", "dynamic"])
Default([n for pair in m.values() for n in pair])
env.Alias("train", env.KilnTrain("tiny_net", net_dir=r"{net_dir}"))
print("HEAVY_MODULES", sorted(k for k in ("tensorflow", "tf_keras", "matplotlib") if k in sys.modules))
"""


@pytest.mark.slow
def test_build_graph_rebuilds_only_what_changed(tiny: Path, tmp_path: Path) -> None:
    """A private copy of site_scons, so editing a recipe does not touch the tree."""
    site = tmp_path / "site_scons"
    shutil.copytree(ROOT / "site_scons" / "kiln", site / "kiln", ignore=shutil.ignore_patterns("__pycache__"))
    (site / "site_tools").mkdir()
    shutil.copy(ROOT / "site_scons" / "site_tools" / "kiln_models.py", site / "site_tools")
    shutil.copy(ROOT / "site_scons" / "kiln_scons.py", site)
    net_dir = tmp_path / "tiny_net"
    net_dir.mkdir()
    for name in ("net.py", "model.h5"):
        shutil.copy(tiny / "tiny_net" / name, net_dir / name)
    (tmp_path / "SConstruct").write_text(SCONSTRUCT.format(net_dir=net_dir))

    done = _scons([], tmp_path, site)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "QUANT out/float.tflite" in done.stdout and "QUANT out/dynamic.tflite" in done.stdout
    assert (tmp_path / "out" / "dynamic.json").is_file()

    noop = _scons([], tmp_path, site)
    assert "QUANT" not in noop.stdout
    assert "HEAVY_MODULES []" in noop.stdout, "reading the build must not import TensorFlow or matplotlib"

    with open(site / "kiln" / "quantize" / "recipes" / "dynamic.py", "a") as f:
        f.write("\n# a recipe edit\n")
    dry = _scons(["-n"], tmp_path, site)
    assert "QUANT out/dynamic.tflite" in dry.stdout and "QUANT out/float.tflite" not in dry.stdout

    with open(net_dir / "model.h5", "ab") as f:
        f.write(b"\0")
    dry = _scons(["-n"], tmp_path, site)
    assert "QUANT out/dynamic.tflite" in dry.stdout and "QUANT out/float.tflite" in dry.stdout

    clean = _scons(["-c"], tmp_path, site)
    assert clean.returncode == 0
    assert not list((tmp_path / "out").glob("*.tflite")) and (net_dir / "model.h5").is_file()

    (net_dir / "model.h5").unlink()
    retrain = _scons(["train"], tmp_path, site)
    assert retrain.returncode == 0, retrain.stdout + retrain.stderr
    assert "TRAIN" in retrain.stdout and "trained tiny_net" in retrain.stdout
    assert _h5_weights(net_dir / "model.h5").keys() == _h5_weights(tiny / "tiny_net" / "model.h5").keys()


@pytest.mark.slow
def test_fashion_mnist_ptq_end_to_end(tmp_path: Path) -> None:
    """The committed model through scons to a ptq .tflite; accuracy measured from the .tflite."""
    net_dir = ROOT / "models" / "fashion_mnist"
    (tmp_path / "SConstruct").write_text(
        'env = Environment(tools=["kiln_models"])\nSConsignFile("sconsign")\n'
        f'env.KilnModels("fashion_mnist", net_dir=r"{net_dir}", build_dir="out", variants=["ptq"])\n'
    )
    done = _scons(["out"], tmp_path, ROOT / "site_scons")
    assert done.returncode == 0, done.stdout + done.stderr
    r = json.loads((tmp_path / "out" / "ptq.json").read_text())
    assert r["test_samples"] == 10000
    assert r["accuracy"] >= 0.87
    assert r["params"] == 20410
    assert r["input"]["dtype"] == "int8" and r["output"]["dtype"] == "int8"
    assert {op.op for op in parse_tflite((tmp_path / "out" / "ptq.tflite").read_bytes()).ops} == {
        "CONV_2D", "MAX_POOL_2D", "RESHAPE", "FULLY_CONNECTED"}


def _h5_weights(path: Path) -> dict[str, np.ndarray]:
    import h5py

    found: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as f:
        f["model_weights"].visititems(
            lambda name, obj: found.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return found


@pytest.mark.slow
def test_training_recipe_is_deterministic(tiny: Path, tmp_path: Path) -> None:
    """Retraining with the same seed gives the same weights, bit for bit."""
    shutil.copy(FIXTURE / "net.py", tmp_path / "net.py")
    done = _quantize("train", "--net-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr[-3000:]
    first, again = _h5_weights(tiny / "tiny_net" / "model.h5"), _h5_weights(tmp_path / "model.h5")
    assert first.keys() == again.keys() and len(first) == 4
    for name, values in first.items():
        assert np.array_equal(values, again[name]), name
