"""What a variant recipe gets: the net, its trained model, its data, seeded TensorFlow."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import numpy as np
import tensorflow as tf
import tf_keras

from kiln.quantize.convert import load_keras_model, representative_dataset


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and TensorFlow and ask for deterministic kernels, so reruns match."""
    tf_keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


@dataclass
class Context:
    """One variant build's inputs. Data is loaded once, on first use."""

    net: ModuleType
    model_path: Path
    _data: tuple[np.ndarray, ...] | None = field(default=None, repr=False)

    @property
    def hparams(self) -> dict:
        """The net's variant hyperparameters (fine-tuning epochs, batch size...)."""
        return self.net.HPARAMS

    @property
    def data(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(x_train, y_train, x_test, y_test), normalized as the model expects."""
        if self._data is None:
            self._data = tuple(self.net.load_data())
        return self._data

    def load_model(self) -> tf_keras.Model:
        """A fresh copy of the trained float model (recipes may fine-tune it in place)."""
        return load_keras_model(self.model_path)

    def calibration(self):  # noqa: ANN201 - a generator factory for the converter
        """Seeded representative samples from the training data, for full-integer calibration."""
        return representative_dataset(self.data[0], int(self.hparams.get("rep_samples", 300)), self.net.SEED)

    def fit(self, model: tf_keras.Model, epochs: int, callbacks: list | None = None) -> None:
        """Fine-tune `model` on the training data with the net's loss and optimizer, seeded."""
        seed_everything(self.net.SEED)
        self.net.compile_model(model)
        x, y = self.data[0], self.data[1]
        model.fit(
            x, y, epochs=epochs, batch_size=int(self.hparams.get("batch_size", 128)),
            shuffle=True, verbose=0, callbacks=callbacks or [],
        )
