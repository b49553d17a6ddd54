"""Whole-network fidelity: the project's own variants, compiled by Kiln for
the host, against tflite-micro.

fashion_mnist ptq/qat/pqat: every output of all 10,000 test images identical.
cifar_cnn ptq: identical on synthetic CIFAR-sized images. Float variants:
within 1e-5 relative. Variants missing under build/models/ are built with scons.
"""

from __future__ import annotations

import numpy as np
import pytest
from kiln import datasets
from support import run_both, variant_path


@pytest.fixture(scope="module")
def fashion_test_images() -> np.ndarray:
    images, _ = datasets.load_fashion_mnist("test")
    assert len(images) == 10000
    return images.astype(np.float32) / np.float32(255.0)


# ptq in the fast loop; the two trained variants run the same kernels, so they wait for the full suite.
@pytest.mark.parametrize("variant", ["ptq", pytest.param("qat", marks=pytest.mark.slow),
                                     pytest.param("pqat", marks=pytest.mark.slow)])
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
