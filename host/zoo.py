"""Public architectures beyond the benchmark suite, as full-int8 .tflite files for
`scons bench TFLITE=...` and `scons check-host TFLITE=...`.

The suite's networks (models/) are what issue 13's targets are measured on;
these are the operator mixes real models bring that the suite lacks:
MobileNetV3's HARD_SWISH and 5x5 depthwise, a U-Net's transposed convolution,
bilinear upsampling and channel concatenation, a Conv1D network's dilated
causal convolutions and global max pooling, a transformer encoder block
(attention's products of activations, softmax, layer norms, GELU), and a
convolutional autoencoder (nearest upsampling, swish, a one-channel output). Weights are random (no download:
`weights=None`), batch norms randomized so that no channel is trivial; the
converter quantizes them on a seeded random representative set.

    python -m host.zoo [--out build/zoo] [NAME ...]     (default: every model)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np


def _models() -> dict[str, Callable]:
    import tf_keras as k

    A, L = k.applications, k.layers

    def unet():
        i = k.Input((32, 32, 1), batch_size=1)
        a = L.Conv2D(8, 3, padding="same", activation="relu")(i)
        b = L.Conv2D(16, 3, padding="same", activation="relu")(L.MaxPooling2D()(a))
        c = L.Concatenate()([a, L.UpSampling2D(interpolation="bilinear")(b)])
        c = L.Conv2DTranspose(8, 3, padding="same", activation="relu")(c)
        d = L.Conv2DTranspose(8, 3, strides=2, padding="same", activation="relu")(c)
        return k.Model(i, L.Conv2D(2, 1, activation="sigmoid")(L.MaxPooling2D()(d)))

    def tcn():
        i = k.Input((64, 3), batch_size=1)
        x = L.Conv1D(16, 5, padding="causal", dilation_rate=2, activation="relu")(i)
        x = L.SeparableConv1D(24, 3, padding="same", activation="relu")(x)
        x = L.Add()([x, L.Conv1D(24, 1)(x)])
        return k.Model(i, L.Dense(5, activation="softmax")(L.GlobalMaxPooling1D()(x)))

    def dw5():
        i = k.Input((24, 24, 32), batch_size=1)
        x = L.DepthwiseConv2D(5, padding="same")(i)
        x = L.DepthwiseConv2D(5, strides=2, padding="same")(x)
        return k.Model(i, L.DepthwiseConv2D(5, padding="same")(x))

    def transformer():
        i = k.Input((16, 32), batch_size=1)
        x = L.LayerNormalization()(i + L.MultiHeadAttention(2, 16)(i, i))
        f = L.Dense(32)(L.Dense(64, activation="gelu")(x))
        x = L.LayerNormalization()(x + f)
        return k.Model(i, L.Dense(4, activation="softmax")(L.GlobalAveragePooling1D()(x)))

    def autoencoder():
        i = k.Input((28, 28, 1), batch_size=1)
        x = L.Conv2D(8, 3, strides=2, padding="same", activation="swish")(i)
        x = L.Conv2D(16, 3, strides=2, padding="same", activation="swish")(x)
        x = L.Conv2D(8, 3, padding="same", activation="relu")(L.UpSampling2D()(x))
        return k.Model(i, L.Conv2D(1, 3, padding="same", activation="sigmoid")(L.UpSampling2D()(x)))

    return {
        "mobilenet_v3_small_075_96": lambda: A.MobileNetV3Small(
            input_shape=(96, 96, 3), alpha=0.75, weights=None, classes=10, include_preprocessing=False),
        "mobilenet_v2_035_96": lambda: A.MobileNetV2(input_shape=(96, 96, 3), alpha=0.35, weights=None,
                                                     classes=10),
        "unet_32": unet, "tcn_64": tcn, "dw5_24": dw5, "transformer_16x32": transformer,
        "conv_autoencoder_28": autoencoder,
    }


def convert(model, seed: int = 3) -> bytes:  # noqa: ANN001 - a tf_keras.Model
    """Full int8 (int8 input and output) through the TFLite converter."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    shape = (1, *model.input_shape[1:])

    def representative():
        for _ in range(32):
            yield [rng.uniform(-1, 1, shape).astype(np.float32)]

    c = tf.lite.TFLiteConverter.from_keras_model(model)
    c.optimizations = [tf.lite.Optimize.DEFAULT]
    c.representative_dataset = representative
    c.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    c.inference_input_type = c.inference_output_type = tf.int8
    return c.convert()


def _randomize_batch_norms(model, seed: int = 7) -> None:  # noqa: ANN001
    import tf_keras as k

    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, k.layers.BatchNormalization):
            g, b, mu, var = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, g.shape), rng.normal(0, 0.3, b.shape),
                               rng.normal(0, 0.3, mu.shape), rng.uniform(0.5, 2, var.shape)])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("build/zoo"))
    ap.add_argument("names", nargs="*")
    args = ap.parse_args(argv)
    import tf_keras as k

    models = _models()
    unknown = [n for n in args.names if n not in models]
    if unknown:
        print(f"zoo: unknown model {', '.join(unknown)}; the models are {', '.join(models)}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    for n, name in enumerate(args.names or models):
        k.utils.set_random_seed(n)
        model = models[name]()
        _randomize_batch_norms(model)
        path = args.out / f"{name}.tflite"
        path.write_bytes(convert(model))
        print(f"zoo: {path} ({model.count_params():,} parameters)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
