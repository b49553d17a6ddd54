"""Trained Keras model -> quantized .tflite variants, run as a subprocess.

This package's top level never imports TensorFlow: SCons imports it to learn
which source files each variant depends on. The work runs in
``python -m kiln.quantize`` (see __main__.py).
"""

from __future__ import annotations

from pathlib import Path

from kiln import registry

HERE = Path(__file__).resolve().parent

#: The trained model file inside models/<net>/ (HDF5: tf_keras and tfmot load it reliably).
MODEL_FILE = "model.h5"

#: Code every variant's conversion runs: a change here rebuilds every variant.
SHARED_SOURCES = (
    "__main__.py", "context.py", "convert.py", "evaluate.py", "netdef.py", "tflite_read.py",
)

#: Extra shared modules some recipes use, beyond their own recipe module.
RECIPE_EXTRAS = {
    "prune_struct": ("pruning.py",),
    "prune_unstruct": ("pruning.py",),
    "prune_poly": ("pruning.py",),
    "pqat": ("pruning.py",),
}


def recipe_sources(variant: str) -> list[Path]:
    """The source files whose content decides `variant`'s conversion (besides the net and model)."""
    if variant not in registry.VARIANTS:
        raise ValueError(f"unknown variant {variant}")
    files = [HERE / "recipes" / f"{variant}.py"]
    files += [HERE / name for name in SHARED_SOURCES + RECIPE_EXTRAS.get(variant, ())]
    files += [HERE.parent / "datasets.py", HERE.parent / "atomic.py"]
    return files
