"""Hybrid (dynamic-range) layers and the float MEAN / MUL kernels.

Hybrid models (float32 activations, int8 weights) are converted here with the
real TFLite converter (Optimize.DEFAULT, no representative dataset), compiled
by Kiln for the host and compared with tf.lite.Interpreter's reference
kernels (tflite-micro does not run them): outputs must be bit-identical
(a float softmax at the end differs in the last bits: Kiln's own expf).
Float MEAN and MUL models are compared with tflite-micro.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from kiln import datasets, hostcheck, oracle
from kiln.ir import is_hybrid
from kiln.tflite_reader import read_tflite
from support import ROOT, run_scons, variant_path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SAMPLES = 100


def test_oracle_imports_no_code_generator() -> None:
    """The reference interpreter is independent of what it judges: importing it
    in a fresh interpreter loads neither the C generator nor its templates."""
    probe = ("import sys, kiln.oracle; "
             "bad = sorted(m for m in sys.modules if m == 'jinja2' or m.startswith('kiln.codegen') "
             "or m in ('kiln.planner', 'kiln.kernels_dsp', 'kiln.dsp_layout')); "
             "print(bad); sys.exit(1 if bad else 0)")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "site_scons"), str(ROOT)]))
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env,
                          cwd=ROOT)
    assert proc.returncode == 0, f"kiln.oracle imports {proc.stdout.strip()}{proc.stderr[-2000:]}"


def _keras():
    import tf_keras
    return tf_keras


def _dynamic(model, per_channel: bool = True) -> bytes:
    """Dynamic-range conversion: int8 weights, float activations."""
    import tensorflow as tf
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if not per_channel:
        conv._experimental_disable_per_channel = True
    return conv.convert()


def _float(model) -> bytes:
    import tensorflow as tf
    return tf.lite.TFLiteConverter.from_keras_model(model).convert()


def _model(shape: tuple[int, ...], *layers, seed: int = 0):
    k = _keras()
    inp = k.Input(shape=shape, batch_size=1)
    x = inp
    for layer in layers:
        x = layer(x)
    m = k.Model(inp, x)
    rng = np.random.default_rng(seed)
    m.set_weights([rng.normal(0, 0.3, w.shape).astype(np.float32) for w in m.get_weights()])
    return m


def _specs() -> dict:
    """name -> (kind, builder): the randomized hybrid suite plus float MEAN/MUL."""
    k = _keras()
    L = k.layers

    def mul_model():
        inp = k.Input(shape=(6, 6, 8), batch_size=1)
        y = L.Conv2D(8, 3, padding="same")(inp)
        out = L.Multiply()([inp, y])
        m = k.Model(inp, L.Multiply()([out, L.Reshape((1, 1, 8))(L.GlobalAveragePooling2D()(out))]))
        rng = np.random.default_rng(5)
        m.set_weights([rng.normal(0, 0.3, w.shape).astype(np.float32) for w in m.get_weights()])
        return m

    return {
        "fc_asymmetric": ("dyn", lambda: _model((48,), L.Dense(40, activation="relu"), seed=1)),
        "fc_batches": ("dyn", lambda: _model((3, 40), L.Dense(32), seed=2)),
        "fc_per_tensor": ("dyn_pt", lambda: _model((64,), L.Dense(24, activation="relu6"), seed=10)),
        "conv_same_relu": ("dyn", lambda: _model((9, 9, 8), L.Conv2D(16, 3, padding="same",
                                                                     activation="relu"), seed=3)),
        "conv_stride2_relu6": ("dyn", lambda: _model((11, 11, 16), L.Conv2D(8, 3, strides=2,
                                                                            activation="relu6"), seed=4)),
        "conv_per_tensor": ("dyn_pt", lambda: _model((8, 8, 16), L.Conv2D(12, 3, padding="same"), seed=6)),
        "dwconv_mult2": ("dyn", lambda: _model((7, 7, 64), L.DepthwiseConv2D(3, depth_multiplier=2,
                                                                             padding="same"), seed=7)),
        "conv_pool_dense": ("dyn", lambda: _model(
            (10, 10, 3), L.Conv2D(40, 3, activation="relu"), L.MaxPooling2D(2),
            L.Conv2D(16, 3, padding="same", activation="relu"), L.Flatten(), L.Dense(10), seed=8)),
        "float_mean": ("float", lambda: _model((5, 7, 6), L.Conv2D(6, 3), L.GlobalAveragePooling2D(),
                                               seed=9)),
        "float_mul": ("float", mul_model),
    }


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> dict:
    """Every spec converted once, in this process (TensorFlow loads once)."""
    out = tmp_path_factory.mktemp("hybrid")
    paths = {}
    for name, (kind, build) in _specs().items():
        model = build()
        blob = _float(model) if kind == "float" else _dynamic(model, per_channel=kind != "dyn_pt")
        path = out / f"{name}.tflite"
        path.write_bytes(blob)
        paths[name] = path
    return paths


def _inputs(path, count: int, seed: int) -> np.ndarray:
    """Normal inputs plus the edge cases of the run-time quantization: all zero,
    all positive (zero point -128), all negative (zero point 127), one outlier."""
    hm = hostcheck.HostModel(path)
    shape = hm.in_shape
    hm.close()
    rng = np.random.default_rng(seed)
    xs = rng.standard_normal((count, *shape)).astype(np.float32)
    xs[0] = 0.0
    xs[1] = np.abs(xs[1])
    xs[2] = -np.abs(xs[2])
    xs[3].flat[0] = 50.0
    return xs


def _check(path, xs: np.ndarray, tmp_path) -> hostcheck.HostCheckResult:
    npy = tmp_path / "inputs.npy"
    np.save(npy, xs)
    res = hostcheck.check_host(path, inputs_npy=npy, count=0)
    print(res.summary())
    return res


HYBRID = ["fc_asymmetric", "fc_batches", "fc_per_tensor", "conv_same_relu", "conv_stride2_relu6",
          "conv_per_tensor", "dwconv_mult2", "conv_pool_dense"]


@pytest.mark.slow
@pytest.mark.parametrize("name", HYBRID)
def test_hybrid_layer_bit_identical_to_tflite(converted: dict, name: str, tmp_path) -> None:
    graph = read_tflite(converted[name])
    if not any(is_hybrid(graph, op) for op in graph.ops):
        pytest.fail(f"{name}: the converter emitted no hybrid layer: "
                    f"{[(op.op, graph.tensors[op.inputs[1]].dtype) for op in graph.ops]}")
    res = _check(converted[name], _inputs(converted[name], SAMPLES, seed=len(name)), tmp_path)
    assert res.oracle == oracle.TFLITE
    assert res.ok and res.identical_samples == SAMPLES, res.summary()


def test_per_tensor_conv_takes_the_symmetric_path(converted: dict) -> None:
    from kiln.codegen import compile_model
    m = compile_model(converted["conv_per_tensor"])
    decl = "\n".join(d for layer in m.layers for d in layer.decls)
    assert ".asymmetric = 0" in decl and ".per_channel = 0" in decl
    m = compile_model(converted["conv_same_relu"])
    decl = "\n".join(d for layer in m.layers for d in layer.decls)
    assert ".asymmetric = 1" in decl and ".per_channel = 1" in decl


def test_scratch_is_planned_apart_from_the_layer_tensors(converted: dict) -> None:
    from kiln.codegen import compile_model
    m = compile_model(converted["conv_pool_dense"])
    g, plan = m.graph, m.plan
    for step, op in enumerate(g.ops):
        if not is_hybrid(g, op):
            continue
        scratch = [t for t in op.outputs if g.tensors[t].name.startswith("kiln_scratch")]
        assert len(scratch) == 1
        s = scratch[0]
        lo, hi = plan.offset(s), plan.offset(s) + g.tensors[s].nbytes
        assert hi <= plan.arena_bytes
        for t in op.inputs + op.outputs[:1]:
            if t < 0 or g.tensors[t].is_const:
                continue
            a, b = plan.offset(t), plan.offset(t) + g.tensors[t].nbytes
            assert b <= lo or a >= hi, f"step {step}: scratch overlaps {g.tensors[t].name}"


def test_quantization_ties_round_like_tflite(tmp_path) -> None:
    """Exact .5 ties of x / scale, with a zero point: TFLite rounds x / scale away
    from zero and adds the zero point afterwards (not round(x / scale + zp))."""
    k = _keras()
    inp = k.Input(shape=(40,), batch_size=1)
    dense = k.layers.Dense(40, use_bias=False)
    model = k.Model(inp, dense(inp))
    dense.set_weights([np.eye(40, dtype=np.float32)])
    path = tmp_path / "eye.tflite"
    path.write_bytes(_dynamic(model))
    xs = np.zeros((2, 1, 40), np.float32)
    # range [-8, 23.875]: scale 1/8 exactly, zero point -64; then t/8 is an exact tie t
    xs[:, 0, 0], xs[:, 0, 1] = -8.0, 23.875
    ties = [52.5, 51.5, 63.5, 64.5, -2.5, -1.5, 10.5, -30.5, 0.5, -0.5, 127.5, 190.5]
    xs[0, 0, 2:2 + len(ties)] = np.array(ties, np.float32) / 8
    xs[1, 0, 2:2 + len(ties)] = -np.array(ties, np.float32) / 64
    res = _check(path, xs, tmp_path)
    assert res.ok and res.identical_samples == 2, res.summary()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["float_mean", "float_mul"])
def test_float_mean_and_mul_match_tflite_micro(converted: dict, name: str, tmp_path) -> None:
    ops = {op.op for op in read_tflite(converted[name]).ops}
    assert {"float_mean": "MEAN", "float_mul": "MUL"}[name] in ops
    res = _check(converted[name], _inputs(converted[name], SAMPLES, seed=3), tmp_path)
    assert res.oracle == oracle.MICRO
    assert res.ok, res.summary()


# ---- the project's own dynamic variants ------------------------------------------------

def _variant(net: str):
    return variant_path(net, "dynamic")


@pytest.mark.slow
def test_fashion_mnist_dynamic_bit_identical(tmp_path) -> None:
    images, _ = datasets.load_fashion_mnist("test")
    xs = (images[:300].astype(np.float32) / 255.0).reshape(300, 1, 28, 28, 1)
    res = _check(_variant("fashion_mnist"), xs, tmp_path)
    assert res.oracle == oracle.TFLITE
    assert res.ok and res.identical_samples == 300, res.summary()


@pytest.mark.slow
def test_cifar_cnn_dynamic_matches(tmp_path) -> None:
    rng = np.random.default_rng(11)
    xs = rng.random((300, 1, 32, 32, 3)).astype(np.float32)
    res = _check(_variant("cifar_cnn"), xs, tmp_path)
    assert res.oracle == oracle.TFLITE
    # Everything up to the final float softmax is bit-exact; the softmax uses
    # Kiln's expf (relative error < 3e-7), so the last bits may differ.
    assert res.ok and res.max_abs_diff < 1e-6, res.summary()


def test_per_tensor_hybrid_depthwise_is_rejected(tmp_path) -> None:
    from kiln.codegen import compile_model
    from kiln.errors import KilnError
    model = _model((5, 5, 64), _keras().layers.DepthwiseConv2D(3, depth_multiplier=2), seed=12)
    path = tmp_path / "dw_per_tensor.tflite"
    path.write_bytes(_dynamic(model, per_channel=False))
    with pytest.raises(KilnError, match="DEPTHWISE_CONV_2D.*per-tensor weights has no reference"):
        compile_model(path)


# ---- on the emulated board --------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.skipif(shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
                    reason="qemu-system-arm or arm-none-eabi-gcc missing (toolchain/setup)")
def test_fashion_mnist_dynamic_firmware_on_qemu_bit_identical() -> None:
    """The mps2-an505 image of the dynamic variant (Cortex-M33 FPU arithmetic,
    arm-none-eabi-gcc) gives exactly tf.lite.Interpreter's outputs."""
    from kiln import boards, paths
    from kiln import firmware as fw

    from host.client import Client
    from host.qemu import Qemu

    board = boards.load(boards.emulated()[0])
    tflite = _variant("fashion_mnist")
    kernels = fw.resolve_kernels("auto", fw.cpu_flags(board.cpu))
    elf = paths.firmware_elf(board.name, "fashion_mnist", "dynamic", kernels)
    proc = run_scons("-j2", f"BOARD={board.name}", "NET=fashion_mnist", "MODEL=dynamic",
                     str(elf.relative_to(ROOT)), timeout=600)
    assert "warning" not in (proc.stdout + proc.stderr).lower()
    images, _ = datasets.load_fashion_mnist("test")
    xs = (images[:24].astype(np.float32) / 255.0).reshape(24, 1, 28, 28, 1)
    xs[0] = 0.0  # the all-zero input: TFLite's zero-range branch
    with Qemu.for_board(board, elf) as q, Client(q.port, board.default_baud) as client:
        layers = client.info()["model"]["layers"]
        assert any(la["kernel"] == "kiln_hybrid_fc" for la in layers)
        results = list(client.infer_stream([(i, x.astype("<f4").tobytes()) for i, x in enumerate(xs)], 40))
    got = np.stack([np.frombuffer(r.output, dtype="<f4") for r in results]).reshape(24, 1, 10)
    ref = oracle.reference_outputs(tflite, xs)
    assert np.array_equal(got, ref), f"largest difference {np.abs(got - ref).max()}"
