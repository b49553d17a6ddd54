"""Load a network's trained model, whatever form it came in, for the converter or for fine-tuning.

    keras       model.keras (Keras 3)
    h5          model.h5, Keras 3 or tf_keras: told apart by the keras_version the file records
    savedmodel  a SavedModel folder (its serving_default signature)
    onnx        model.onnx, converted to a SavedModel by onnx2tf (kiln.quantize.onnx_source)
    tflite      model.tflite, built as given
"""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf

from kiln.errors import KilnError
from kiln.netspec import NetSpec
from kiln.quantize.convert import Serving, keras_serving, load_keras_model


def h5_flavour(path: Path) -> str:
    """'keras3' or 'tf_keras': the Keras that wrote the .h5 file (its keras_version attribute)."""
    import h5py

    if not path.is_file():
        return "tf_keras"  # missing: the tf_keras loader says how to make it (scons train)
    try:
        with h5py.File(path, "r") as f:
            version = f.attrs.get("keras_version", "")
    except OSError as exc:
        raise KilnError(f"{path} is corrupt: it is not an HDF5 file ({exc}); save the model again") from exc
    version = version.decode() if isinstance(version, bytes) else str(version)
    return "keras3" if version.startswith("3") else "tf_keras"


def is_keras3(spec: NetSpec) -> bool:
    """True when the network's model was saved by Keras 3."""
    return spec.kind == "keras" or (spec.kind == "h5" and h5_flavour(spec.source) == "keras3")


def load_keras3(path: Path) -> object:
    """Load a Keras 3 model file (.keras or .h5) without its training configuration."""
    import keras

    if not path.is_file():
        raise KilnError(f"trained model {path} is missing")
    try:
        return keras.models.load_model(str(path), compile=False)
    except Exception as exc:  # noqa: BLE001 - zip, h5py and deserialization raise many types
        raise KilnError(
            f"cannot load Keras 3 model {path} ({type(exc).__name__}: {str(exc)[:300]}): the file is "
            "corrupt, "
            "or it uses custom layers (Kiln loads standard Keras layers only)") from exc


def _saved_model_serving(folder: Path) -> Serving:
    """A SavedModel's serving_default signature (one input, one output) as a Serving."""
    try:
        loaded = tf.saved_model.load(str(folder))
    except Exception as exc:  # noqa: BLE001 - protobuf and TF raise many types
        raise KilnError(f"cannot load SavedModel {folder} ({type(exc).__name__}: {str(exc)[:300]}): the "
                        "folder is corrupt or incomplete; export it again") from exc
    signatures = getattr(loaded, "signatures", {})
    if "serving_default" not in signatures:
        raise KilnError(f"SavedModel {folder} has no serving_default signature: export it with "
                        "model.export() (Keras) or tf.saved_model.save(..., signatures=...)")
    fn = signatures["serving_default"]
    inputs = fn.structured_input_signature[1]
    outputs = sorted(fn.structured_outputs)
    if len(inputs) != 1 or len(outputs) != 1:
        raise KilnError(f"SavedModel {folder} has {len(inputs)} inputs and {len(outputs)} outputs; Kiln "
                        "builds models with one input and one output for now")
    (name, spec), = inputs.items()
    shape = spec.shape.as_list()[1:]
    if any(d is None for d in shape):
        raise KilnError(f"SavedModel {folder}'s input {name} has an unknown size {spec.shape}: export it "
                        "with a fixed input shape (only the batch dimension may vary; it is fixed to 1)")
    key = outputs[0]
    return Serving(fn=lambda x: fn(**{name: x})[key], input_shape=tuple(shape), trackable=loaded)


def float_serving(spec: NetSpec, cache: Path) -> Serving:
    """The network's float model as a Serving, for the float, dynamic and ptq conversions.

    `cache` holds conversions reused between variants (the ONNX import).
    """
    if spec.kind == "savedmodel":
        return _saved_model_serving(spec.source)
    if spec.kind == "onnx":
        from kiln.quantize import onnx_source

        return _saved_model_serving(onnx_source.to_saved_model(spec.source, cache))
    if spec.kind == "tflite":
        raise KilnError(spec.why_not("float") or "a .tflite source has no float model")
    if is_keras3(spec):
        return keras_serving(load_keras3(spec.source))
    return keras_serving(load_keras_model(spec.source))
