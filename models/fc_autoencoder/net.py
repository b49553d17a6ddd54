"""fc_autoencoder: the MLPerf Tiny anomaly detection network (a fully connected autoencoder).

640 (5 frames of 128 log-mel bands) -> 4 x [Dense(128) + BN + ReLU]
-> [Dense(8) + BN + ReLU] -> 4 x [Dense(128) + BN + ReLU] -> Dense(640), linear.
About 270k parameters and 0.26M multiply-accumulates per sample, the shapes
of the MLPerf Tiny reference model. Trained on mean squared reconstruction
error: its output is a regression (the reconstructed input), not a class, so
the build reports its loss (MSE) and no accuracy, and `scons infer` reports
fidelity and latency only.

Data: a seeded synthetic set of "normal machine sound" frames (synthetic_frames
below): each sample mixes a few smooth spectra from a fixed set, slowly
varying over its 5 frames, plus noise; the targets are the inputs.
"""

from __future__ import annotations

import numpy as np

SEED = 640
#: The output is a reconstruction, not logits or probabilities (see the docstring).
OUTPUT_LOGITS = False
HPARAMS = {
    "train_epochs": 30,
    "batch_size": 128,
    "qat_epochs": 1,
    "prune_epochs": 1,
    "rep_samples": 300,
}
FRAMES, BANDS = 5, 128
SYNTHETIC_TRAIN = 8000
SYNTHETIC_TEST = 1000
#: Smooth spectra the normal sounds are made of.
BASES = 6


def synthetic_frames(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded set of float32 (count, 640) inputs, roughly in [-3, 3]; the targets are the inputs."""
    trng = np.random.default_rng(6400)
    coarse = trng.normal(0, 1, size=(BASES, BANDS // 8))
    bases = np.repeat(coarse, 8, axis=1)  # smooth across bands, the same for every split
    rng = np.random.default_rng(seed)
    weights = rng.normal(0, 0.6, size=(count, 1, BASES))
    drift = rng.normal(0, 0.1, size=(count, FRAMES, BASES))
    frames = (weights + drift) @ bases + rng.normal(0, 0.2, size=(count, FRAMES, BANDS))
    x = frames.reshape(count, FRAMES * BANDS).astype(np.float32)
    return x, x


def build_model():  # noqa: ANN201 - a tf_keras.Model
    """The network, untrained."""
    import tf_keras as keras

    layers = keras.layers
    inputs = keras.Input(shape=(FRAMES * BANDS,), name="frames")
    x = inputs
    for i, units in enumerate((128, 128, 128, 128, 8, 128, 128, 128, 128), start=1):
        x = layers.Dense(units, name=f"dense{i}")(x)
        x = layers.ReLU(name=f"dense{i}_relu")(layers.BatchNormalization(name=f"dense{i}_bn")(x))
    outputs = layers.Dense(FRAMES * BANDS, name="reconstruction")(x)
    return keras.Model(inputs, outputs, name="fc_autoencoder")


def compile_model(model) -> None:  # noqa: ANN001 - a tf_keras.Model
    """Adam on the mean squared reconstruction error (mean absolute error as the second figure)."""
    import tf_keras as keras

    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mean_squared_error", metrics=["mae"])


def load_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test): float32 (N, 640) inputs; the targets are the inputs."""
    x_train, y_train = synthetic_frames(SYNTHETIC_TRAIN, SEED)
    x_test, y_test = synthetic_frames(SYNTHETIC_TEST, SEED + 1)
    return x_train, y_train, x_test, y_test


def train(model, x: np.ndarray, y: np.ndarray) -> None:  # noqa: ANN001 - a compiled tf_keras.Model
    """The seeded training recipe (seeds are set by the caller from SEED)."""
    model.fit(x, y, epochs=HPARAMS["train_epochs"], batch_size=HPARAMS["batch_size"],
              validation_split=0.1, shuffle=True, verbose=2)


def test_set() -> tuple[np.ndarray, None]:
    """The test split as `scons infer NET=fc_autoencoder` runs it: float32 inputs and no labels
    (the output is a reconstruction, not a class: infer reports fidelity and latency only)."""
    return synthetic_frames(SYNTHETIC_TEST, SEED + 1)[0], None
