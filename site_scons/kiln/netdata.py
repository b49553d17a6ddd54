"""A manifest network's data: its splits as stored, their scaling, and their layout.

The build (calibration, fine-tuning, accuracy) and the host (infer) both read
a net.toml network's test set through here, so they see the same samples.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from kiln import datasets
from kiln.errors import KilnError
from kiln.netspec import NetSpec, resolve


def _npy(path: Path, what: str) -> np.ndarray:
    if not path.is_file():
        raise KilnError(f"{what} file {path} not found: fix its path in net.toml ([dataset])")
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise KilnError(f"cannot read {what} {path}: {exc}; the file is corrupt or not a numpy .npy") from exc


def _labels(y: np.ndarray, path: Path, count: int) -> np.ndarray:
    if y.ndim == 2 and y.shape[1] > 1:  # one-hot, as Keras users often save them
        y = y.argmax(axis=1)
    y = y.reshape(-1)
    if len(y) != count:
        raise KilnError(f"{path} holds {len(y)} labels for {count} inputs: they must match one to one")
    return y.astype(np.int64)


def load_split(spec: NetSpec, split: str) -> tuple[np.ndarray, np.ndarray | None] | None:
    """Split 'train' or 'test' of `spec`'s dataset as stored: (inputs, labels or None), None when absent."""
    data = spec.data
    if data.files:
        x_key, y_key = f"{split}_x", f"{split}_y"
        if x_key not in data.files:
            return None
        x_path = resolve(spec, data.files[x_key])
        x = _npy(x_path, f"{split} inputs")
        if y_key not in data.files:
            return x, None
        y_path = resolve(spec, data.files[y_key])
        return x, _labels(_npy(y_path, f"{split} labels"), y_path, len(x))
    where = resolve(spec, data.directory) if data.directory else None
    if data.name == "fashion_mnist":
        return datasets.load_fashion_mnist(split, where)
    if data.name == "cifar10":
        where = where or os.environ.get(datasets.CIFAR10_ENV)
        if not where:
            raise KilnError(f"NET={spec.name} uses CIFAR-10: set dir = \"...\" in net.toml or "
                            f"{datasets.CIFAR10_ENV} to the extracted CIFAR-10 folder")
        return datasets.load_cifar10(split, where)
    if where is None:
        raise KilnError(f"NET={spec.name}: dataset {data.name} needs dir = \"...\" (a folder of idx files)")
    return datasets.load_idx_dataset(where, split, data.name or "idx")


def scale_inputs(spec: NetSpec, stored: np.ndarray) -> np.ndarray:
    """Stored samples as the model's float inputs: stored * scale + offset (net.toml's [dataset])."""
    scale = np.float32(spec.data.input_scale(stored.dtype))
    return stored.astype(np.float32) * scale + np.float32(spec.data.offset)


def fit_layout(x: np.ndarray, model_shape: tuple[int, ...], where: str) -> np.ndarray:
    """`x` (N, ...) in the model's per-sample shape: as it is, channels-first moved last, or reshaped.

    Models converted from PyTorch take NHWC inputs while the data is often
    stored NCHW; a missing or extra unit axis (28x28 against 28x28x1) is
    reshaped. Anything else is a dataset that does not belong to the model.
    """
    sample = tuple(x.shape[1:])
    want = tuple(int(d) for d in model_shape)
    if sample == want:
        return x
    if len(sample) == 3 and (sample[1], sample[2], sample[0]) == want:
        return np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    squeeze = tuple(d for d in sample if d != 1)
    if squeeze == tuple(d for d in want if d != 1):
        return x.reshape((len(x), *want))
    raise KilnError(f"the dataset's samples in {where} are shaped {sample}, but the model takes "
                    f"{want}: give the data the model was trained on (NHWC or NCHW, one sample per row)")
