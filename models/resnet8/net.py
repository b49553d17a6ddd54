"""resnet8: the MLPerf Tiny image classification network (ResNet-8), on synthetic images.

32x32x3 -> [Conv 3x3 (16) + BN + ReLU]
-> stage 1: [Conv 3x3 (16) + BN + ReLU -> Conv 3x3 (16) + BN] + identity -> ReLU
-> stage 2: [Conv 3x3/2 (32) + BN + ReLU -> Conv 3x3 (32) + BN] + Conv 1x1/2 (32) -> ReLU
-> stage 3: [Conv 3x3/2 (64) + BN + ReLU -> Conv 3x3 (64) + BN] + Conv 1x1/2 (64) -> ReLU
-> AveragePooling 8x8 -> Flatten -> Dense(10) -> softmax.
About 78k parameters and 12.5M multiply-accumulates per image, the shapes
of the MLPerf Tiny reference model (He-normal initialization, L2 1e-4).

Data: a seeded synthetic set of 32x32x3 images with learnable class
structure (kiln.datasets.synthetic_images), or real CIFAR-10 when
$KILN_CIFAR10_DIR names its batches. Same net interface as
models/cifar_cnn/net.py; `scons bench` runs it (kiln.bench.SUITE).
"""

from __future__ import annotations

import os

import numpy as np
from kiln import datasets

SEED = 8008
#: The model ends in softmax: outputs are probabilities.
OUTPUT_LOGITS = False
HPARAMS = {
    "train_epochs": 4,
    "batch_size": 64,
    "qat_epochs": 1,
    "prune_epochs": 1,
    "rep_samples": 200,
}
#: Synthetic set sizes (used when no CIFAR-10 directory is given).
SYNTHETIC_TRAIN = 5000
SYNTHETIC_TEST = 1000
#: The reference model's weight decay.
L2 = 1e-4


def build_model():  # noqa: ANN201 - a tf_keras.Model
    """The network, untrained (functional: the residuals need branches)."""
    import tf_keras as keras

    layers = keras.layers
    reg = keras.regularizers.l2(L2)

    def conv(x, filters: int, kernel: int, stride: int, name: str):  # noqa: ANN001, ANN202
        return layers.Conv2D(filters, kernel, strides=stride, padding="same", kernel_initializer="he_normal",
                             kernel_regularizer=reg, name=name)(x)

    def stage(x, filters: int, stride: int, name: str):  # noqa: ANN001, ANN202
        y = conv(x, filters, 3, stride, f"{name}_a")
        y = layers.ReLU(name=f"{name}_a_relu")(layers.BatchNormalization(name=f"{name}_a_bn")(y))
        y = layers.BatchNormalization(name=f"{name}_b_bn")(conv(y, filters, 3, 1, f"{name}_b"))
        # Stages that change the shape take a strided 1x1 convolution as their shortcut.
        shortcut = x if stride == 1 else conv(x, filters, 1, stride, f"{name}_shortcut")
        return layers.ReLU(name=f"{name}_relu")(layers.Add(name=f"{name}_add")([shortcut, y]))

    inputs = keras.Input(shape=(32, 32, 3), name="image")
    x = conv(inputs, 16, 3, 1, "stem")
    x = layers.ReLU(name="stem_relu")(layers.BatchNormalization(name="stem_bn")(x))
    x = stage(x, 16, 1, "stage1")
    x = stage(x, 32, 2, "stage2")
    x = stage(x, 64, 2, "stage3")
    x = layers.AveragePooling2D(8, name="avgpool")(x)
    x = layers.Flatten(name="flatten")(x)
    outputs = layers.Dense(10, activation="softmax", kernel_initializer="he_normal", name="probs")(x)
    return keras.Model(inputs, outputs, name="resnet8")


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


def test_set() -> tuple[np.ndarray, np.ndarray]:
    """The test split as `scons infer NET=resnet8` runs it: float32 model inputs and labels."""
    directory = os.environ.get(datasets.CIFAR10_ENV)
    if directory:
        x, y = datasets.load_cifar10("test", directory)
    else:
        x, y = datasets.synthetic_images(SYNTHETIC_TEST, (32, 32, 3), 10, seed=SEED + 1)
    return x.astype(np.float32) / 255.0, y
