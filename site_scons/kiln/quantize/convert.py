"""Float model -> .tflite bytes, with the batch dimension fixed to 1.

A float model reaches the converter as a `Serving`: one traceable function of
one input. Keras models of either flavour (Keras 3, tf_keras) and SavedModels
(including those onnx2tf makes from ONNX) all become one (kiln.quantize.sources).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf
import tf_keras

from kiln.errors import KilnError


@dataclass
class Serving:
    """A float model as the converter takes it: `fn(x) -> y` for x of `input_shape` (batch first)."""

    fn: Callable[[tf.Tensor], tf.Tensor]
    input_shape: tuple[int, ...]   # per sample, without the batch axis
    # What owns the variables, for converters that need it (tf_keras models); None lets the
    # converter freeze the variables the traced function captured, which Keras 3 models need
    # (given the model, the converter keeps them as uninitialised resource variables).
    trackable: object | None


def keras_serving(model: object) -> Serving:
    """A Keras model (Keras 3 or tf_keras) with one input, as a Serving."""
    shape = model.input_shape
    if isinstance(shape, list):
        raise KilnError(f"the model has {len(shape)} inputs; Kiln builds models with one input for now")
    if any(d is None for d in shape[1:]):
        raise KilnError(f"the model's input has a dynamic size {tuple(shape)}: give its Input a fixed shape "
                        "(only the batch dimension may vary; Kiln fixes it to 1)")
    legacy = type(model).__module__.startswith("tf_keras")
    return Serving(fn=lambda x: model(x, training=False), input_shape=tuple(shape[1:]),
                   trackable=model if legacy else None)


def load_keras_model(path: Path, custom_scope: dict | None = None) -> tf_keras.Model:
    """Load a trained tf_keras model file; a missing or corrupt file is named in the error."""
    if not path.is_file():
        raise KilnError(
            f"trained model {path} is missing: run 'scons train NET={path.parent.name}' to create it"
        )
    try:
        with tf_keras.utils.custom_object_scope(custom_scope or {}):
            return tf_keras.models.load_model(str(path), compile=False)
    except Exception as exc:  # noqa: BLE001 - h5py/keras raise many types for a bad file
        raise KilnError(
            f"cannot load trained model {path} ({type(exc).__name__}: {exc}); the file is corrupt or not a "
            f"tf_keras model: restore it from git or run 'scons train NET={path.parent.name}'"
        ) from exc


def representative_dataset(
    x_train: np.ndarray, count: int, seed: int
) -> Callable[[], Iterator[list[np.ndarray]]]:
    """A converter calibration generator: `count` seeded training samples, one at a time (batch 1)."""
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(x_train), size=min(count, len(x_train)), replace=False)

    def gen() -> Iterator[list[np.ndarray]]:
        for i in picks:
            yield [x_train[i: i + 1].astype(np.float32)]

    return gen


def to_tflite(
    model: object,
    mode: str,
    calibration: Callable[[], Iterator[list[np.ndarray]]] | None = None,
) -> bytes:
    """Convert `model` (a Serving, or a Keras model) to .tflite bytes.

    mode: 'float' (float32), 'dynamic' (int8 weights, float activations) or
    'int8' (full integer, int8 input and output, calibrated by `calibration`).
    The model is traced with a static batch of 1 so that Flatten becomes one
    RESHAPE with a constant shape instead of SHAPE/STRIDED_SLICE/PACK ops.
    """
    serving = model if isinstance(model, Serving) else keras_serving(model)

    @tf.function
    def serve(x: tf.Tensor) -> tf.Tensor:
        return serving.fn(x)

    concrete = serve.get_concrete_function(tf.TensorSpec([1, *serving.input_shape], tf.float32, name="input"))
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], serving.trackable)
    if mode == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif mode == "int8":
        if calibration is None:
            raise ValueError("int8 conversion needs a calibration dataset")
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = calibration
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    elif mode != "float":
        raise ValueError(f"unknown conversion mode {mode}")
    try:
        return bytes(converter.convert())
    except Exception as exc:  # noqa: BLE001 - the converter raises ConverterError and friends
        lines = [line for line in str(exc).splitlines() if line.strip()]
        detail = " / ".join(lines[-4:])[:800]
        raise KilnError(f"TFLite conversion ({mode}) failed: {type(exc).__name__}: {detail}; the model "
                        "uses something the TFLite converter cannot lower to builtin operators") from exc
