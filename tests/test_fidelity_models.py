"""Whole-network fidelity: the project's own variants, compiled by Kiln for
the host, against tflite-micro.

fashion_mnist ptq/qat/pqat: every output of all 10,000 test images identical.
cifar_cnn ptq: identical on synthetic CIFAR-sized images. Float variants:
within 1e-5 relative. Variants missing under build/models/ are built with scons.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from kiln import ROOT, datasets, hostcheck, oracle


def variant_path(net: str, variant: str):
    """build/models/<net>/<variant>.tflite, built through scons when missing."""
    path = ROOT / "build" / "models" / net / f"{variant}.tflite"
    if not path.exists():
        proc = subprocess.run([sys.executable, "-m", "SCons", "-Q", f"NET={net}", f"MODEL={variant}",
                               str(path.relative_to(ROOT))], cwd=ROOT, capture_output=True, text=True)
        if proc.returncode != 0 or not path.exists():
            pytest.fail(f"could not build {path}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return path


def run_both(path, images: np.ndarray,
             kernels: str = "portable") -> tuple[hostcheck.HostCheckResult, list[str]]:
    """Kiln on the host (`kernels`) and the oracle on the same inputs (float images in [0, 1]).

    Returns the comparison and the kernel chosen for each layer.
    """
    hm = hostcheck.HostModel(path, kernels=kernels)
    try:
        chosen = [la.kernel for la in hm.model.layers]
        if hm.in_dtype == np.int8:
            scale, zp = hm.model.input["scale"], hm.model.input["zero_point"]
            xs = np.clip(np.round(images / np.float32(scale)) + zp, -128, 127).astype(np.int8)
        else:
            xs = images.astype(np.float32)
        xs = xs.reshape(len(xs), *hm.in_shape)
        got = np.stack([hm.invoke(x) for x in xs])
    finally:
        hm.close()
    ref = oracle.reference_outputs(path, xs)
    assert len(np.unique(ref)) > 2, "degenerate reference outputs"
    return hostcheck.compare(f"{path.stem} {kernels}", got, ref), chosen


@pytest.fixture(scope="module")
def fashion_test_images() -> np.ndarray:
    images, _ = datasets.load_fashion_mnist("test")
    assert len(images) == 10000
    return images.astype(np.float32) / np.float32(255.0)


@pytest.mark.parametrize("variant", ["ptq", "qat", "pqat"])
def test_fashion_mnist_int8_all_test_images_identical(variant: str, fashion_test_images) -> None:
    res, _ = run_both(variant_path("fashion_mnist", variant), fashion_test_images)
    print(res.summary())
    assert res.samples == 10000
    assert res.ok and res.identical_samples == 10000, res.summary()


@pytest.mark.parametrize("variant", ["float", "prune_unstruct"])
def test_fashion_mnist_float_within_tolerance(variant: str, fashion_test_images) -> None:
    res, _ = run_both(variant_path("fashion_mnist", variant), fashion_test_images[:500])
    assert res.ok, res.summary()


def test_cifar_cnn_ptq_identical() -> None:
    images, _ = datasets.synthetic_images(300, (32, 32, 3), 10, seed=3)
    res, _ = run_both(variant_path("cifar_cnn", "ptq"), images.astype(np.float32) / np.float32(255.0))
    assert res.ok and res.identical_samples == 300, res.summary()


def test_cifar_cnn_float_within_tolerance() -> None:
    images, _ = datasets.synthetic_images(50, (32, 32, 3), 10, seed=4)
    res, _ = run_both(variant_path("cifar_cnn", "float"), images.astype(np.float32) / np.float32(255.0))
    assert res.ok, res.summary()


# The dynamic-range (hybrid) variants compile since the hybrid kernels exist;
# tests/test_hybrid.py compares them with tf.lite.Interpreter (tflite-micro
# does not run hybrid models).
