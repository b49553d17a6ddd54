"""`scons new-net`: make a network folder (model + net.toml) from a trained model file.

The folder is assembled beside models/ under a temporary name, checked by
loading it the way the build will (the model loads, the dataset fits its
input, the output is told to be logits or probabilities), and only then
renamed into place: a failure leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import numpy as np

from kiln import datasets, netspec, paths
from kiln.errors import KilnError

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
#: The canonical file name of each source kind inside a network folder.
_FILE_OF_KIND = {kind: name for name, kind in netspec.SOURCES.items()}


def _toml_str(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def _sibling(path: Path, old: str, new: str) -> Path | None:
    """`path` with `old` replaced by `new` in its file name, when that file exists."""
    if old not in path.name:
        return None
    candidate = path.with_name(path.name.replace(old, new))
    return candidate if candidate.is_file() else None


_IMAGE_SCALE = ("scale = 0.00392156862745098  # uint8 images / 255: change if the model was trained "
                "on other values")


def dataset_table(dataset: str, labels: str | None) -> list[str]:
    """The [dataset] lines for a DATASET= value: a built-in name, a folder, or a .npy of test inputs."""
    dataset = dataset.strip()
    if not dataset:
        raise KilnError("new-net needs DATASET=: the data the model was trained on, to calibrate and "
                        "measure it: fashion_mnist, cifar10, a folder of MNIST-format idx files or "
                        "CIFAR-10 batches, or a .npy of test inputs (labels from LABELS= or x_labels.npy)")
    if dataset in ("fashion_mnist", "fashion-mnist"):
        return ['name = "fashion_mnist"', _IMAGE_SCALE,
                f"classes = {json.dumps(list(datasets.FASHION_MNIST_CLASSES))}"]
    if dataset in ("cifar10", "cifar-10"):
        where = os.environ.get(datasets.CIFAR10_ENV, "")
        return ['name = "cifar10"', f"dir = {_toml_str(where)}" if where else
                f"# dir = \"...\"  (or set {datasets.CIFAR10_ENV})", _IMAGE_SCALE,
                f"classes = {json.dumps(list(datasets.CIFAR10_CLASSES))}"]
    path = Path(dataset).expanduser().resolve()
    if path.is_dir():
        if any(path.glob("t10k-images*")):
            return [f"idx = {_toml_str(str(path))}", _IMAGE_SCALE]
        if any(path.glob("test_batch*")) or any(path.glob("cifar-10-batches-*")):
            return ['name = "cifar10"', f"dir = {_toml_str(str(path))}", _IMAGE_SCALE,
                    f"classes = {json.dumps(list(datasets.CIFAR10_CLASSES))}"]
        raise KilnError(f"DATASET={dataset} holds neither MNIST idx files nor CIFAR-10 batches")
    if path.suffix != ".npy":
        raise KilnError(f"unknown DATASET '{dataset}': use fashion_mnist, cifar10, a folder of idx files "
                        "or CIFAR-10 batches, or a .npy of test inputs")
    if not path.is_file():
        raise KilnError(f"DATASET={dataset}: no such file")
    lines = [f"test_x = {_toml_str(str(path))}"]
    y = Path(labels).expanduser().resolve() if labels else None
    y = y or next((p for p in (path.with_name(path.stem + "_labels.npy"), _sibling(path, "x_", "y_"),
                               path.with_name("labels.npy")) if p and p.is_file() and p != path), None)
    if y:
        lines.append(f"test_y = {_toml_str(str(y))}")
    train = _sibling(path, "test", "train")
    if train:
        lines.append(f"train_x = {_toml_str(str(train))}")
        train_y = _sibling(y, "test", "train") if y else None
        if train_y:
            lines.append(f"train_y = {_toml_str(str(train_y))}")
    else:
        lines.append("# train_x = \"...\"  train_y = \"...\"  (calibration and fine-tuning; without them "
                     "ptq calibrates on test_x)")
    stored = np.load(path, mmap_mode="r", allow_pickle=False).dtype
    if stored == np.uint8:
        lines.append(_IMAGE_SCALE)
    return lines


def _manifest(origin: Path, file_name: str, output: str, data_lines: list[str], notes: list[str]) -> str:
    head = [f"# Made by 'scons new-net' from {origin}. Edit freely; see models/README.md.", *notes]
    return "\n".join([
        *head, "",
        "[model]", f"file = {_toml_str(file_name)}",
        f"output = \"{output}\"  # \"logits\" or \"probabilities\" (told from sample outputs)", "",
        "[dataset]  # model input = stored value * scale + offset", *data_lines, "",
        "[training]  # for the variants that fine-tune (qat, prune_*, pqat)",
        *(f"{k} = {json.dumps(v)}" for k, v in netspec.TRAINING_DEFAULTS.items()), "",
    ])


def _outputs_are_probabilities(outputs: np.ndarray) -> bool:
    """True when every output row looks like probabilities: in [0, 1], summing to 1 (or one column)."""
    flat = outputs.reshape(len(outputs), -1)
    if flat.min() < 0 or flat.max() > 1:
        return False
    # A quantized softmax's dequantized outputs sum to 1 only within a few quantization steps.
    return flat.shape[1] == 1 or bool(np.allclose(flat.sum(axis=1), 1.0, atol=0.05))


def _probe(folder: Path, name: str) -> tuple[str, list[str], dict]:
    """Load the new folder as the build will: (output kind, manifest notes, summary)."""
    import tensorflow as tf

    from kiln.quantize.context import CHECK_SAMPLES, Context
    from kiln.quantize.evaluate import run_interpreter

    spec = netspec.load(folder, name=name)
    ctx = Context(spec=spec, cache=paths.models_dir(name) / ".import")
    x = ctx.data[2][:16]
    if spec.kind == "tflite":
        outputs = run_interpreter(spec.source.read_bytes(), x)[0]
    else:
        outputs = np.concatenate([np.asarray(ctx.serving().fn(tf.constant(x[i: i + 1]))).reshape(1, -1)
                                  for i in range(len(x))])
    notes, variants = [], list(spec.variants)
    if spec.kind in ("keras", "h5") and (ctx.data[0] is None or ctx.data[1] is None):
        notes.append("# Fine-tuned variants (qat, prune_*, pqat) need train_x and train_y in [dataset].")
    elif spec.kind in ("keras", "h5"):
        from kiln.quantize import sources
        from kiln.quantize.keras_carry import CarryError, carry_over

        if sources.is_keras3(spec):
            try:
                carry_over(sources.load_keras3(spec.source), ctx.data[2][:CHECK_SAMPLES])
            except CarryError as exc:
                variants = list(netspec.CONVERTED)
                notes.append(f"# qat, prune_* and pqat are unavailable: tfmot needs tf_keras, and this "
                             f"Keras 3 model cannot be carried over ({exc}).")
    summary = {"kind": spec.kind, "input": list(ctx.input_shape()), "outputs": int(outputs.shape[1]),
               "test_samples": len(ctx.data[2]), "variants": variants}
    return ("probabilities" if _outputs_are_probabilities(outputs) else "logits"), notes, summary


def create(name: str, source: Path, dataset: str, labels: str | None, models_dir: Path) -> Path:
    """Make models_dir/`name` from the trained model `source` and DATASET= `dataset`; its path."""
    if not _NAME.match(name):
        raise KilnError(f"NET={name} is not a usable network name: use letters, digits, _ and -, "
                        "starting with a letter (it names a folder and the build outputs)")
    folder = models_dir / name
    if folder.exists():
        raise KilnError(f"models/{name}/ exists already: pick another NET=, or remove the folder first")
    source = source.expanduser().resolve()
    kind = netspec.kind_of(source)
    data_lines = dataset_table(dataset, labels)
    target_name = _FILE_OF_KIND[kind]
    tmp = models_dir / f".{name}.new-{os.getpid()}"
    try:
        tmp.mkdir(parents=True)
        if kind == "savedmodel":
            shutil.copytree(source, tmp / target_name)
        else:
            shutil.copyfile(source, tmp / target_name)
        (tmp / netspec.MANIFEST).write_text(_manifest(source, target_name, "logits", data_lines, []))
        output, notes, summary = _probe(tmp, name)
        (tmp / netspec.MANIFEST).write_text(_manifest(source, target_name, output, data_lines, notes))
        os.rename(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"  created models/{name}/: {summary['kind']} model, input {summary['input']}, "
          f"{summary['outputs']} outputs ({output}), {summary['test_samples']} test samples")
    print(f"  variants: {', '.join(summary['variants'])}")
    for note in notes:
        print(f"  {note.lstrip('# ')}")
    default = "ptq" if "ptq" in summary["variants"] else summary["variants"][0]
    print(f"  next: scons infer NET={name} MODEL={default} BOARD=mps2_an505   (or: scons models NET={name})")
    return folder
