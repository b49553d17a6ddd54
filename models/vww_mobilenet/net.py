"""vww_mobilenet: the MLPerf Tiny visual wake words network (MobileNetV1, alpha 0.25), on synthetic images.

96x96x3 -> [Conv 3x3/2 (8) + BN + ReLU]
-> 13 x [DepthwiseConv 3x3 (stride 1 or 2) + BN + ReLU -> Conv 1x1 + BN + ReLU]
   with 16, 32/2, 32, 64/2, 64, 128/2, 128 x 5, 256/2, 256 output channels
-> AveragePooling 3x3 -> Flatten -> Dense(2) -> softmax.
About 221k parameters and 7.5M multiply-accumulates per image, the shapes
of the MLPerf Tiny reference model (L2 1e-4).

Data: a seeded synthetic set of 96x96x3 images in two classes
(kiln.datasets.synthetic_images), small because the images are large.
"""

from __future__ import annotations

import numpy as np
from kiln import datasets

SEED = 9696
#: The model ends in softmax: outputs are probabilities.
OUTPUT_LOGITS = False
HPARAMS = {
    "train_epochs": 12,
    "batch_size": 32,
    "qat_epochs": 1,
    "prune_epochs": 1,
    "rep_samples": 100,
}
SYNTHETIC_TRAIN = 1600
SYNTHETIC_TEST = 300
#: (pointwise channels, depthwise stride) of the 13 depthwise-separable blocks.
BLOCKS = ((16, 1), (32, 2), (32, 1), (64, 2), (64, 1), (128, 2), (128, 1), (128, 1), (128, 1),
          (128, 1), (128, 1), (256, 2), (256, 1))
#: The reference model's weight decay.
L2 = 1e-4
#: Batch-norm momentum: lower than Keras' 0.99 so the moving statistics settle within the
#: few hundred steps of this short training (else the inference-mode model is untrained).
BN_MOMENTUM = 0.9


def build_model():  # noqa: ANN201 - a tf_keras.Model
    """The network, untrained."""
    import tf_keras as keras

    layers = keras.layers
    reg = keras.regularizers.l2(L2)

    def bn(name: str):  # noqa: ANN202 - a layer
        return layers.BatchNormalization(momentum=BN_MOMENTUM, name=name)

    inputs = keras.Input(shape=(96, 96, 3), name="image")
    x = layers.Conv2D(8, 3, strides=2, padding="same", use_bias=False, kernel_regularizer=reg,
                      name="stem")(inputs)
    x = layers.ReLU(name="stem_relu")(bn("stem_bn")(x))
    for i, (filters, stride) in enumerate(BLOCKS, start=1):
        x = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False,
                                   depthwise_regularizer=reg, name=f"dw{i}")(x)
        x = layers.ReLU(name=f"dw{i}_relu")(bn(f"dw{i}_bn")(x))
        x = layers.Conv2D(filters, 1, use_bias=False, kernel_regularizer=reg, name=f"pw{i}")(x)
        x = layers.ReLU(name=f"pw{i}_relu")(bn(f"pw{i}_bn")(x))
    x = layers.AveragePooling2D(3, name="avgpool")(x)
    x = layers.Flatten(name="flatten")(x)
    outputs = layers.Dense(2, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name="vww_mobilenet")


def compile_model(model) -> None:  # noqa: ANN001 - a tf_keras.Model
    """Adam and cross-entropy on probabilities (also used for fine-tuning)."""
    import tf_keras as keras

    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(), metrics=["accuracy"])


def load_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test): float32 (N, 96, 96, 3) in [0, 1] and int labels."""
    x_train, y_train = datasets.synthetic_images(SYNTHETIC_TRAIN, (96, 96, 3), 2, seed=SEED)
    x_test, y_test = datasets.synthetic_images(SYNTHETIC_TEST, (96, 96, 3), 2, seed=SEED + 1)
    return x_train.astype(np.float32) / 255.0, y_train, x_test.astype(np.float32) / 255.0, y_test


def train(model, x: np.ndarray, y: np.ndarray) -> None:  # noqa: ANN001 - a compiled tf_keras.Model
    """The seeded training recipe (seeds are set by the caller from SEED)."""
    model.fit(x, y, epochs=HPARAMS["train_epochs"], batch_size=HPARAMS["batch_size"],
              validation_split=0.1, shuffle=True, verbose=2)


def test_set() -> tuple[np.ndarray, np.ndarray]:
    """The test split as `scons infer NET=vww_mobilenet` runs it: float32 model inputs and labels."""
    x, y = datasets.synthetic_images(SYNTHETIC_TEST, (96, 96, 3), 2, seed=SEED + 1)
    return x.astype(np.float32) / 255.0, y
