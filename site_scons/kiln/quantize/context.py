"""What a variant recipe gets: the network, its trained model, its data, seeded TensorFlow.

A network is a net.py module (code) or a net.toml manifest (kiln.netspec);
recipes see one interface for both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import numpy as np
import tensorflow as tf
import tf_keras

from kiln import netdata
from kiln.errors import KilnError
from kiln.netspec import NetSpec
from kiln.quantize import sources
from kiln.quantize.convert import Serving, load_keras_model, representative_dataset

#: Samples compared when a model is carried between frameworks (ONNX -> TF, Keras 3 -> tf_keras).
CHECK_SAMPLES = 50
#: Largest difference from onnxruntime, relative to the output's magnitude, accepted after import.
ONNX_TOLERANCE = 1e-4


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and TensorFlow and ask for deterministic kernels, so reruns match."""
    tf_keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def _loss(name: str, from_logits: bool) -> tf_keras.losses.Loss:
    """A manifest's [training] loss; labels are class indices (one-hot labels are read as indices)."""
    losses = {
        "sparse_categorical_crossentropy": lambda: tf_keras.losses.SparseCategoricalCrossentropy(
            from_logits=from_logits),
        "categorical_crossentropy": lambda: tf_keras.losses.SparseCategoricalCrossentropy(
            from_logits=from_logits),
        "binary_crossentropy": lambda: tf_keras.losses.BinaryCrossentropy(from_logits=from_logits),
        "mean_squared_error": lambda: tf_keras.losses.MeanSquaredError(),
    }
    if name not in losses:
        raise KilnError(f"unknown [training] loss '{name}' in net.toml: valid losses are {', '.join(losses)}")
    return losses[name]()


@dataclass
class Context:
    """One variant build's inputs. Models and data are loaded on first use."""

    spec: NetSpec
    net: ModuleType | None = None   # net.py, for networks defined in code
    cache: Path = Path(".")         # conversions shared between variants (the ONNX import)
    checks: dict = field(default_factory=dict)   # comparisons made on the way, for the variant's JSON
    _data: tuple | None = field(default=None, repr=False)
    _serving: Serving | None = field(default=None, repr=False)

    @property
    def hparams(self) -> dict:
        """Fine-tuning settings: net.py's HPARAMS or net.toml's [training]."""
        return self.net.HPARAMS if self.net else self.spec.training

    @property
    def seed(self) -> int:
        """The seed of fine-tuning and of the calibration sample."""
        return int(self.net.SEED if self.net else self.spec.training["seed"])

    @property
    def output_logits(self) -> bool:
        """True when the model outputs logits rather than probabilities."""
        return bool(self.net.OUTPUT_LOGITS) if self.net else self.spec.output == "logits"

    def input_shape(self) -> tuple[int, ...]:
        """The model's input shape per sample."""
        if self.spec.kind == "tflite":
            interp = tf.lite.Interpreter(model_path=str(self.spec.source))
            return tuple(int(d) for d in interp.get_input_details()[0]["shape"][1:])
        return self.serving().input_shape

    @property
    def data(self) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray | None]:
        """(x_train, y_train, x_test, y_test) as the model takes them. Without a training split the
        test split stands in for it (calibration only: fine-tuning refuses it)."""
        if self._data is None:
            if self.net:
                self._data = tuple(self.net.load_data())
            else:
                self._data = self._manifest_data()
        return self._data

    def _manifest_data(self) -> tuple:
        shape = self.input_shape()
        test = netdata.load_split(self.spec, "test")
        train = netdata.load_split(self.spec, "train") or (None, None)
        where = f"NET={self.spec.name}'s dataset"
        x_test = netdata.fit_layout(netdata.scale_inputs(self.spec, test[0]), shape, where)
        x_train = (netdata.fit_layout(netdata.scale_inputs(self.spec, train[0]), shape, where)
                   if train[0] is not None else None)
        return x_train, train[1], x_test, test[1]

    def serving(self) -> Serving:
        """The float model for the converter (Keras 3, tf_keras, SavedModel or imported ONNX)."""
        if self._serving is None:
            self._serving = sources.float_serving(self.spec, self.cache)
            if self.spec.kind == "onnx":
                self._check_onnx()
        return self._serving

    def _check_onnx(self) -> None:
        """Compare the imported model with onnxruntime on test samples; a mismatch is a converter failure."""
        from kiln.quantize import onnx_source

        x = self.data[2][:CHECK_SAMPLES]
        ours = np.concatenate([np.asarray(self._serving.fn(tf.constant(x[i: i + 1]))) for i in range(len(x))])
        reference = onnx_source.onnxruntime_outputs(self.spec.source, x).reshape(ours.shape)
        diff = float(np.max(np.abs(ours - reference)))
        tolerance = ONNX_TOLERANCE * max(1.0, float(np.max(np.abs(reference))))
        self.checks["source_check"] = {"reference": "onnxruntime", "samples": len(x),
                                       "max_abs_diff": diff, "tolerance": tolerance}
        if diff > tolerance:
            raise KilnError(f"the ONNX import of {self.spec.source} differs from onnxruntime by up to "
                            f"{diff:.3g} (tolerance {tolerance:.3g}) on {len(x)} test samples: the "
                            "converter mistranslated an operator; please report the model")

    def load_model(self, variant: str = "") -> tf_keras.Model:
        """A fresh tf_keras copy of the trained model, for the recipes that fine-tune it in place."""
        reason = self.spec.why_not(variant) if variant else None
        if reason or self.spec.kind not in ("keras", "h5"):
            raise KilnError(reason or f"NET={self.spec.name}: a {self.spec.kind} model cannot be fine-tuned")
        if not self.net and (self.data[0] is None or self.data[1] is None):
            raise KilnError(f"MODEL={variant} fine-tunes on the training split, and NET={self.spec.name}'s "
                            "net.toml gives none: add train_x and train_y to [dataset]")
        if not sources.is_keras3(self.spec):
            return load_keras_model(self.spec.source)
        from kiln.quantize.keras_carry import carried_or_error

        model3 = sources.load_keras3(self.spec.source)
        twin, diff = carried_or_error(model3, self.data[2][:CHECK_SAMPLES], variant, self.spec.source.name)
        self.checks["carry_over"] = {"reference": "keras 3", "samples": min(CHECK_SAMPLES, len(self.data[2])),
                                     "max_abs_diff": diff}
        return twin

    def param_count(self) -> int | None:
        """Trainable and fixed parameters of the float model; None when the model holds its weights
        as constants (a .tflite, most ONNX imports): the report then counts the .tflite's."""
        if self.spec.kind == "tflite":
            return None
        if self.spec.kind in ("keras", "h5"):
            if sources.is_keras3(self.spec):
                return int(sources.load_keras3(self.spec.source).count_params())
            return int(load_keras_model(self.spec.source).count_params())
        variables = getattr(self.serving().trackable, "variables", None) or []
        return int(sum(np.prod(v.shape) for v in variables)) or None

    def calibration(self):  # noqa: ANN201 - a generator factory for the converter
        """Seeded representative samples from the training data (the test data without one)."""
        x = self.data[0] if self.data[0] is not None else self.data[2]
        if self.data[0] is None:
            self.checks["calibration"] = "test split (net.toml gives no train_x)"
        return representative_dataset(x, int(self.hparams.get("rep_samples", 300)), self.seed)

    def compile_model(self, model: tf_keras.Model) -> None:
        """Compile for fine-tuning: net.py's compile_model, or Adam and net.toml's loss."""
        if self.net:
            self.net.compile_model(model)
            return
        t = self.spec.training
        model.compile(optimizer=tf_keras.optimizers.Adam(float(t["learning_rate"])),
                      loss=_loss(str(t["loss"]), self.output_logits), metrics=["accuracy"])

    def fit(self, model: tf_keras.Model, epochs: int, callbacks: list | None = None) -> None:
        """Fine-tune `model` on the training data with the network's loss and optimizer, seeded."""
        seed_everything(self.seed)
        self.compile_model(model)
        x, y = self.data[0], self.data[1]
        model.fit(
            x, y, epochs=epochs, batch_size=int(self.hparams.get("batch_size", 128)),
            shuffle=True, verbose=0, callbacks=callbacks or [],
        )
