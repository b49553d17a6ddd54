"""Small Keras models, one operator each, converted with the real TFLite
converter: the inputs of Kiln's per-operator fidelity suite.

    specs = op_specs(seed)                 # [(name, builder, input_shape)]
    blob = convert(model, int8=True)       # .tflite bytes

Import cost: TensorFlow, loaded on first use only (convert/build).
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable

import numpy as np

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

Spec = tuple[str, Callable[[], object], tuple[int, ...]]


def _keras():
    import tf_keras
    return tf_keras


def _tf():
    import tensorflow
    return tensorflow


def convert(model, int8: bool = True, seed: int = 0, samples: int = 64, float_io: bool = False) -> bytes:
    """Convert a Keras model: full-int8 (int8 input/output, or float32 input/output
    around int8 operators with float_io: QUANTIZE/DEQUANTIZE at the edges) or float32."""
    import warnings

    import tensorflow as tf
    warnings.filterwarnings("ignore", message="Statistics for quantized inputs")
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if int8:
        shape = [1] + [int(d) for d in model.input_shape[1:]]
        rng = np.random.default_rng(seed)

        def rep():
            for _ in range(samples):
                yield [rng.uniform(-1.0, 1.0, shape).astype(np.float32)]

        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = rep
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if not float_io:
            conv.inference_input_type = tf.int8
            conv.inference_output_type = tf.int8
    return conv.convert()


def _randomize(model, seed: int) -> None:
    """Give every weight random values (biases too), so nothing is trivially zero."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32) for w in model.get_weights()])


def _seq(input_shape: tuple[int, ...], *layers):
    k = _keras()
    inp = k.Input(shape=input_shape, batch_size=1)
    x = inp
    for layer in layers:
        x = layer(x)
    return k.Model(inp, x)


def op_specs(seed: int = 1234) -> list[Spec]:
    """The randomized per-operator suite: (name, model builder, input shape)."""
    k = _keras()
    L = k.layers
    r = random.Random(seed)
    specs: list[Spec] = []

    def add(name: str, shape: tuple[int, ...], build: Callable[[], object]) -> None:
        specs.append((name, build, shape))

    acts = [None, "relu", "relu6"]
    # CONV_2D: strides, paddings, dilations, activations, 1- and multi-channel input
    for i in range(8):
        cin = r.choice([1, 3, 4])
        h, w = r.randint(5, 12), r.randint(5, 12)
        kern = r.choice([1, 3, 5]) if min(h, w) > 5 else r.choice([1, 3])
        dil = r.choice([1, 1, 2]) if kern > 1 and min(h, w) >= 2 * kern else 1
        stride = 1 if dil > 1 else r.choice([1, 2])
        pad = r.choice(["same", "valid"])
        act = r.choice(acts)
        cout = r.choice([1, 4, 8])
        add(f"conv{i}_k{kern}s{stride}d{dil}{pad}_{act}_{cin}to{cout}", (h, w, cin),
            lambda s=(h, w, cin), a=(cout, kern, stride, pad, dil, act):
            _seq(s, L.Conv2D(a[0], a[1], strides=a[2], padding=a[3], dilation_rate=a[4],
                             activation=a[5])))
    # DEPTHWISE_CONV_2D, depth multiplier 1 and 2
    for i in range(5):
        c = r.choice([1, 3, 8])
        h, w = r.randint(6, 11), r.randint(6, 11)
        mult = 1 if i % 2 == 0 else 2
        stride, pad, act = r.choice([1, 2]), r.choice(["same", "valid"]), r.choice(acts)
        dil = 2 if i == 4 else 1
        if dil > 1:
            stride = 1
        add(f"dw{i}_m{mult}s{stride}d{dil}{pad}_{act}_c{c}", (h, w, c),
            lambda s=(h, w, c), a=(mult, stride, pad, act, dil):
            _seq(s, L.DepthwiseConv2D(3, strides=a[1], padding=a[2], depth_multiplier=a[0],
                                      activation=a[3], dilation_rate=a[4])))
    # FULLY_CONNECTED (with and without flatten)
    for i in range(3):
        n_in, n_out, act = r.randint(4, 40), r.randint(2, 20), r.choice(acts)
        add(f"dense{i}_{n_in}to{n_out}_{act}", (n_in,),
            lambda s=(n_in,), a=(n_out, act): _seq(s, L.Dense(a[0], activation=a[1])))
    add("flatten_dense", (5, 4, 3), lambda: _seq((5, 4, 3), L.Flatten(), L.Dense(7)))
    # pooling
    for i in range(3):
        c = r.choice([1, 3, 6])
        h, w = r.randint(6, 13), r.randint(6, 13)
        pool, stride, pad = r.choice([2, 3]), r.choice([1, 2, 3]), r.choice(["same", "valid"])
        add(f"maxpool{i}_p{pool}s{stride}{pad}_c{c}", (h, w, c),
            lambda s=(h, w, c), a=(pool, stride, pad):
            _seq(s, L.Conv2D(s[2], 1), L.MaxPooling2D(a[0], a[1], a[2])))
        add(f"avgpool{i}_p{pool}s{stride}{pad}_c{c}", (h, w, c),
            lambda s=(h, w, c), a=(pool, stride, pad):
            _seq(s, L.Conv2D(s[2], 1), L.AveragePooling2D(a[0], a[1], a[2])))
    add("softmax", (10,), lambda: _seq((10,), L.Dense(12), L.Softmax()))
    add("softmax_rows", (3, 7), lambda: _seq((3, 7), L.Dense(5), L.Softmax()))
    add("pad", (5, 6, 3), lambda: _seq((5, 6, 3), L.Conv2D(4, 1), L.ZeroPadding2D(((1, 2), (2, 0)))))
    add("padv2", (5, 6, 3), lambda: _seq((5, 6, 3), L.Conv2D(4, 1), L.Lambda(
        lambda t: _tf().pad(t, [[0, 0], [1, 0], [0, 2], [0, 0]], constant_values=0.25))))
    add("gap", (6, 5, 4), lambda: _seq((6, 5, 4), L.Conv2D(6, 3), L.GlobalAveragePooling2D()))
    add("gap_keepdims", (6, 5, 4),
        lambda: _seq((6, 5, 4), L.Conv2D(6, 3), L.GlobalAveragePooling2D(keepdims=True)))

    def two_branch(kind: str, shape: tuple[int, ...], broadcast: bool = False):
        inp = k.Input(shape=shape, batch_size=1)
        a = L.Conv2D(4, 1)(inp)
        b = L.Conv2D(4 if kind != "concat" else 3, 3, padding="same", activation="relu")(inp)
        if broadcast:
            b = L.GlobalAveragePooling2D(keepdims=True)(b)
        if kind == "add":
            out = L.Add()([a, b])
        elif kind == "mul":
            out = L.Multiply()([a, b])
        else:
            out = L.Concatenate()([a, b])
        return k.Model(inp, out)

    add("add", (6, 6, 2), lambda: two_branch("add", (6, 6, 2)))
    add("add_broadcast", (5, 4, 2), lambda: two_branch("add", (5, 4, 2), True))
    add("mul", (6, 5, 2), lambda: two_branch("mul", (6, 5, 2)))
    add("mul_broadcast", (4, 6, 2), lambda: two_branch("mul", (4, 6, 2), True))
    add("concat", (5, 5, 2), lambda: two_branch("concat", (5, 5, 2)))
    return specs


def float_specs() -> list[Spec]:
    """Float32 models for the float kernels (conv, depthwise, dense, pools, add, softmax)."""
    k = _keras()
    L = k.layers

    def residual():
        inp = k.Input(shape=(8, 8, 3), batch_size=1)
        a = L.Conv2D(6, 3, padding="same", activation="relu")(inp)
        b = L.DepthwiseConv2D(3, padding="same", depth_multiplier=2)(inp)
        x = L.Add()([a, b])
        x = L.MaxPooling2D(2)(x)
        x = L.AveragePooling2D(2)(x)
        x = L.Flatten()(x)
        x = L.Dense(5, activation="relu6")(x)
        return k.Model(inp, L.Softmax()(x))

    return [("float_residual", residual, (8, 8, 3)),
            ("float_conv_strided", lambda: _seq((9, 7, 2), L.Conv2D(5, 3, strides=2, dilation_rate=1,
                                                                    padding="valid")), (9, 7, 2))]


def build(builder: Callable[[], object], seed: int):
    """Build a spec's model with seeded random weights."""
    model = builder()
    _randomize(model, seed)
    return model


def unsupported_op_model():
    """A clip to [-1, 1] on the input, then Dense: the converter emits a standalone
    RELU_N1_TO_1, which Kiln lacks (tflite-micro has no kernel for it either)."""
    L = _keras().layers
    return _seq((4,), L.Lambda(lambda t: _tf().clip_by_value(t, -1.0, 1.0)), L.Dense(3))


def dynamic_reshape_model():
    """A reshape whose target shape is computed in the graph (SHAPE, STRIDED_SLICE,
    PACK), which Kiln folds at build time."""
    import tensorflow as tf

    k = _keras()
    inp = k.Input(shape=(5, 5, 2))  # dynamic batch: the converter keeps the shape ops
    x = k.layers.Conv2D(3, 3)(inp)
    x = k.layers.Lambda(lambda t: tf.reshape(t, tf.stack([tf.shape(t)[0], 27])))(x)
    x = k.layers.Dense(4)(x)
    return k.Model(inp, x)


def mobilenet_v2_model():
    """An unseen real-world topology: MobileNetV2 (alpha 0.35, 32x32x3, 10 classes):
    ZeroPadding (PAD), depthwise blocks, residual ADDs, ReLU6, MEAN, softmax.
    Batch-norm statistics are reset after randomizing so activations stay in range."""
    k = _keras()
    return k.applications.MobileNetV2(input_shape=(32, 32, 3), alpha=0.35, weights=None, classes=10)


def build_mobilenet(seed: int):
    """mobilenet_v2_model() with seeded random weights and neutral batch norms."""
    model = build(mobilenet_v2_model, seed)
    for layer in model.layers:
        if type(layer).__name__ == "BatchNormalization":
            g, b, mu, var = layer.get_weights()
            layer.set_weights([np.ones_like(g), np.zeros_like(b), np.zeros_like(mu), np.ones_like(var)])
    return model


def check_random(path, seed: int, samples: int, kernels: str = "portable", budget=None):  # noqa: ANN001, ANN201
    """Kiln on the host (`kernels`, weight layouts by `budget`) against the oracle on
    `samples` seeded random inputs.

    The model runs in the sanitizer build (AddressSanitizer and UBSan), so an
    out-of-bounds access or undefined arithmetic fails the test even when the
    outputs happen to match. Returns (HostCheckResult, the set of kernel
    functions the model used).
    """
    from kiln import hostcheck, oracle

    hm = hostcheck.HostModel(path, kernels=kernels, sanitize=True, budget=budget)
    try:
        used = {layer.kernel for layer in hm.model.layers}
        xs = hostcheck.make_inputs(hm, None, samples, seed)
        got = hm.invoke_many(xs)
    finally:
        hm.close()
    ref = oracle.reference_outputs(path, xs)
    # A test whose reference output never changes proves nothing: insist on variety.
    assert len(np.unique(ref)) > 2, f"degenerate reference output {np.unique(ref)}"
    return hostcheck.compare(path.stem, got, ref), used
