"""Seven small models shaped the way real TinyML models are (issue 12), full int8, converted by
the real TFLite converter, with random weights: each must compile, match tflite-micro on the host
bit for bit, and run on the emulated board bit-exact with the host.

    wake_word     MFCC-like input, LEAKY_RELU, depthwise, a sigmoid (LOGISTIC) binary head
    mbv3_block    hard-swish, PReLU and a squeeze-excite (mean, dense, hard-sigmoid, MUL)
    conv1d_tanh   a time series through Conv1D with TANH
    lstm          an LSTM activity classifier (UNIDIRECTIONAL_SEQUENCE_LSTM)
    autoencoder   strided conv, TRANSPOSE_CONV, upsampling (RESIZE_NEAREST_NEIGHBOR)
    detector      mean subtraction (SUB), a class head and a box head (two outputs)
    argmax        a classifier that answers its class on the device (ARG_MAX, int32 output)
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from kiln import boards, codegen, hostcheck, paths
from kiln.errors import KilnError
from support import have, run_scons

SAMPLES = 30
#: On the board each sample is a UART round trip; the host test already covers 30.
BOARD_SAMPLES = 10


def _models() -> dict:
    """name -> (builder, input shape per sample)."""
    import tensorflow as tf
    import tf_keras as k

    L = k.layers

    def wake_word():
        i = k.Input((49, 10, 1), batch_size=1)
        x = L.LeakyReLU(0.2)(L.Conv2D(8, (10, 4), strides=2, padding="same")(i))
        x = L.LeakyReLU(0.2)(L.DepthwiseConv2D(3, padding="same")(x))
        x = L.GlobalAveragePooling2D()(L.Conv2D(16, 1)(x))
        return k.Model(i, L.Dense(1, activation="sigmoid")(x))

    def mbv3_block():
        i = k.Input((16, 16, 3), batch_size=1)
        x = L.Conv2D(16, 3, strides=2, padding="same")(i)
        x = L.Activation(tf.nn.relu6)(x + 3.0) * x / 6.0  # hard-swish, as Keras writes it
        x = L.PReLU(shared_axes=[1, 2])(L.DepthwiseConv2D(3, padding="same")(x))
        s = L.GlobalAveragePooling2D(keepdims=True)(x)
        s = L.Conv2D(4, 1, activation="relu")(s)
        s = L.Activation(tf.nn.relu6)(L.Conv2D(16, 1)(s) + 3.0) / 6.0  # hard-sigmoid
        x = L.Multiply()([x, s])
        return k.Model(i, L.Dense(5)(L.Flatten()(L.Conv2D(8, 1)(x))))

    def conv1d_tanh():
        i = k.Input((64, 3), batch_size=1)
        x = L.Conv1D(8, 5, activation="tanh")(i)
        x = L.MaxPooling1D(2)(x)
        x = L.Conv1D(8, 3, activation="tanh")(x)
        return k.Model(i, L.Dense(4, activation="softmax")(L.GlobalAveragePooling1D()(x)))

    def lstm():
        i = k.Input((20, 6), batch_size=1)
        return k.Model(i, L.Dense(6, activation="softmax")(L.LSTM(12)(i)))

    def autoencoder():
        i = k.Input((16, 16, 1), batch_size=1)
        x = L.Conv2D(8, 3, strides=2, padding="same", activation="relu")(i)
        x = L.Conv2DTranspose(8, 3, strides=2, padding="same", activation="relu")(x)
        x = L.UpSampling2D(1)(L.Conv2D(4, 3, padding="same")(x))
        x = L.MaxPooling2D(2)(x)
        x = L.UpSampling2D(2)(x)
        return k.Model(i, L.Conv2D(1, 3, padding="same", activation="sigmoid")(x))

    def detector():
        i = k.Input((24, 24, 3), batch_size=1)
        x = L.Lambda(lambda t: t - tf.constant([0.4, 0.45, 0.5]))(i)
        x = L.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)
        x = L.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)
        f = L.Flatten()(x)
        return k.Model(i, [L.Dense(3, activation="softmax", name="classes")(f), L.Dense(4, name="boxes")(f)])

    def argmax():
        i = k.Input((12, 12, 1), batch_size=1)
        x = L.Flatten()(L.Conv2D(4, 3, activation="relu")(i))
        return k.Model(i, L.Lambda(lambda t: tf.argmax(t, axis=-1, output_type=tf.int32))(L.Dense(7)(x)))

    return {"wake_word": (wake_word, (49, 10, 1)), "mbv3_block": (mbv3_block, (16, 16, 3)),
            "conv1d_tanh": (conv1d_tanh, (64, 3)), "lstm": (lstm, (20, 6)),
            "autoencoder": (autoencoder, (16, 16, 1)), "detector": (detector, (24, 24, 3)),
            "argmax": (argmax, (12, 12, 1))}


NAMES = ["wake_word", "mbv3_block", "conv1d_tanh", "lstm", "autoencoder", "detector", "argmax"]


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every model with random weights, full int8 (int8 in; int8, or int32 for ARG_MAX, out)."""
    import opmodels
    import tensorflow as tf

    out = tmp_path_factory.mktemp("tinyml")
    result = {}
    for n, (name, (build, shape)) in enumerate(_models().items()):
        model = build()
        opmodels._randomize(model, 40 + n)
        conv = tf.lite.TFLiteConverter.from_keras_model(model)
        rng = np.random.default_rng(n)
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = lambda r=rng, s=shape: ([r.uniform(0, 1, (1, *s)).astype(np.float32)]
                                                              for _ in range(64))
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8
        if name != "argmax":
            conv.inference_output_type = tf.int8
        result[name] = out / f"kiln_tinyml_{name}.tflite"
        result[name].write_bytes(conv.convert())
    return result


def _supported(path: Path) -> str | None:
    """None when Kiln compiles the model, else its refusal."""
    try:
        codegen.compile_model(path)
    except KilnError as exc:
        return str(exc)
    return None


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_tinyml_model_identical_on_the_host(converted: dict[str, Path], name: str) -> None:
    refusal = _supported(converted[name])
    if refusal:  # the refusal must name the operator, its index and its tensors
        assert "unsupported operator" in refusal and "at index" in refusal and "inputs:" in refusal
        pytest.skip(f"not yet compiled: {refusal.splitlines()[0]}")
    res = hostcheck.check_host(converted[name], count=SAMPLES, seed=3)
    assert res.ok and res.identical_samples == SAMPLES, res.summary()


@pytest.mark.slow
@pytest.mark.skipif(not have("qemu-system-arm") or not have("arm-none-eabi-gcc"),
                    reason="qemu-system-arm or arm-none-eabi-gcc missing (toolchain/setup)")
@pytest.mark.parametrize("name", NAMES)
def test_tinyml_model_on_the_emulated_board(converted: dict[str, Path], name: str, tmp_path: Path) -> None:
    if _supported(converted[name]):
        pytest.skip("not yet compiled (see the host test's reason)")
    board = boards.emulated()[0]
    model = tmp_path / converted[name].name
    shutil.copy(converted[name], model)
    shape = _models()[name][1]
    np.save(tmp_path / "x.npy", np.random.default_rng(9).uniform(0, 1, (BOARD_SAMPLES, 1, *shape))
            .astype(np.float32))
    out = paths.tflite_firmware_dir(board, model, "portable")
    try:
        run_scons("-j2", "infer", f"TFLITE={model}", f"BOARD={board}", "KERNELS=portable",
                  f"DATASET={tmp_path / 'x.npy'}", timeout=600)
        summary = json.loads((out / "infer.json").read_text())
        assert summary["samples"] == BOARD_SAMPLES and summary["fidelity"] == 1.0, summary
    finally:
        shutil.rmtree(out.parent, ignore_errors=True)
