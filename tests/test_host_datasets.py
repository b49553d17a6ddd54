"""host.datasets: every DATASET= form loads, and bad input names the fix."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
from kiln.errors import KilnError

from host import datasets


def test_fashion_mnist_is_the_default() -> None:
    d = datasets.load("")
    assert d.name == "fashion_mnist" and d.inputs.shape == (10000, 28, 28, 1) and d.inputs.dtype == np.uint8
    assert sorted(set(d.labels.tolist())) == list(range(10)) and d.class_names()[9] == "Ankle boot"
    x = datasets.normalize(d.inputs[:2])
    assert x.dtype == np.float32 and x.max() <= 1.0
    assert np.array_equal(x * 255, d.inputs[:2].astype(np.float32))


def test_npy_with_labels_beside_it(tmp_path) -> None:
    x = np.arange(5 * 4, dtype=np.uint8).reshape(5, 2, 2, 1)
    np.save(tmp_path / "set.npy", x)
    unlabelled = datasets.load(str(tmp_path / "set.npy"))  # no labels: fidelity and latency only
    assert unlabelled.labels is None and len(unlabelled) == 5
    np.save(tmp_path / "labels.npy", np.array([0, 1, 2, 1, 0]))
    assert datasets.load(str(tmp_path / "set.npy")).labels.tolist() == [0, 1, 2, 1, 0]
    np.save(tmp_path / "set_labels.npy", np.eye(3)[[2, 2, 1, 0, 0]])  # one-hot: first choice, argmaxed
    d = datasets.load(str(tmp_path / "set.npy"))
    assert d.labels.tolist() == [2, 2, 1, 0, 0] and np.array_equal(d.inputs, x)
    np.save(tmp_path / "short.npy", np.array([1, 2]))
    with pytest.raises(KilnError, match="5 inputs but .*short.npy holds 2 labels"):
        datasets.load(str(tmp_path / "set.npy"), labels=str(tmp_path / "short.npy"))


def _idx(path, arr: np.ndarray) -> None:
    header = struct.pack(">BBBB", 0, 0, 0x08, arr.ndim) + b"".join(struct.pack(">I", d) for d in arr.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + arr.astype(np.uint8).tobytes())


def test_mnist_and_cifar_folders(tmp_path) -> None:
    rng = np.random.default_rng(0)
    mnist = tmp_path / "mnist"
    mnist.mkdir()
    imgs = rng.integers(0, 256, (7, 28, 28), dtype=np.uint8)
    _idx(mnist / "t10k-images-idx3-ubyte.gz", imgs)
    _idx(mnist / "t10k-labels-idx1-ubyte.gz", np.arange(7) % 10)
    d = datasets.load(str(mnist))
    assert d.inputs.shape == (7, 28, 28, 1) and np.array_equal(d.inputs[..., 0], imgs) and d.classes[3] == "3"

    cifar = tmp_path / "cifar-10-batches-bin"
    cifar.mkdir()
    rows = rng.integers(0, 256, (3, 3073), dtype=np.uint8)
    rows[:, 0] = [4, 0, 9]
    rows.tofile(cifar / "test_batch.bin")
    d = datasets.load(str(tmp_path))
    assert d.inputs.shape == (3, 32, 32, 3) and d.labels.tolist() == [4, 0, 9] and d.classes[9] == "truck"
    # Channel planes first in the file: pixel (0, 1) of the green plane is byte 1 + 1024 + 1.
    assert d.inputs[0, 0, 1, 1] == rows[0, 1 + 1024 + 1]


def test_unknown_dataset_lists_the_choices(tmp_path) -> None:
    with pytest.raises(KilnError, match="unknown DATASET 'nope'.*fashion_mnist"):
        datasets.load("nope")
    with pytest.raises(KilnError, match="neither MNIST idx files"):
        datasets.load(str(tmp_path))
