"""Write the fuzzer's seed models into tests/fuzz/seeds/ (committed; rerun to refresh).

    .venv/bin/python tests/fuzz/make_seeds.py

Small models converted with the real TFLite converter, together covering the
operators Kiln compiles: int8 convolution, depthwise, residual ADD, pooling,
dense, softmax, PAD, CONCATENATION, broadcast MUL, MEAN, float32 layers,
dynamic-range (hybrid) layers and float I/O around int8 layers. The fashion
model in tests/fixtures/ is a seed as well.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # a script run by hand: tests/ holds opmodels

import opmodels  # noqa: E402


def mobile_block():  # noqa: ANN201 - a Keras model
    """conv (stride 2) -> depthwise -> pointwise, a residual ADD, pooling, dense, softmax."""
    k = opmodels._keras()
    L = k.layers
    inp = k.Input(shape=(16, 16, 3), batch_size=1)
    x = L.Conv2D(8, 3, strides=2, padding="same", activation="relu6")(inp)
    y = L.DepthwiseConv2D(3, padding="same", activation="relu")(x)
    y = L.Conv2D(8, 1)(y)
    x = L.Add()([x, y])
    x = L.AveragePooling2D(2)(x)
    x = L.MaxPooling2D(2)(x)
    x = L.Flatten()(x)
    x = L.Dense(6)(x)
    return k.Model(inp, L.Softmax()(x))


def branches():  # noqa: ANN201
    """PAD, CONCATENATION, a broadcast MUL and a global MEAN."""
    k = opmodels._keras()
    L = k.layers
    inp = k.Input(shape=(8, 8, 2), batch_size=1)
    a = L.Conv2D(3, 1)(L.ZeroPadding2D(1)(inp))
    b = L.Conv2D(2, 3, activation="relu")(inp)
    b = L.ZeroPadding2D(2)(b)
    x = L.Concatenate()([a, b])
    s = L.GlobalAveragePooling2D(keepdims=True)(x)
    x = L.Multiply()([x, s])
    x = L.GlobalAveragePooling2D()(x)
    return k.Model(inp, L.Dense(4)(x))


def hybrid_head():  # noqa: ANN201
    """Layers large enough (over 1,024 weights) for the converter's dynamic-range quantization."""
    k = opmodels._keras()
    L = k.layers
    return opmodels._seq((4, 4, 3), L.Conv2D(48, 3, padding="same"), L.Flatten(), L.Dense(8), L.Dense(4))


def main() -> None:
    """Convert each seed and write it."""
    import tensorflow as tf

    seeds = {
        "mobile_block_int8": opmodels.convert(opmodels.build(mobile_block, 1)),
        "branches_int8": opmodels.convert(opmodels.build(branches, 2)),
        "float_io_int8": opmodels.convert(opmodels.build(mobile_block, 3), float_io=True),
        "residual_float": opmodels.convert(opmodels.build(opmodels.float_specs()[0][1], 4), int8=False),
    }
    conv = tf.lite.TFLiteConverter.from_keras_model(opmodels.build(hybrid_head, 5))
    conv.optimizations = [tf.lite.Optimize.DEFAULT]  # weights only: dynamic-range layers
    seeds["hybrid"] = conv.convert()
    for name, blob in seeds.items():
        (HERE / "seeds" / f"{name}.tflite").write_bytes(blob)
        print(f"{name}: {len(blob)} bytes")


if __name__ == "__main__":
    main()
