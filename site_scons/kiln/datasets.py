"""Dataset readers: idx (MNIST, Fashion-MNIST) and CIFAR-10 batches.

TensorFlow-free numpy functions. Images come back as uint8 arrays shaped
(N, H, W, C) and labels as int64 arrays shaped (N,), so that the build, the
training recipes and the host inference runner all see the same data.
"""

from __future__ import annotations

import gzip
import os
import pickle
from pathlib import Path

import numpy as np

from kiln.errors import KilnError

#: Where Debian's dataset-fashion-mnist package puts the idx files.
FASHION_MNIST_DEFAULT_DIR = Path("/usr/share/datasets/fashion-mnist")
#: Environment variable naming another Fashion-MNIST directory.
FASHION_MNIST_ENV = "KILN_FASHION_MNIST_DIR"
#: Environment variable naming a CIFAR-10 directory (python or binary batches).
CIFAR10_ENV = "KILN_CIFAR10_DIR"

#: Class names of the built-in datasets (the host's reports and new-net's manifests use them).
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")
MNIST_CLASSES = tuple(str(d) for d in range(10))
CLASSES = {"fashion_mnist": FASHION_MNIST_CLASSES, "cifar10": CIFAR10_CLASSES, "mnist": MNIST_CLASSES}

_IDX_DTYPES = {
    0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8"),
}
_IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _open_maybe_gz(path: Path) -> bytes:
    """Read a file whole, gunzipping it when its name ends in .gz."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (OSError, EOFError) as exc:
        raise KilnError(f"cannot read dataset file {path}: {exc}") from exc


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one idx file (optionally gzipped) into an array of its own shape.

    The idx header is: two zero bytes, a type byte, a dimension count, then
    one big-endian uint32 per dimension.
    """
    path = Path(path)
    data = _open_maybe_gz(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise KilnError(f"{path} is not an idx file (bad magic number); re-download or reinstall it")
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    ndim = data[3]
    header = 4 + 4 * ndim
    dims = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    count = int(np.prod(dims)) if dims else 0
    if len(data) != header + count * dtype.itemsize:
        raise KilnError(
            f"{path} is truncated or corrupt: header says {dims}, "
            f"file holds {len(data) - header} data bytes; re-download or reinstall it"
        )
    values = np.frombuffer(data, dtype=dtype, count=count, offset=header)
    return values.reshape(dims).astype(dtype.newbyteorder("="))


def _find_idx(directory: Path, stem: str) -> Path | None:
    """The idx file `stem` in `directory`, gzipped or not (None when absent)."""
    for name in (stem + ".gz", stem, stem.replace("-idx", ".idx")):
        if (directory / name).is_file():
            return directory / name
    return None


def load_idx_dataset(
    directory: str | os.PathLike, split: str, what: str = "MNIST"
) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28, 1) uint8 and labels (N,) int64 of an MNIST-format split ('train' or 'test')."""
    directory = Path(directory)
    if split not in _IDX_FILES:
        raise KilnError(f"unknown split '{split}': valid values are train, test")
    paths = [_find_idx(directory, stem) for stem in _IDX_FILES[split]]
    missing = [stem for stem, p in zip(_IDX_FILES[split], paths, strict=True) if p is None]
    if missing:
        names = ", ".join(m + "[.gz]" for m in missing)
        raise KilnError(f"{what} {split} files missing in {directory}: {names}")
    images, labels = read_idx(paths[0]), read_idx(paths[1])
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise KilnError(f"{what} files in {directory} disagree: images {images.shape}, labels {labels.shape}")
    return images[..., None].astype(np.uint8), labels.astype(np.int64)


def fashion_mnist_dir(directory: str | os.PathLike | None = None) -> Path:
    """The Fashion-MNIST directory: the argument, else $KILN_FASHION_MNIST_DIR, else Debian's."""
    if directory:
        return Path(directory)
    return Path(os.environ.get(FASHION_MNIST_ENV) or FASHION_MNIST_DEFAULT_DIR)


def load_fashion_mnist(
    split: str, directory: str | os.PathLike | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST `split` ('train': 60,000, 'test': 10,000) as uint8 (N, 28, 28, 1) and labels."""
    where = fashion_mnist_dir(directory)
    try:
        return load_idx_dataset(where, split, "Fashion-MNIST")
    except KilnError as exc:
        if not where.is_dir() or "missing" in str(exc):
            raise KilnError(
                f"Fashion-MNIST not found in {where}: install it with "
                f"'apt-get install dataset-fashion-mnist', or set {FASHION_MNIST_ENV} "
                f"to a directory holding the four idx files ({exc})"
            ) from exc
        raise


def load_mnist(split: str, directory: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """MNIST (or any idx-format digit set) `split` from `directory`, as uint8 (N, 28, 28, 1) and labels."""
    return load_idx_dataset(directory, split, "MNIST")


def _cifar_from_rows(rows: np.ndarray) -> np.ndarray:
    """CIFAR rows (N, 3072), channel planes first, as (N, 32, 32, 3)."""
    return rows.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).astype(np.uint8)


def _cifar_batch_names(split: str) -> list[str]:
    return [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]


def load_cifar10(split: str, directory: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 `split` from python pickle batches or binary .bin batches in `directory`.

    Accepts the extracted archive folder itself or its parent
    (cifar-10-batches-py/ or cifar-10-batches-bin/ inside it).
    """
    if split not in ("train", "test"):
        raise KilnError(f"unknown split '{split}': valid values are train, test")
    base = Path(directory)
    for candidate in (base, base / "cifar-10-batches-py", base / "cifar-10-batches-bin"):
        names = _cifar_batch_names(split)
        if all((candidate / n).is_file() for n in names):
            return _load_cifar_pickles([candidate / n for n in names])
        if all((candidate / (n + ".bin")).is_file() for n in names):
            return _load_cifar_bins([candidate / (n + ".bin") for n in names])
    raise KilnError(
        f"no CIFAR-10 {split} batches in {base}: expected {', '.join(_cifar_batch_names(split))} "
        f"(python version) or the same names with .bin (binary version); "
        f"point {CIFAR10_ENV} (or DATASET=) at the extracted archive"
    )


def _load_cifar_pickles(paths: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    images, labels = [], []
    for path in paths:
        try:
            with open(path, "rb") as f:
                batch = pickle.load(f, encoding="bytes")
            rows = np.asarray(batch[b"data"], dtype=np.uint8)
            labs = np.asarray(batch[b"labels"], dtype=np.int64)
        except (OSError, pickle.UnpicklingError, KeyError, EOFError, ValueError, TypeError) as exc:
            raise KilnError(f"cannot read CIFAR-10 batch {path}: {exc}; re-download it") from exc
        if rows.ndim != 2 or rows.shape[1] != 3072 or len(rows) != len(labs):
            raise KilnError(
                f"CIFAR-10 batch {path} has data {rows.shape} and {len(labs)} labels; expected (N, 3072)"
            )
        images.append(_cifar_from_rows(rows))
        labels.append(labs)
    return np.concatenate(images), np.concatenate(labels)


def _load_cifar_bins(paths: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    images, labels = [], []
    for path in paths:
        try:
            raw = np.fromfile(path, dtype=np.uint8)
        except OSError as exc:
            raise KilnError(f"cannot read CIFAR-10 batch {path}: {exc}") from exc
        if raw.size % 3073:
            raise KilnError(f"CIFAR-10 batch {path} is truncated: {raw.size} bytes is not a multiple of 3073")
        records = raw.reshape(-1, 3073)
        labels.append(records[:, 0].astype(np.int64))
        images.append(_cifar_from_rows(records[:, 1:]))
    return np.concatenate(images), np.concatenate(labels)


def synthetic_images(
    count: int, shape: tuple[int, int, int], classes: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """A seeded image set with learnable class structure, as uint8 (N, H, W, C) and labels.

    Each class owns a smooth random colour template (the same for every split,
    since it comes from a fixed seed); a sample is its class template,
    randomly shifted and scaled in brightness, plus pixel noise and a little
    of another class's template, so classes overlap a bit and accuracy
    stays informative.
    """
    h, w, c = shape
    templates_rng = np.random.default_rng(12345)
    coarse = templates_rng.uniform(0, 1, size=(classes, h // 4 + 1, w // 4 + 1, c))
    # Smooth templates: upsample a coarse grid so the classes differ in layout, not pixel noise.
    templates = np.repeat(np.repeat(coarse, 4, axis=1), 4, axis=2)[:, :h, :w, :]
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, size=count)
    other = rng.integers(0, classes, size=count)
    dy = rng.integers(-3, 4, size=count)
    dx = rng.integers(-3, 4, size=count)
    gain = rng.uniform(0.6, 1.2, size=(count, 1, 1, 1))
    mix = rng.uniform(0.0, 0.5, size=(count, 1, 1, 1))
    images = templates[labels] * (1 - mix) + templates[other] * mix
    for i in range(count):  # per-sample shift; a loop keeps memory flat
        images[i] = np.roll(images[i], (dy[i], dx[i]), axis=(0, 1))
    images = images * gain + rng.normal(0, 0.35, size=images.shape)
    return (np.clip(images, 0, 1) * 255).round().astype(np.uint8), labels.astype(np.int64)
