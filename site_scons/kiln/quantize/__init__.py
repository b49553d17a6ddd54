"""Trained Keras model -> quantized .tflite variants, run as a subprocess.

This package's top level never imports TensorFlow: SCons imports it to learn
which source files each variant depends on. The work runs in
``python -m kiln.quantize`` (see __main__.py).
"""

from __future__ import annotations

#: The trained model file inside models/<net>/ (HDF5: tf_keras and tfmot load it reliably).
MODEL_FILE = "model.h5"


def entry_modules(variant: str) -> tuple[str, ...]:
    """The modules a conversion of `variant` starts from (kiln.pydeps follows their imports)."""
    return ("kiln.quantize.__main__", f"kiln.quantize.recipes.{variant}")
