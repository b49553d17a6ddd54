"""fashion_mnist: the network of the ETH "Machine Learning on Microcontrollers" exercise.

28x28 grayscale -> Conv2D(12, 3x3, ReLU) -> MaxPool(2x2) -> Flatten -> Dense(10)
(logits): 20,410 parameters.

The net interface every models/<net>/net.py defines (read by kiln.quantize):
SEED, HPARAMS (variant fine-tuning settings), OUTPUT_LOGITS, build_model(),
compile_model(model), load_data() and train(model, x, y). TensorFlow is
imported inside the functions so that reading this file stays cheap.
"""

from __future__ import annotations

import numpy as np
from kiln import datasets

#: Seeds training, fine-tuning and the calibration sample: reruns give the same model.
SEED = 1234
#: The model outputs logits (Dense without softmax), as in the exercise.
OUTPUT_LOGITS = True
#: Training and variant settings; fine-tuning is kept short so all variants build in minutes.
HPARAMS = {
    "train_epochs": 20,
    "batch_size": 128,
    "qat_epochs": 1,
    "prune_epochs": 2,
    "rep_samples": 300,
}


def build_model():  # noqa: ANN201 - a tf_keras.Model
    """The exercise's network, untrained."""
    import tf_keras as keras

    return keras.Sequential([
        keras.layers.InputLayer(input_shape=(28, 28, 1), name="image"),
        keras.layers.Conv2D(12, (3, 3), activation="relu", name="conv"),
        keras.layers.MaxPooling2D((2, 2), name="pool"),
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(10, name="logits"),
    ], name="fashion_mnist")


def compile_model(model) -> None:  # noqa: ANN001 - a tf_keras.Model
    """Adam and cross-entropy on logits, as in the exercise (also used for fine-tuning)."""
    import tf_keras as keras

    model.compile(
        optimizer=keras.optimizers.Adam(),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )


def load_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fashion-MNIST as float32 (N, 28, 28, 1) in [0, 1] and int labels: train 60,000, test 10,000.

    Reads /usr/share/datasets/fashion-mnist/ or $KILN_FASHION_MNIST_DIR.
    """
    x_train, y_train = datasets.load_fashion_mnist("train")
    x_test, y_test = datasets.load_fashion_mnist("test")
    return x_train.astype(np.float32) / 255.0, y_train, x_test.astype(np.float32) / 255.0, y_test


def train(model, x: np.ndarray, y: np.ndarray) -> None:  # noqa: ANN001 - a compiled tf_keras.Model
    """The seeded training recipe (seeds are set by the caller from SEED)."""
    model.fit(x, y, epochs=HPARAMS["train_epochs"], batch_size=HPARAMS["batch_size"],
              validation_split=0.1, shuffle=True, verbose=2)
