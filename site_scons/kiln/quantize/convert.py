"""Keras model loading and .tflite conversion with the batch dimension fixed to 1."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import tensorflow as tf
import tf_keras

from kiln.errors import KilnError


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
    model: tf_keras.Model,
    mode: str,
    calibration: Callable[[], Iterator[list[np.ndarray]]] | None = None,
) -> bytes:
    """Convert `model` to .tflite bytes.

    mode: 'float' (float32), 'dynamic' (int8 weights, float activations) or
    'int8' (full integer, int8 input and output, calibrated by `calibration`).
    The model is traced with a static batch of 1 so that Flatten becomes one
    RESHAPE with a constant shape instead of SHAPE/STRIDED_SLICE/PACK ops.
    """
    shape = [1, *model.input_shape[1:]]

    @tf.function
    def serve(x: tf.Tensor) -> tf.Tensor:
        return model(x, training=False)

    concrete = serve.get_concrete_function(tf.TensorSpec(shape, tf.float32, name="input"))
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], model)
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
        raise KilnError(f"TFLite conversion ({mode}) failed: {type(exc).__name__}: {exc}") from exc
