"""A network folder: which trained model it holds, which variants that allows, and its data.

A folder under models/ is a network when it holds either

- ``net.py`` (code: build_model, load_data, train...) and ``model.h5``, or
- ``net.toml`` (a manifest, no code) and one trained model in any of the
  forms of SOURCES: ``model.keras``, ``model.h5``, ``saved_model/``,
  ``model.onnx`` or ``model.tflite``.

This module never imports TensorFlow: SCons reads it to list networks and to
refuse an impossible variant before any work, and the host reads it for the
network's test set and input scaling.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from kiln.errors import KilnError

MANIFEST = "net.toml"
CODE = "net.py"

#: Model sources a manifest folder may hold, in the order they are looked for: {file name: kind}.
SOURCES = {
    "model.keras": "keras",
    "model.h5": "h5",
    "saved_model": "savedmodel",
    "model.onnx": "onnx",
    "model.tflite": "tflite",
}

#: The variants that fine-tune a Keras model (tensorflow-model-optimization, tf_keras only).
FINE_TUNED = ("qat", "prune_struct", "prune_unstruct", "prune_poly", "pqat")
#: The variants a converter makes from any float model, without training.
CONVERTED = ("float", "dynamic", "ptq")
#: The variant of a .tflite source: the file as given (a .tflite cannot be converted again).
GIVEN = "given"

#: Variants per source kind, in report order.
VARIANTS_BY_KIND = {
    "keras": (*CONVERTED, *FINE_TUNED),
    "h5": (*CONVERTED, *FINE_TUNED),
    "savedmodel": CONVERTED,
    "onnx": CONVERTED,
    "tflite": (GIVEN,),
}

_WHY_NOT = {
    "savedmodel": "a SavedModel keeps the traced graph, not the Keras layers that fine-tuning needs: "
                  "save the model as model.keras or model.h5 to get them",
    "onnx": "an ONNX model is converted to a TensorFlow graph, not to Keras layers that fine-tuning "
            "needs: fine-tune in PyTorch and export again, or use MODEL=float, dynamic or ptq",
    "tflite": "a .tflite is already converted, and TFLite cannot convert or quantize it again: it "
              "builds as it is (MODEL=given); to get other variants, add the trained model it came from",
}

#: Built-in dataset names a manifest may give (the host and the build load them the same way).
BUILTIN_DATASETS = ("fashion_mnist", "mnist", "cifar10")

#: Defaults of the manifest's [training] table, also what net.py nets use when a key is missing.
TRAINING_DEFAULTS = {
    "loss": "sparse_categorical_crossentropy",
    "learning_rate": 1e-3,
    "batch_size": 128,
    "qat_epochs": 1,
    "prune_epochs": 2,
    "prune_frequency": 100,
    "rep_samples": 300,
    "seed": 1234,
}

_EXAMPLE = "models/fashion_torch/net.toml"


@dataclass(frozen=True)
class DataSpec:
    """The [dataset] table: where the samples are and how stored values become model inputs."""

    name: str = ""                                        # a built-in dataset, or "" for files
    directory: str = ""                                   # an idx or CIFAR-10 folder
    files: dict[str, str] = field(default_factory=dict)   # train_x, train_y, test_x, test_y: .npy paths
    scale: float | None = None                            # model input = stored * scale + offset
    offset: float = 0.0
    classes: tuple[str, ...] = ()

    def input_scale(self, stored: object) -> float:
        """The scale for stored values of dtype `stored`: given, else 1/255 for uint8 images, else 1."""
        if self.scale is not None:
            return float(self.scale)
        return 1.0 / 255.0 if str(stored) == "uint8" else 1.0  # a numpy dtype; numpy stays unimported


@dataclass(frozen=True)
class NetSpec:
    """One network folder, as read from disk."""

    name: str
    folder: Path
    source: Path            # the model file, or the SavedModel folder
    kind: str               # a value of SOURCES
    has_code: bool          # net.py defines the data and training
    output: str = "logits"  # "logits" or "probabilities"
    label_output: str = ""  # the output tensor predictions are read from ("": the first)
    data: DataSpec = field(default_factory=DataSpec)
    training: dict = field(default_factory=lambda: dict(TRAINING_DEFAULTS))

    @property
    def variants(self) -> tuple[str, ...]:
        """The variants this source allows, in report order."""
        return VARIANTS_BY_KIND[self.kind]

    @property
    def default_variant(self) -> str:
        """ptq where it exists (the usual deployment), else the only variant."""
        return "ptq" if "ptq" in self.variants else self.variants[0]

    def why_not(self, variant: str) -> str | None:
        """Why `variant` cannot be built from this source (None when it can)."""
        if variant in self.variants:
            return None
        if variant == GIVEN:
            reason = "MODEL=given builds a network's model.tflite as it is, and this one is not a .tflite"
        else:
            reason = _WHY_NOT.get(self.kind, f"it does not apply to a {self.kind} model")
        return (f"MODEL={variant} cannot be built for NET={self.name} from {self.source.name}: {reason}. "
                f"This network builds MODEL={', '.join(self.variants)}")


def is_net_folder(folder: Path) -> bool:
    """True when `folder` holds a net.py or a net.toml."""
    return (folder / CODE).is_file() or (folder / MANIFEST).is_file()


def find_source(folder: Path, named: str | None = None) -> tuple[Path, str]:
    """The model source in `folder` and its kind: `named` (net.toml's [model] file), else the one present."""
    if named:
        path = folder / named
        kind = SOURCES.get(path.name) or _kind_of(path)
        if not path.exists():
            raise KilnError(f"{folder / MANIFEST} names model file {named}, which is not in {folder}")
        return path, kind
    found = [(folder / name, kind) for name, kind in SOURCES.items() if (folder / name).exists()]
    if not found:
        raise KilnError(f"{folder} holds no trained model: add one of {', '.join(SOURCES)} "
                        f"(or create the folder with 'scons new-net NET={folder.name} FROM=path/to/model')")
    if len(found) > 1:
        names = ", ".join(p.name for p, _ in found)
        raise KilnError(f"{folder} holds several models ({names}): name the one to build in "
                        f"{MANIFEST} as [model] file = \"...\"")
    return found[0]


def _kind_of(path: Path) -> str:
    """A source kind from a file name, for files not named as in SOURCES."""
    if path.is_dir() and (path / "saved_model.pb").is_file():
        return "savedmodel"
    kinds = {".keras": "keras", ".h5": "h5", ".hdf5": "h5", ".onnx": "onnx", ".tflite": "tflite"}
    if path.suffix.lower() in kinds:
        return kinds[path.suffix.lower()]
    raise KilnError(
        f"{path} is not a model type Kiln reads: use a Keras 3 .keras file, a Keras or tf_keras .h5 "
        "file, a SavedModel folder (holding saved_model.pb), an ONNX .onnx file or a .tflite file")


def kind_of(path: str | Path) -> str:
    """The source kind of a model file or folder given by a user (FROM= of new-net)."""
    path = Path(path)
    if not path.exists():
        raise KilnError(f"model {path} not found")
    return _kind_of(path)


def _read_manifest(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise KilnError(f"cannot read {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise KilnError(f"{path} is not valid TOML ({exc}): fix the line it names (see {_EXAMPLE})") from exc


_TABLES = {
    "model": {"file", "output", "label_output"},
    "dataset": {"name", "dir", "idx", "train_x", "train_y", "test_x", "test_y", "scale", "offset", "classes"},
    "training": set(TRAINING_DEFAULTS),
}


def _check_keys(path: Path, manifest: dict) -> None:
    """Refuse unknown tables and keys: a misspelled key would otherwise be ignored silently."""
    for table, value in manifest.items():
        if table not in _TABLES:
            raise KilnError(f"{path}: unknown table [{table}]; valid tables are "
                            f"{', '.join(f'[{t}]' for t in _TABLES)}")
        if not isinstance(value, dict):
            raise KilnError(f"{path}: {table} must be a table ([{table}])")
        for key in value:
            if key not in _TABLES[table]:
                raise KilnError(f"{path}: unknown key '{key}' in [{table}]; valid keys are "
                                f"{', '.join(sorted(_TABLES[table]))}")


def _data_spec(path: Path, table: dict) -> DataSpec:
    name = str(table.get("name", ""))
    if name and name not in BUILTIN_DATASETS:
        raise KilnError(f"{path}: unknown dataset name '{name}' in [dataset]; built-in datasets are "
                        f"{', '.join(BUILTIN_DATASETS)}, or give .npy files (train_x, train_y, test_x, "
                        "test_y) or an idx folder (idx = \"...\")")
    files = {k: str(table[k]) for k in ("train_x", "train_y", "test_x", "test_y") if k in table}
    directory = str(table.get("idx") or table.get("dir") or "")
    if not name and not files and not directory:
        raise KilnError(f"{path}: [dataset] names no data: give name = \"fashion_mnist\" (or mnist, "
                        "cifar10 with dir = ...), .npy files (test_x, test_y, and train_x, train_y for "
                        "calibration) or idx = \"folder of MNIST-format idx files\"")
    if files and "test_x" not in files:
        raise KilnError(f"{path}: [dataset] gives .npy files but no test_x: the test inputs are needed")
    classes = table.get("classes", ())
    if not isinstance(classes, list | tuple) or not all(isinstance(c, str) for c in classes):
        raise KilnError(f"{path}: [dataset] classes must be a list of strings")
    try:
        scale = float(table["scale"]) if "scale" in table else None
        offset = float(table.get("offset", 0.0))
    except (TypeError, ValueError) as exc:
        raise KilnError(f"{path}: [dataset] scale and offset must be numbers") from exc
    return DataSpec(name=name, directory=directory, files=files, scale=scale, offset=offset,
                    classes=tuple(classes))


def load(folder: str | Path, name: str | None = None) -> NetSpec:
    """Read the network folder `folder` (net.py or net.toml, and its model); `name` defaults to
    the folder's (new-net checks a folder under a temporary name)."""
    folder = Path(folder)
    name = name or folder.name
    if (folder / CODE).is_file():
        # A net.py network: its code names the data and training; the model is model.h5.
        return NetSpec(name=name, folder=folder, source=folder / "model.h5", kind="h5", has_code=True)
    path = folder / MANIFEST
    if not path.is_file():
        raise KilnError(
            f"models/{name}/ is not a network: it needs a {MANIFEST} manifest and a trained model "
            f"(or a {CODE}); create one with 'scons new-net NET={name} FROM=path/to/model DATASET=...'")
    manifest = _read_manifest(path)
    _check_keys(path, manifest)
    model = manifest.get("model", {})
    source, kind = find_source(folder, model.get("file"))
    output = str(model.get("output", "logits"))
    if output not in ("logits", "probabilities"):
        raise KilnError(f"{path}: [model] output must be \"logits\" or \"probabilities\", not \"{output}\"")
    if "dataset" not in manifest:
        raise KilnError(f"{path} has no [dataset] table: name the data the model was trained on "
                        f"(see {_EXAMPLE})")
    training = dict(TRAINING_DEFAULTS, **manifest.get("training", {}))
    return NetSpec(name=name, folder=folder, source=source, kind=kind, has_code=False, output=output,
                   label_output=str(model.get("label_output", "")),
                   data=_data_spec(path, manifest["dataset"]), training=training)


def input_files(spec: NetSpec) -> list[Path]:
    """Every file a conversion of `spec` reads besides code: the manifest, the model, the .npy data."""
    files = [spec.folder / MANIFEST] if not spec.has_code else []
    if spec.source.is_dir():
        files += sorted(p for p in spec.source.rglob("*") if p.is_file())
    else:
        files.append(spec.source)
    files += [resolve(spec, f) for f in spec.data.files.values()]
    return files


def source_bytes(spec: NetSpec) -> int:
    """The size of the trained model: its file, or every file of a SavedModel folder."""
    if spec.source.is_dir():
        return sum(p.stat().st_size for p in spec.source.rglob("*") if p.is_file())
    return spec.source.stat().st_size if spec.source.is_file() else 0


def resolve(spec: NetSpec, relative: str) -> Path:
    """A path from the manifest: relative to the network folder unless absolute."""
    path = Path(relative).expanduser()
    return path if path.is_absolute() else spec.folder / path
