"""ds_cnn: the MLPerf Tiny keyword spotting network (DS-CNN small), on synthetic MFCC-like input.

49x10x1 (49 frames of 10 MFCCs) -> [Conv 10x4/2 (64) + BN + ReLU]
-> 4 x [DepthwiseConv 3x3 + BN + ReLU -> Conv 1x1 (64) + BN + ReLU]
-> AveragePooling 25x5 -> Flatten -> Dense(12) -> softmax.
About 23k parameters and 2.66M multiply-accumulates per sample, the shapes
of the MLPerf Tiny reference model (L2 1e-4, dropout in training).

Data: a seeded synthetic set (synthetic_mfcc below): each of the 12 classes
owns a smooth time-frequency template; a sample is its template shifted in
time and scaled, with a little of another class's template and noise.
"""

from __future__ import annotations

import numpy as np

SEED = 4912
#: The model ends in softmax: outputs are probabilities.
OUTPUT_LOGITS = False
HPARAMS = {
    "train_epochs": 6,
    "batch_size": 64,
    "qat_epochs": 1,
    "prune_epochs": 1,
    "rep_samples": 300,
}
SHAPE = (49, 10, 1)
CLASSES = 12
SYNTHETIC_TRAIN = 8000
SYNTHETIC_TEST = 1000
#: The reference model's weight decay.
L2 = 1e-4


def synthetic_mfcc(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded MFCC-like set: float32 (count, 49, 10, 1), roughly in [-5, 5], and int labels.

    The class templates come from a fixed seed (the same for every split);
    the first coefficients carry more energy, as in real MFCCs."""
    frames, coeffs, _ = SHAPE
    trng = np.random.default_rng(4242)
    coarse = trng.normal(0, 1, size=(CLASSES, frames // 7 + 1, coeffs))
    templates = np.repeat(coarse, 7, axis=1)[:, :frames, :] * np.linspace(1.5, 0.5, coeffs)
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, CLASSES, size=count)
    other = rng.integers(0, CLASSES, size=count)
    shift = rng.integers(-6, 7, size=count)
    gain = rng.uniform(0.7, 1.3, size=(count, 1, 1))
    mix = rng.uniform(0.0, 0.5, size=(count, 1, 1))
    x = templates[labels] * (1 - mix) + templates[other] * mix
    for i in range(count):  # a word is said a little earlier or later
        x[i] = np.roll(x[i], shift[i], axis=0)
    x = x * gain + rng.normal(0, 1.0, size=x.shape)
    return x[..., None].astype(np.float32), labels.astype(np.int64)


def build_model():  # noqa: ANN201 - a tf_keras.Model
    """The network, untrained."""
    import tf_keras as keras

    layers = keras.layers
    reg = keras.regularizers.l2(L2)
    inputs = keras.Input(shape=SHAPE, name="mfcc")
    x = layers.Conv2D(64, (10, 4), strides=2, padding="same", kernel_regularizer=reg, name="stem")(inputs)
    x = layers.ReLU(name="stem_relu")(layers.BatchNormalization(name="stem_bn")(x))
    x = layers.Dropout(0.2, name="stem_dropout")(x)
    for i in range(1, 5):
        x = layers.DepthwiseConv2D(3, padding="same", depthwise_regularizer=reg, name=f"dw{i}")(x)
        x = layers.ReLU(name=f"dw{i}_relu")(layers.BatchNormalization(name=f"dw{i}_bn")(x))
        x = layers.Conv2D(64, 1, kernel_regularizer=reg, name=f"pw{i}")(x)
        x = layers.ReLU(name=f"pw{i}_relu")(layers.BatchNormalization(name=f"pw{i}_bn")(x))
    x = layers.Dropout(0.4, name="dropout")(x)
    x = layers.AveragePooling2D((25, 5), name="avgpool")(x)
    x = layers.Flatten(name="flatten")(x)
    outputs = layers.Dense(CLASSES, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name="ds_cnn")


def compile_model(model) -> None:  # noqa: ANN001 - a tf_keras.Model
    """Adam and cross-entropy on probabilities (also used for fine-tuning)."""
    import tf_keras as keras

    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(), metrics=["accuracy"])


def load_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test): float32 (N, 49, 10, 1) and int labels."""
    x_train, y_train = synthetic_mfcc(SYNTHETIC_TRAIN, SEED)
    x_test, y_test = synthetic_mfcc(SYNTHETIC_TEST, SEED + 1)
    return x_train, y_train, x_test, y_test


def train(model, x: np.ndarray, y: np.ndarray) -> None:  # noqa: ANN001 - a compiled tf_keras.Model
    """The seeded training recipe (seeds are set by the caller from SEED)."""
    model.fit(x, y, epochs=HPARAMS["train_epochs"], batch_size=HPARAMS["batch_size"],
              validation_split=0.1, shuffle=True, verbose=2)


def test_set() -> tuple[np.ndarray, np.ndarray]:
    """The test split as `scons infer NET=ds_cnn` runs it: float32 model inputs and labels."""
    return synthetic_mfcc(SYNTHETIC_TEST, SEED + 1)
