"""cifar_cnn: a small CIFAR-10-sized CNN, the compiler's second network.

32x32x3 -> [Conv 3x3/2 + BN + ReLU] -> [Conv 3x3 + BN + ReLU]
-> [DepthwiseConv 3x3 + BN + ReLU -> Conv 1x1 + BN] + residual ADD -> ReLU
-> [Conv 3x3/2 (48) + BN + ReLU] -> [Conv 3x3 (48) + BN + ReLU]
-> AveragePooling 8x8 -> Flatten -> Dense(10) -> softmax.
About 31k parameters and 2.6M multiply-accumulates per image.

Data: real CIFAR-10 when $KILN_CIFAR10_DIR names the python or binary
batches, otherwise a seeded synthetic set of 32x32x3 images with learnable
class structure (kiln.datasets.synthetic_images). Same net interface as
models/fashion_mnist/net.py.
"""

from __future__ import annotations

import os

import numpy as np
from kiln import datasets

SEED = 2024
#: The model ends in softmax: outputs are probabilities.
OUTPUT_LOGITS = False
HPARAMS = {
    "train_epochs": 6,
    "batch_size": 64,
    "qat_epochs": 1,
    "prune_epochs": 1,
    "rep_samples": 300,
}
#: Synthetic set sizes (used when no CIFAR-10 directory is given).
SYNTHETIC_TRAIN = 10000
SYNTHETIC_TEST = 2000


def build_model():  # noqa: ANN201 - a tf_keras.Model
    """The network, untrained (functional: the residual needs a branch)."""
    import tf_keras as keras

    layers = keras.layers

    def conv_bn(x, filters: int, kernel: int, stride: int, name: str, relu: bool = True):  # noqa: ANN001, ANN202
        x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False, name=name)(x)
        x = layers.BatchNormalization(name=name + "_bn")(x)
        return layers.ReLU(name=name + "_relu")(x) if relu else x

    inputs = keras.Input(shape=(32, 32, 3), name="image")
    stem = conv_bn(inputs, 16, 3, 2, "stem")
    x = conv_bn(stem, 16, 3, 1, "conv1")
    x = layers.DepthwiseConv2D(3, padding="same", use_bias=False, name="dw")(x)
    x = layers.BatchNormalization(name="dw_bn")(x)
    x = layers.ReLU(name="dw_relu")(x)
    x = conv_bn(x, 16, 1, 1, "pw", relu=False)
    x = layers.Add(name="residual")([stem, x])
    x = layers.ReLU(name="residual_relu")(x)
    x = conv_bn(x, 48, 3, 2, "conv2")
    x = conv_bn(x, 48, 3, 1, "conv3")
    x = layers.AveragePooling2D(8, name="avgpool")(x)
    x = layers.Flatten(name="flatten")(x)
    outputs = layers.Dense(10, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name="cifar_cnn")


def compile_model(model) -> None:  # noqa: ANN001 - a tf_keras.Model
    """Adam and cross-entropy on probabilities (also used for fine-tuning)."""
    import tf_keras as keras

    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(), metrics=["accuracy"])


def load_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test): float32 (N, 32, 32, 3) in [0, 1] and int labels."""
    directory = os.environ.get(datasets.CIFAR10_ENV)
    if directory:
        x_train, y_train = datasets.load_cifar10("train", directory)
        x_test, y_test = datasets.load_cifar10("test", directory)
    else:
        x_train, y_train = datasets.synthetic_images(SYNTHETIC_TRAIN, (32, 32, 3), 10, seed=SEED)
        x_test, y_test = datasets.synthetic_images(SYNTHETIC_TEST, (32, 32, 3), 10, seed=SEED + 1)
    return x_train.astype(np.float32) / 255.0, y_train, x_test.astype(np.float32) / 255.0, y_test


def train(model, x: np.ndarray, y: np.ndarray) -> None:  # noqa: ANN001 - a compiled tf_keras.Model
    """The seeded training recipe (seeds are set by the caller from SEED)."""
    model.fit(x, y, epochs=HPARAMS["train_epochs"], batch_size=HPARAMS["batch_size"],
              validation_split=0.1, shuffle=True, verbose=2)
