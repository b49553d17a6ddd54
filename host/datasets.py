"""Test sets for the inference runner, chosen by one DATASET= string.

    (empty)                   the network's own test set (a net.toml's [dataset], or
                              a net.py's test_set()), else Fashion-MNIST
    fashion_mnist             the Fashion-MNIST test split (10,000 images)
    <dir>                     a folder of MNIST idx files or CIFAR-10 batches
    <file>.npz                a model with several inputs: one array per input, named
                              after the model's input tensors or in their order; labels
                              in an array named labels (or y), or from LABELS=
    <file>.npy                inputs; labels from LABELS=, else <stem>_labels.npy
                              beside it, else labels.npy beside it, else none
                              (the run then reports fidelity and latency, no accuracy)

File formats are read by kiln.datasets (shared with the build and training).
uint8 inputs are images and are normalized as the models were trained
(x / 255); float inputs are taken as already normalized; int8 inputs as
already quantized (for int8 models only). A uint8 .npy given to a model with
a uint8 input is already quantized too: host/infer.py sends it unchanged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from kiln import datasets as kd
from kiln import netdata, netspec
from kiln.datasets import CIFAR10_CLASSES, FASHION_MNIST_CLASSES, MNIST_CLASSES
from kiln.errors import KilnError


@dataclass
class Dataset:
    """Samples and labels, as stored (not yet normalized or quantized)."""

    name: str
    inputs: np.ndarray          # (N, ...) uint8 images, float32 or int8
    labels: np.ndarray | None   # (N,) int64; None for a .npy without labels
    classes: tuple[str, ...] = field(default=())
    scale: float | None = None  # model input = stored * scale + offset (a net.toml); None: normalize()'s rule
    more: dict[str, np.ndarray] = field(default_factory=dict)  # a .npz's other inputs, by name
    first: str = ""                                              # the .npz's name of `inputs`
    offset: float = 0.0

    def model_inputs(self, inputs: np.ndarray) -> np.ndarray:
        """`inputs` (some of this set's) as the model's float inputs."""
        if self.scale is None:
            return normalize(inputs)
        return inputs.astype(np.float32) * np.float32(self.scale) + np.float32(self.offset)

    def __len__(self) -> int:
        return len(self.inputs)

    def class_names(self) -> list[str]:
        """A name per class index, numbers when the set has no names."""
        labels = self.labels if self.labels is not None else np.zeros(0, np.int64)
        n = max(int(labels.max()) + 1 if len(labels) else 0, len(self.classes))
        return [self.classes[i] if i < len(self.classes) else str(i) for i in range(n)]


def _labels_for(npy: Path, labels: str | None) -> Path | None:
    """The labels file that goes with an inputs .npy (see the module docstring), or None."""
    if labels:
        path = Path(labels)
        if not path.is_file():
            raise KilnError(f"labels file {path} not found (LABELS=)")
        return path
    for candidate in (npy.with_name(npy.stem + "_labels.npy"), npy.with_name("labels.npy")):
        if candidate.is_file() and candidate != npy:
            return candidate
    # Unlabelled inputs still measure what matters for a deployed model:
    # agreement with the host reference and latency.
    return None


def _load_npy(path: Path, what: str) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise KilnError(f"cannot read {what} {path}: {exc}; save it with numpy.save") from exc


def load_npy(path: Path, labels: str | None = None) -> Dataset:
    """Inputs from a .npy and labels from the file _labels_for() finds (None without one)."""
    inputs = _load_npy(path, "inputs")
    if inputs.dtype not in (np.uint8, np.int8) and not np.issubdtype(inputs.dtype, np.floating):
        raise KilnError(f"inputs in {path} have dtype {inputs.dtype}: use uint8 images, "
                        "float32 normalized inputs or int8 quantized inputs")
    label_path = _labels_for(path, labels)
    if label_path is None:
        return Dataset(path.name, inputs, None)
    y = _load_npy(label_path, "labels")
    if y.ndim == 2 and y.shape[1] > 1:  # one-hot labels, as Keras users often save them
        y = y.argmax(axis=1)
    y = y.reshape(-1)
    if len(y) != len(inputs):
        raise KilnError(f"{path} holds {len(inputs)} inputs but {label_path} holds {len(y)} labels")
    if not np.issubdtype(y.dtype, np.integer):
        if not np.all(np.equal(np.mod(y, 1), 0)):
            raise KilnError(f"labels in {label_path} are not class indices (dtype {y.dtype})")
    return Dataset(path.name, inputs, y.astype(np.int64))


def load_npz(path: Path, labels: str | None = None) -> Dataset:
    """Inputs of a several-input model from a .npz: every array but labels/y, in the file's order."""
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:
        raise KilnError(f"cannot read inputs {path}: {exc}; save it with numpy.savez") from exc
    y = next((arrays.pop(k) for k in ("labels", "y") if k in arrays), None)
    if labels:
        y = _load_npy(Path(labels), "labels")
    if not arrays:
        raise KilnError(f"{path} holds no input arrays")
    names = list(arrays)
    count = {len(a) for a in arrays.values()}
    if len(count) != 1:
        raise KilnError(f"the arrays in {path} hold different numbers of samples: "
                        + ", ".join(f"{k} {len(a)}" for k, a in arrays.items()))
    first = arrays.pop(names[0])
    if y is not None:
        y = (y.argmax(axis=1) if y.ndim == 2 and y.shape[1] > 1 else y).reshape(-1).astype(np.int64)
        if len(y) != len(first):
            raise KilnError(f"{path} holds {len(first)} samples but {len(y)} labels")
    return Dataset(path.name, first, y, more=arrays, first=names[0])


def arrays_for(data: Dataset, names: list[str]) -> list[np.ndarray]:
    """The dataset's arrays for a model's inputs `names`: by name when the .npz uses the model's
    tensor names, else in order."""
    given = {data.first or "input": data.inputs, **data.more}
    if len(given) != len(names):
        raise KilnError(f"DATASET {data.name} gives {len(given)} input arrays but the model takes "
                        f"{len(names)} ({', '.join(names)}): save one array per input with numpy.savez")
    if set(given) == set(names):
        return [given[n] for n in names]
    return list(given.values())


def _load_folder(path: Path) -> Dataset:
    """An MNIST idx folder or a CIFAR-10 batch folder, told apart by their files."""
    if any(path.glob("t10k-images*")):
        images, labels = kd.load_mnist("test", path)
        return Dataset(f"mnist:{path}", images, labels, MNIST_CLASSES)
    if any(path.glob("test_batch*")) or any(path.glob("cifar-10-batches-*")):
        images, labels = kd.load_cifar10("test", path)
        return Dataset(f"cifar10:{path}", images, labels, CIFAR10_CLASSES)
    raise KilnError(f"{path} holds neither MNIST idx files (t10k-images-idx3-ubyte[.gz]) nor "
                    "CIFAR-10 batches (test_batch or test_batch.bin): point DATASET= at one of them")


def _net_test_set(net_dir: Path) -> Dataset:
    """A net.toml network's own test split, with its scaling."""
    spec = netspec.load(net_dir)
    split = netdata.load_split(spec, "test")
    inputs, labels = split
    return Dataset(f"{spec.name}:test", inputs, labels, spec.data.classes,
                   scale=spec.data.input_scale(inputs.dtype), offset=spec.data.offset)


def _code_net_test_set(net_dir: Path) -> Dataset | None:
    """A net.py network's own test split when its net.py defines test_set() (the MLPerf Tiny
    suite's synthetic sets); None otherwise (the default dataset then applies). Inputs are
    the model's float inputs; labels None for a regression output (fidelity and latency only)."""
    from kiln.quantize.netdef import load_net

    net = load_net(net_dir)
    if not hasattr(net, "test_set"):
        return None
    inputs, labels = net.test_set()
    return Dataset(f"{net_dir.name}:test", np.asarray(inputs, dtype=np.float32),
                   None if labels is None else np.asarray(labels, dtype=np.int64).reshape(-1),
                   tuple(getattr(net, "CLASS_NAMES", ())))


def load(spec: str | None, labels: str | None = None, net_dir: str | Path | None = None) -> Dataset:
    """The dataset named by a DATASET= value; empty means the network's own test set when
    `net_dir` holds a net.toml (or a net.py defining test_set()), else Fashion-MNIST.
    A net.toml's scaling applies to uint8 images."""
    spec = (spec or "").strip()
    manifest = Path(net_dir) / netspec.MANIFEST if net_dir else None
    code = Path(net_dir) / netspec.CODE if net_dir else None
    if not spec and code is not None and code.is_file():
        own = _code_net_test_set(Path(net_dir))
        if own is not None:
            return own
    if manifest is not None and manifest.is_file():
        if not spec:
            return _net_test_set(Path(net_dir))
        data = load(spec, labels)
        own = netspec.load(net_dir).data
        if data.inputs.dtype == np.uint8 and own.scale is not None:
            data.scale, data.offset = own.scale, own.offset
        return data
    if spec in ("", "fashion_mnist", "fashion-mnist"):
        images, y = kd.load_fashion_mnist("test")
        return Dataset("fashion_mnist", images, y, FASHION_MNIST_CLASSES)
    if spec in ("cifar10", "cifar-10"):
        where = os.environ.get(kd.CIFAR10_ENV)
        if not where:
            raise KilnError(f"DATASET=cifar10 needs {kd.CIFAR10_ENV} set to the extracted "
                            "CIFAR-10 folder, or DATASET=<that folder>")
        images, y = kd.load_cifar10("test", where)
        return Dataset("cifar10", images, y, CIFAR10_CLASSES)
    path = Path(spec)
    if path.suffix == ".npz":
        if not path.is_file():
            raise KilnError(f"inputs file {path} not found (DATASET=)")
        return load_npz(path, labels)
    if path.suffix == ".npy":
        if not path.is_file():
            raise KilnError(f"inputs file {path} not found (DATASET=)")
        return load_npy(path, labels)
    if path.is_dir():
        return _load_folder(path)
    raise KilnError(f"unknown DATASET '{spec}': use fashion_mnist, a .npy of inputs, "
                    "or a folder of MNIST idx files or CIFAR-10 batches")


def normalize(inputs: np.ndarray) -> np.ndarray:
    """Inputs as the model saw them in training: uint8 images / 255, floats as they are."""
    if inputs.dtype == np.uint8:
        return inputs.astype(np.float32) / np.float32(255.0)
    return inputs.astype(np.float32)
