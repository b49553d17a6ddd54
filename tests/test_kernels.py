"""Portable C kernels (firmware/runtime/portable) against the tflite-micro oracle.

Tiny Keras models are converted with the real TFLite converter (full int8 and
float32), run in the tflite-micro Python interpreter with every tensor
preserved, and each operator of each graph is recomputed by our C kernel
from the oracle's own input tensors. int8 outputs must be identical; float
outputs within 1e-5 relative. The kernels are built with the host gcc into a
shared library driven through ctypes (tests/c/kernel_harness.c).

A few properties the converted models cannot reach (MEAN with equal input
and output parameters, int8 -> int8 requantize, concat with requantization,
the fixed-point helpers) are checked against Python transcriptions of the
TFLite arithmetic. Another test cross-compiles the kernels for the
Cortex-M33 with -Werror and checks the int8 path pulls in no libm.
"""

from __future__ import annotations

import ctypes
import math
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from kiln import quantmath as qm

ROOT = Path(__file__).resolve().parents[1]
RUNTIME = ROOT / "firmware" / "runtime"
PORTABLE = sorted((RUNTIME / "portable").glob("*.c"))
HARNESS = ROOT / "tests" / "c" / "kernel_harness.c"
WARN = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"]
SAMPLES = 4  # random inputs per model



# --------------------------------------------------------------------------
# Building the kernels


@pytest.fixture(scope="module")
def lib(tmp_path_factory: pytest.TempPathFactory) -> ctypes.CDLL:
    """The portable kernels plus the harness as a host shared library."""
    out = tmp_path_factory.mktemp("kernels") / "libkernels.so"
    cmd = ["gcc", *WARN, "-O1", "-fPIC", "-shared", f"-I{RUNTIME / 'include'}",
           *map(str, PORTABLE), str(HARNESS), "-o", str(out)]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    so = ctypes.CDLL(str(out))
    i32t, f32t, vp = ctypes.c_int32, ctypes.c_float, ctypes.c_void_p
    signatures = {
        "kh_requantize": (i32t, [i32t, i32t, i32t]),
        "kh_exp_on_negative_q5": (i32t, [i32t]),
        "kh_one_over_one_plus_x_q0": (i32t, [i32t]),
        "kh_expf": (f32t, [f32t]),
        "kh_conv_f32": (None, [ctypes.c_int, vp, f32t, f32t, vp, vp, vp, vp]),
        "kh_fc_f32": (None, [vp, f32t, f32t, vp, vp, vp, vp]),
        "kh_pool_f32": (None, [ctypes.c_int, vp, f32t, f32t, vp, vp]),
        "kh_binary_f32": (None, [ctypes.c_int, vp, f32t, f32t, vp, vp, vp]),
        "kh_mean_f32": (None, [ctypes.c_uint32] * 3 + [vp, vp]),
        "kh_softmax_f32": (None, [ctypes.c_uint32, ctypes.c_uint32, f32t, vp, vp]),
        "kh_quant": (None, [ctypes.c_int, vp, f32t, vp, vp]),
    }
    for name, (res, args) in signatures.items():
        getattr(so, name).restype = res
        getattr(so, name).argtypes = args
    return so


def ptr(a: np.ndarray | None) -> ctypes.c_void_p | None:
    """Address of a C-contiguous array (None stays NULL)."""
    if a is None:
        return None
    assert a.flags["C_CONTIGUOUS"]
    return a.ctypes.data_as(ctypes.c_void_p)  # keeps a reference to the array


def i32(*vals: int) -> np.ndarray:
    """A flat int32 field array for the harness."""
    return np.ascontiguousarray(np.array(vals, dtype=np.int64).astype(np.int32))


# --------------------------------------------------------------------------
# Parameters: the production arithmetic (kiln.quantmath, which follows the
# recipes documented in firmware/runtime/include/kiln/kernels.h), so these
# tests also check the generator's numbers against the oracle.


ACTIVATIONS = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6"}  # tflite enum


def act_range_s8(act: int, scale: float, zp: int) -> tuple[int, int]:
    """Fused activation (tflite enum) as an int8 clamp."""
    return qm.activation_range(ACTIVATIONS[act], float(scale), zp)


def act_range_f32(act: int) -> tuple[float, float]:
    """Fused activation (tflite enum) as a float clamp."""
    return qm.activation_range_float(ACTIVATIONS[act])


def same_padding(in_size: int, k: int, stride: int, dil: int, out_size: int) -> int:
    """TFLite's leading pad for the given output size (0 for VALID)."""
    eff = (k - 1) * dil + 1
    return max(0, ((out_size - 1) * stride + eff - in_size) // 2)


def broadcast_fields(shape_a, shape_b, shape_out) -> list[int]:
    """out_shape[4], a_stride[4], b_stride[4] for right-aligned 4-D broadcasting."""
    def four(s):
        s = [int(d) for d in s]
        return [1] * (4 - len(s)) + s

    def strides(s, out):
        st, acc = [0] * 4, 1
        for d in range(3, -1, -1):
            st[d] = 0 if (s[d] == 1 and out[d] != 1) else acc
            acc *= s[d]
        return st
    out = four(shape_out)
    return out + strides(four(shape_a), out) + strides(four(shape_b), out)


# Python transcription of the reference requantization (double rounding).
def ref_sat_rdhm(a: int, b: int) -> int:
    if a == b == -(1 << 31):
        return (1 << 31) - 1
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    v = ab + nudge
    return int(v / (1 << 31)) if abs(v) < (1 << 52) else (abs(v) >> 31) * (1 if v >= 0 else -1)


def ref_rdivpot(x: int, e: int) -> int:
    mask = (1 << e) - 1
    rem = x & mask
    thr = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> e) + (1 if rem > thr else 0)


def wrap32(v: int) -> int:
    return ((v + (1 << 31)) % (1 << 32)) - (1 << 31)


def ref_requantize(x: int, mult: int, shift: int) -> int:
    left, right = max(shift, 0), max(-shift, 0)
    return ref_rdivpot(ref_sat_rdhm(wrap32(x << left), mult), right)


# --------------------------------------------------------------------------
# Models: converted once per test module


def _keras_models():
    """(name, builder) pairs covering every op class of the issue."""
    import tf_keras as k
    L = k.layers

    def cnn():
        i = k.Input((10, 10, 3), batch_size=1)
        x = L.Conv2D(6, 3, strides=2, padding="same", activation="relu")(i)
        y = L.DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="relu6")(x)
        y = L.Conv2D(6, 1)(y)
        x = L.Add()([x, y])
        x = L.Conv2D(8, 3, dilation_rate=2, padding="same")(x)
        x = L.MaxPooling2D(2, padding="same")(x)
        x = L.AveragePooling2D(2, strides=1, padding="same")(x)
        x = L.GlobalAveragePooling2D()(x)
        x = L.Dense(5)(x)
        return k.Model(i, L.Softmax()(x))

    def valid():
        i = k.Input((15, 13, 2), batch_size=1)
        x = L.Conv2D(4, (3, 5), strides=(2, 1), padding="valid")(i)
        x = L.DepthwiseConv2D(2, strides=2, padding="valid", activation="relu")(x)
        x = L.AveragePooling2D(3, strides=2, padding="same")(x)
        x = L.MaxPooling2D((1, 2), padding="valid")(x)
        x = L.Flatten()(x)
        x = L.Dense(7, activation="relu")(x)
        return k.Model(i, L.Dense(3)(x))

    def binary():
        a = k.Input((4, 4, 3), batch_size=1)
        b = k.Input((1, 1, 3), batch_size=1)
        m = L.Multiply()([a, b])
        s = a + b
        c = L.Concatenate()([m, s])
        return k.Model([a, b], L.ZeroPadding2D(((1, 0), (0, 2)))(c))

    def head():
        i = k.Input((3, 40), batch_size=1)  # FULLY_CONNECTED with 3 batches
        return k.Model(i, L.Softmax()(L.Dense(40)(i)))

    return [("cnn", cnn), ("valid", valid), ("binary", binary), ("head", head)]


def _edge_model():
    """Float in, float out: QUANTIZE and DEQUANTIZE at the graph's edges."""
    import tf_keras as k
    i = k.Input((12,), batch_size=1)
    x = k.layers.Dense(8, activation="relu")(i)
    return k.Model(i, k.layers.Dense(4)(x))


def _convert(model, int8: bool, int8_io: bool = True) -> bytes:
    import tensorflow as tf
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if int8:
        rng = np.random.default_rng(0)

        def rep():
            for _ in range(32):
                yield [rng.normal(0, 1, [1, *t.shape[1:]]).astype(np.float32) for t in model.inputs]
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = rep
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if int8_io:
            conv.inference_input_type = tf.int8
            conv.inference_output_type = tf.int8
    return conv.convert()


@pytest.fixture(scope="module")
def models() -> dict[str, bytes]:
    """Every test model as .tflite bytes: <name>_int8, <name>_f32, edge_int8."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tf_keras as k
    out = {}
    for idx, (name, build) in enumerate(_keras_models() + [("edge", _edge_model)]):
        k.utils.set_random_seed(idx)
        model = build()
        rng = np.random.default_rng(100 + idx)
        # random weights and biases, so nothing is trivially zero
        model.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32)
                           for w in model.get_weights()])
        if name == "edge":
            out["edge_int8"] = _convert(model, int8=True, int8_io=False)
        else:
            out[f"{name}_int8"] = _convert(model, int8=True)
            out[f"{name}_f32"] = _convert(model, int8=False)
    return out


# --------------------------------------------------------------------------
# Reading the .tflite (tflite flatbuffer bindings) and running the oracle


@dataclass
class Tensor:
    """One tensor of the graph with its oracle value (or constant data)."""
    shape: tuple[int, ...]
    scale: np.ndarray
    zp: np.ndarray
    data: np.ndarray | None


@dataclass
class Op:
    """One operator: name, options table, input/output tensor indices."""
    name: str
    opts: object
    inputs: list[int]
    outputs: list[int]


_TYPES = {0: np.float32, 2: np.int32, 9: np.int8, 4: np.int64}


def read_graph(buf: bytes) -> tuple[list[Op], list[Tensor]]:
    """Operators and tensors of subgraph 0 (constant tensors carry data)."""
    import tflite
    names = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
    m = tflite.Model.GetRootAsModel(buf, 0)
    sg = m.Subgraphs(0)
    tensors = []
    for i in range(sg.TensorsLength()):
        t = sg.Tensors(i)
        q = t.Quantization()
        scale = q.ScaleAsNumpy() if q is not None and q.ScaleLength() else np.zeros(0, np.float32)
        zp = q.ZeroPointAsNumpy() if q is not None and q.ZeroPointLength() else np.zeros(0, np.int64)
        raw = m.Buffers(t.Buffer()).DataAsNumpy() if t.Buffer() else 0
        data = None
        if not isinstance(raw, int):
            data = raw.view(_TYPES[t.Type()]).reshape(tuple(t.ShapeAsNumpy()))
        tensors.append(Tensor(tuple(int(d) for d in t.ShapeAsNumpy()), scale, zp, data))
    ops = []
    for i in range(sg.OperatorsLength()):
        op = sg.Operators(i)
        code = m.OperatorCodes(op.OpcodeIndex())
        name = names[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]
        ops.append(Op(name, op.BuiltinOptions(), list(op.InputsAsNumpy()),
                      list(op.OutputsAsNumpy())))
    return ops, tensors


def options(op: Op, cls_name: str):
    """The op's builtin options as the named tflite options class."""
    import tflite
    o = getattr(tflite, cls_name)()
    o.Init(op.opts.Bytes, op.opts.Pos)
    return o


def run_oracle(buf: bytes, inputs: list[np.ndarray], n_tensors: int) -> dict[int, np.ndarray]:
    """Runs tflite-micro once; returns every tensor's value by index."""
    from tflite_micro.python.tflite_micro import runtime
    it = runtime.Interpreter.from_bytes(
        buf, intrepreter_config=runtime.InterpreterConfig.kPreserveAllTensors)
    for i, x in enumerate(inputs):
        it.set_input(x, i)
    it.invoke()
    # (GetTensor must not be asked past the last tensor: it crashes)
    return {i: it.GetTensor(i, 0)["tensor_data"] for i in range(n_tensors)}


# --------------------------------------------------------------------------
# Per-op kernel calls. Each returns our output for one op, given the oracle's
# input values.


def bias_of(op: Op, t: list[Tensor]) -> np.ndarray | None:
    """The op's constant bias (input 2), or None when it has none."""
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        return np.ascontiguousarray(t[op.inputs[2]].data)
    return None


def conv_fields(op: Op, t: list[Tensor], depthwise: bool) -> tuple[list[int], int]:
    """Shape/stride/padding fields shared by the int8 and float convs."""
    o = options(op, "DepthwiseConv2DOptions" if depthwise else "Conv2DOptions")
    _, ih, iw, ic = t[op.inputs[0]].shape
    _, oh, ow, oc = t[op.outputs[0]].shape
    wshape = t[op.inputs[1]].shape
    kh, kw = wshape[1], wshape[2]
    sh, sw = o.StrideH(), o.StrideW()
    dh, dw = o.DilationHFactor(), o.DilationWFactor()
    fields = [ih, iw, ic, oh, ow, oc, kh, kw, sh, sw, dh, dw,
              same_padding(ih, kh, sh, dh, oh), same_padding(iw, kw, sw, dw, ow),
              oc // ic if depthwise else 1]
    return fields, o.FusedActivationFunction()


def k_conv_s8(lib, op: Op, t: list[Tensor], v: dict, depthwise: bool) -> np.ndarray:
    fields, act = conv_fields(op, t, depthwise)
    tin, tw, tout = t[op.inputs[0]], t[op.inputs[1]], t[op.outputs[0]]
    ms, ss = qm.conv_multipliers(float(tin.scale[0]), tw.scale, float(tout.scale[0]), fields[5])
    mult, shift = i32(*ms), i32(*ss)
    zo = int(tout.zp[0])
    f = i32(*fields, -int(tin.zp[0]), zo, *act_range_s8(act, tout.scale[0], zo))
    bias = bias_of(op, t)
    x = np.ascontiguousarray(v[op.inputs[0]])
    w = np.ascontiguousarray(tw.data)
    out = np.zeros(tout.shape, np.int8)
    lib.kh_conv_s8(int(depthwise), ptr(f), ptr(mult), ptr(shift), ptr(x), ptr(w), ptr(bias), ptr(out))
    return out


def k_fc_s8(lib, op: Op, t: list[Tensor], v: dict) -> np.ndarray:
    o = options(op, "FullyConnectedOptions")
    tin, tw, tout = t[op.inputs[0]], t[op.inputs[1]], t[op.outputs[0]]
    out_n, in_n = tw.shape
    batches = int(np.prod(tin.shape)) // in_n
    per_channel = len(tw.scale) > 1
    if per_channel:
        ms, ss = qm.conv_multipliers(float(tin.scale[0]), tw.scale, float(tout.scale[0]), out_n)
    else:
        m, sh = qm.fc_multiplier(float(tin.scale[0]), float(tw.scale[0]), float(tout.scale[0]))
        ms, ss = [m], [sh]
    zo = int(tout.zp[0])
    f = i32(batches, in_n, out_n, -int(tin.zp[0]), zo,
            *act_range_s8(o.FusedActivationFunction(), tout.scale[0], zo), int(per_channel))
    bias = bias_of(op, t)
    x = np.ascontiguousarray(v[op.inputs[0]])
    out = np.zeros(tout.shape, np.int8)
    lib.kh_fc_s8(ptr(f), ptr(i32(*ms)), ptr(i32(*ss)),
                 ptr(x), ptr(np.ascontiguousarray(tw.data)), ptr(bias), ptr(out))
    return out


def pool_fields(op: Op, t: list[Tensor]) -> tuple[list[int], int]:
    o = options(op, "Pool2DOptions")
    _, ih, iw, c = t[op.inputs[0]].shape
    _, oh, ow, _ = t[op.outputs[0]].shape
    kh, kw, sh, sw = o.FilterHeight(), o.FilterWidth(), o.StrideH(), o.StrideW()
    return ([ih, iw, c, oh, ow, kh, kw, sh, sw, same_padding(ih, kh, sh, 1, oh),
             same_padding(iw, kw, sw, 1, ow)], o.FusedActivationFunction())


def k_pool_s8(lib, op: Op, t: list[Tensor], v: dict, average: bool) -> np.ndarray:
    fields, act = pool_fields(op, t)
    tout = t[op.outputs[0]]
    f = i32(*fields, *act_range_s8(act, tout.scale[0], int(tout.zp[0])))
    out = np.zeros(tout.shape, np.int8)
    lib.kh_pool_s8(int(average), ptr(f), ptr(np.ascontiguousarray(v[op.inputs[0]])), ptr(out))
    return out


def k_binary_s8(lib, op: Op, t: list[Tensor], v: dict, mul: bool) -> np.ndarray:
    o = options(op, "MulOptions" if mul else "AddOptions")
    ta, tb, tout = t[op.inputs[0]], t[op.inputs[1]], t[op.outputs[0]]
    q = (qm.mul_params if mul else qm.add_params)(ta.scale[0], tb.scale[0], tout.scale[0])
    zo = int(tout.zp[0])
    f = i32(*broadcast_fields(ta.shape, tb.shape, tout.shape), -int(ta.zp[0]), -int(tb.zp[0]), zo,
            *(q[k] for k in ("left_shift", "a_mult", "a_shift", "b_mult", "b_shift",
                             "out_mult", "out_shift")),
            *act_range_s8(o.FusedActivationFunction(), tout.scale[0], zo))
    out = np.zeros(tout.shape, np.int8)
    lib.kh_binary_s8(int(mul), ptr(f), ptr(np.ascontiguousarray(v[op.inputs[0]])),
                     ptr(np.ascontiguousarray(v[op.inputs[1]])), ptr(out))
    return out


def k_softmax_s8(lib, op: Op, t: list[Tensor], v: dict) -> np.ndarray:
    o = options(op, "SoftmaxOptions")
    tin, tout = t[op.inputs[0]], t[op.outputs[0]]
    assert abs(float(tout.scale[0]) - 1 / 256) < 1e-9 and int(tout.zp[0]) == -128
    depth = tin.shape[-1]
    q = qm.softmax_params(o.Beta(), tin.scale[0])
    f = i32(int(np.prod(tin.shape)) // depth, depth,
            *(q[k] for k in ("input_multiplier", "input_left_shift", "diff_min")))
    out = np.zeros(tout.shape, np.int8)
    lib.kh_softmax_s8(ptr(f), ptr(np.ascontiguousarray(v[op.inputs[0]])), ptr(out))
    return out


def mean_fields(h: int, w: int, c: int, sin: float, zin: int, sout: float, zout: int) -> list[int]:
    """kiln_mean_s8_params_t fields in the harness order."""
    q = qm.mean_params(sin, zin, sout, zout, h * w)
    return [h, w, c, q["count"], -zin, zout, q["mult"], q["shift"], q["same_qparams"]]


def k_mean_s8(lib, op: Op, t: list[Tensor], v: dict) -> np.ndarray:
    tin, tout = t[op.inputs[0]], t[op.outputs[0]]
    axes = sorted(int(a) % 4 for a in t[op.inputs[1]].data.ravel())
    assert axes == [1, 2], f"MEAN over {axes}"
    _, h, w, c = tin.shape
    f = i32(*mean_fields(h, w, c, tin.scale[0], int(tin.zp[0]), tout.scale[0], int(tout.zp[0])))
    out = np.zeros(tout.shape, np.int8)
    lib.kh_mean_s8(ptr(f), ptr(np.ascontiguousarray(v[op.inputs[0]])), ptr(out))
    return out


def k_pad(lib, op: Op, t: list[Tensor], v: dict, elem: int) -> np.ndarray:
    tin, tout = t[op.inputs[0]], t[op.outputs[0]]
    pads = t[op.inputs[1]].data.reshape(-1, 2)
    before = [0] * (4 - len(pads)) + [int(b) for b in pads[:, 0]]
    four = broadcast_fields(tin.shape, tin.shape, tout.shape)  # right-aligned 4-D shapes
    in4 = [1] * (4 - len(tin.shape)) + list(tin.shape)
    pad_value = int(tout.zp[0]) if elem == 1 else 0
    f = i32(*in4, *four[:4], *before, pad_value, elem)
    out = np.zeros(tout.shape, np.int8 if elem == 1 else np.float32)
    lib.kh_pad(ptr(f), ptr(np.ascontiguousarray(v[op.inputs[0]])), ptr(out))
    return out


def k_concat(lib, op: Op, t: list[Tensor], v: dict, elem: int) -> np.ndarray:
    o = options(op, "ConcatenationOptions")
    tout = t[op.outputs[0]]
    axis = o.Axis() % len(tout.shape)
    ins = [np.ascontiguousarray(v[i]) for i in op.inputs]
    inner = np.array([int(np.prod(t[i].shape[axis:])) for i in op.inputs], np.uint32)
    n = len(ins)
    if elem == 1:
        for i in op.inputs:  # tflite-micro's restriction: a plain copy
            assert t[i].scale[0] == tout.scale[0] and t[i].zp[0] == tout.zp[0]
    zeros = i32(*([0] * n))
    arr = (ctypes.c_void_p * n)(*[a.ctypes.data for a in ins])
    out = np.zeros(tout.shape, np.int8 if elem == 1 else np.float32)
    f = i32(int(np.prod(tout.shape[:axis])), n, 0, elem)
    lib.kh_concat(ptr(f), ptr(inner), ptr(zeros), ptr(zeros), ptr(zeros), arr, ptr(out))
    return out


def k_quantize(lib, op: Op, t: list[Tensor], v: dict) -> np.ndarray:
    tin, tout = t[op.inputs[0]], t[op.outputs[0]]
    x = np.ascontiguousarray(v[op.inputs[0]])
    out = np.zeros(tout.shape, np.int8)
    if x.dtype == np.float32:
        f = i32(x.size, int(tout.zp[0]), 0, 0, 0, 0)
        lib.kh_quant(0, ptr(f), float(tout.scale[0]), ptr(x), ptr(out))
    else:
        m, s = qm.requantize_params(tin.scale[0], tout.scale[0])
        f = i32(x.size, 0, -int(tin.zp[0]), m, s, int(tout.zp[0]))
        lib.kh_quant(2, ptr(f), 0.0, ptr(x), ptr(out))
    return out


def k_dequantize(lib, op: Op, t: list[Tensor], v: dict) -> np.ndarray:
    tin, tout = t[op.inputs[0]], t[op.outputs[0]]
    x = np.ascontiguousarray(v[op.inputs[0]])
    out = np.zeros(tout.shape, np.float32)
    lib.kh_quant(1, ptr(i32(x.size, int(tin.zp[0]), 0, 0, 0, 0)), float(tin.scale[0]), ptr(x), ptr(out))
    return out


def run_int8_op(lib, op: Op, t: list[Tensor], v: dict) -> np.ndarray | None:
    """Our kernel's output for one int8 op (None: an op we alias, e.g. RESHAPE)."""
    n = op.name
    if n in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        return k_conv_s8(lib, op, t, v, n == "DEPTHWISE_CONV_2D")
    if n == "FULLY_CONNECTED":
        return k_fc_s8(lib, op, t, v)
    if n in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
        return k_pool_s8(lib, op, t, v, n == "AVERAGE_POOL_2D")
    if n in ("ADD", "MUL"):
        return k_binary_s8(lib, op, t, v, n == "MUL")
    if n == "SOFTMAX":
        return k_softmax_s8(lib, op, t, v)
    if n == "MEAN":
        return k_mean_s8(lib, op, t, v)
    if n == "PAD":
        return k_pad(lib, op, t, v, 1)
    if n == "CONCATENATION":
        return k_concat(lib, op, t, v, 1)
    if n == "QUANTIZE":
        return k_quantize(lib, op, t, v)
    if n == "DEQUANTIZE":
        return k_dequantize(lib, op, t, v)
    if n == "RESHAPE":
        return None
    raise AssertionError(f"no kernel test for {n}")


def run_f32_op(lib, op: Op, t: list[Tensor], v: dict) -> np.ndarray | None:
    """Our kernel's output for one float32 op."""
    n = op.name
    tout = t[op.outputs[0]]
    out = np.zeros(tout.shape, np.float32)
    x = np.ascontiguousarray(v[op.inputs[0]])
    if n in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        dw = n == "DEPTHWISE_CONV_2D"
        fields, act = conv_fields(op, t, dw)
        bias = bias_of(op, t)
        lib.kh_conv_f32(int(dw), ptr(i32(*fields)), *act_range_f32(act), ptr(x),
                        ptr(np.ascontiguousarray(t[op.inputs[1]].data)), ptr(bias), ptr(out))
    elif n == "FULLY_CONNECTED":
        o = options(op, "FullyConnectedOptions")
        out_n, in_n = t[op.inputs[1]].shape
        bias = bias_of(op, t)
        lib.kh_fc_f32(ptr(i32(x.size // in_n, in_n, out_n)), *act_range_f32(o.FusedActivationFunction()),
                      ptr(x), ptr(np.ascontiguousarray(t[op.inputs[1]].data)), ptr(bias), ptr(out))
    elif n in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
        fields, act = pool_fields(op, t)
        lib.kh_pool_f32(int(n == "AVERAGE_POOL_2D"), ptr(i32(*fields)), *act_range_f32(act), ptr(x), ptr(out))
    elif n in ("ADD", "MUL"):
        o = options(op, "MulOptions" if n == "MUL" else "AddOptions")
        f = i32(*broadcast_fields(t[op.inputs[0]].shape, t[op.inputs[1]].shape, tout.shape))
        lib.kh_binary_f32(int(n == "MUL"), ptr(f), *act_range_f32(o.FusedActivationFunction()),
                          ptr(x), ptr(np.ascontiguousarray(v[op.inputs[1]])), ptr(out))
    elif n == "MEAN":
        _, h, w, c = t[op.inputs[0]].shape
        lib.kh_mean_f32(h, w, c, ptr(x), ptr(out))
    elif n == "SOFTMAX":
        depth = x.shape[-1]
        lib.kh_softmax_f32(x.size // depth, depth, options(op, "SoftmaxOptions").Beta(), ptr(x), ptr(out))
    elif n == "PAD":
        return k_pad(lib, op, t, v, 4)
    elif n == "CONCATENATION":
        return k_concat(lib, op, t, v, 4)
    elif n == "RESHAPE":
        return None
    else:
        raise AssertionError(f"no float kernel test for {n}")
    return out


def random_inputs(buf: bytes, seed: int) -> list[np.ndarray]:
    """Random inputs for every graph input: full int8 range or N(0, 1) floats."""
    import tflite
    m = tflite.Model.GetRootAsModel(buf, 0)
    sg = m.Subgraphs(0)
    rng = np.random.default_rng(seed)
    xs = []
    for i in sg.InputsAsNumpy():
        t = sg.Tensors(int(i))
        shape = tuple(t.ShapeAsNumpy())
        if t.Type() == 9:
            xs.append(rng.integers(-128, 128, shape).astype(np.int8))
        else:
            xs.append(rng.normal(0, 1.5, shape).astype(np.float32))
    return xs


def check_model(lib, buf: bytes, float_model: bool) -> dict[str, int]:
    """Every op of `buf` against the oracle on SAMPLES inputs; returns op counts."""
    ops, tensors = read_graph(buf)
    seen: dict[str, int] = {}
    for s in range(SAMPLES):
        values = run_oracle(buf, random_inputs(buf, s), len(tensors))
        for op in ops:
            ours = (run_f32_op if float_model else run_int8_op)(lib, op, tensors, values)
            if ours is None:
                continue
            ref = values[op.outputs[0]].reshape(ours.shape)
            if ref.dtype == np.int8:
                bad = int(np.count_nonzero(ours != ref))
                assert bad == 0, (f"{op.name}: {bad}/{ref.size} int8 outputs differ from "
                                  f"tflite-micro; max |diff| "
                                  f"{int(np.abs(ours.astype(int) - ref).max())}")
            else:
                tol = 1e-5 * max(1e-30, float(np.abs(ref).max()))
                np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=tol, err_msg=op.name)
            seen[op.name] = seen.get(op.name, 0) + 1
    return seen


# --------------------------------------------------------------------------
# Tests against tflite-micro


# Every op class each model must have exercised (int8 and float alike).
EXPECTED_OPS = {
    "cnn": {"CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "MAX_POOL_2D", "AVERAGE_POOL_2D",
            "MEAN", "FULLY_CONNECTED", "SOFTMAX"},
    "valid": {"CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D", "FULLY_CONNECTED"},
    "binary": {"MUL", "ADD", "CONCATENATION", "PAD"},
    "head": {"FULLY_CONNECTED", "SOFTMAX"},
}


@pytest.mark.parametrize("name", list(EXPECTED_OPS))
def test_int8_ops_bit_exact(lib, models, name):
    seen = check_model(lib, models[f"{name}_int8"], float_model=False)
    missing = EXPECTED_OPS[name] - set(seen)
    assert not missing, f"ops not exercised: {missing}"


def test_quantize_dequantize_edges_bit_exact(lib, models):
    buf = models["edge_int8"]
    seen = check_model(lib, buf, float_model=False)
    assert {"QUANTIZE", "DEQUANTIZE", "FULLY_CONNECTED"} <= set(seen)
    # Inputs at and next to the rounding boundaries (k + 1/2) * scale, where
    # dividing in float, dividing in double and multiplying by a float
    # reciprocal disagree (tflite-micro divides in float).
    ops, tensors = read_graph(buf)
    quant = next(op for op in ops if op.name == "QUANTIZE")
    scale = float(tensors[quant.outputs[0]].scale[0])
    x = np.float32((np.arange(-6, 6) + 0.5) * scale)
    x = np.concatenate([np.nextafter(x, np.float32(-np.inf)), x, np.nextafter(x, np.float32(np.inf))])
    for chunk in x.reshape(-1, 1, 12):
        values = run_oracle(buf, [chunk], len(tensors))
        ours = k_quantize(lib, quant, tensors, values)
        np.testing.assert_array_equal(ours, values[quant.outputs[0]].reshape(ours.shape))


@pytest.mark.parametrize("name", list(EXPECTED_OPS))
def test_float_ops_match(lib, models, name):
    seen = check_model(lib, models[f"{name}_f32"], float_model=True)
    missing = EXPECTED_OPS[name] - set(seen)
    assert not missing, f"ops not exercised: {missing}"


# --------------------------------------------------------------------------
# Paths the converted models do not reach, against Python transcriptions


def test_requantize_matches_reference(lib):
    rng = np.random.default_rng(7)
    cases = [(-(1 << 31), -(1 << 31), 0), ((1 << 31) - 1, (1 << 31) - 1, 0), (5, 1 << 30, -1),
             (-5, 1 << 30, -1), (3, 1 << 30, -2), (-3, 1 << 30, -2), (1 << 20, 1518500250, 12)]
    for _ in range(3000):
        x = int(rng.integers(-(1 << 31), 1 << 31))
        if rng.random() < 0.5:
            x >>= int(rng.integers(0, 31))
        cases.append((x, int(rng.integers(1 << 30, 1 << 31)), int(rng.integers(-31, 8))))
    for x, m, s in cases:
        assert lib.kh_requantize(x, m, s) == ref_requantize(x, m, s), (x, m, s)


def test_fixed_point_exp_and_reciprocal_accuracy(lib):
    # exp over the whole softmax domain, Q5.26 in, Q0.31 out. The reference
    # algorithm's own error (4th-order series on [-1/4, 0)) is about 1e-7; a
    # wrong constant or bit selection would be off by far more.
    for a in np.linspace(-(31 << 26), 0, 4001).astype(np.int64):
        got = lib.kh_exp_on_negative_q5(int(a)) / 2**31
        assert abs(got - math.exp(int(a) / 2**26)) < 3e-7, a
    assert lib.kh_exp_on_negative_q5(0) == (1 << 31) - 1
    for x in np.linspace(0, 2**31 - 1, 2001).astype(np.int64):
        got = lib.kh_one_over_one_plus_x_q0(int(x)) / 2**31
        assert abs(got - 1 / (1 + int(x) / 2**31)) < 1e-8, x


def test_mean_same_qparams_truncates(lib):
    rng = np.random.default_rng(3)
    for h, w, c in ((3, 3, 4), (5, 2, 1), (7, 7, 8)):
        x = rng.integers(-128, 128, (h, w, c)).astype(np.int8)
        out = np.zeros(c, np.int8)
        lib.kh_mean_s8(ptr(i32(*mean_fields(h, w, c, 0.1, 3, 0.1, 3))), ptr(x), ptr(out))
        sums = x.astype(np.int64).sum(axis=(0, 1))
        expect = np.array([int(s / (h * w)) for s in sums])  # C division: toward zero
        np.testing.assert_array_equal(out, expect)


def test_mean_rescaled_matches_reference(lib):
    rng = np.random.default_rng(4)
    for h, w, sin, sout, zin, zout in ((4, 4, 0.05, 0.02, -3, 10), (1, 9, 0.3, 0.01, 100, -128),
                                       (6, 5, 0.02, 0.5, 0, 0)):
        x = rng.integers(-128, 128, (h, w, 3)).astype(np.int8)
        f = mean_fields(h, w, 3, sin, zin, sout, zout)
        out = np.zeros(3, np.int8)
        lib.kh_mean_s8(ptr(i32(*f)), ptr(x), ptr(out))
        sums = x.astype(np.int64).sum(axis=(0, 1)) - zin * h * w
        expect = [min(127, max(-128, ref_requantize(int(s), f[6], f[7]) + zout)) for s in sums]
        np.testing.assert_array_equal(out, expect)
        real = (x.astype(np.float64) - zin).mean(axis=(0, 1)) * sin / sout + zout
        assert np.all(np.abs(out - np.clip(real, -128, 127)) <= 1.0)


def test_requantize_s8_s8_and_concat_rescale(lib):
    x = np.arange(-128, 128, dtype=np.int8)
    m, s = qm.requantize_params(0.037, 0.05)
    out = np.zeros(256, np.int8)
    lib.kh_quant(2, ptr(i32(256, 0, -7, m, s, 12)), 0.0, ptr(x), ptr(out))
    expect = [min(127, max(-128, ref_requantize(int(q) - 7, m, s) + 12)) for q in x]
    np.testing.assert_array_equal(out, expect)
    # concat: input 0 copied, input 1 requantized with the same parameters
    a = np.arange(6, dtype=np.int8).reshape(2, 3)
    b = x[:8].reshape(2, 4).copy()
    res = np.zeros((2, 7), np.int8)
    arr = (ctypes.c_void_p * 2)(a.ctypes.data, b.ctypes.data)
    lib.kh_concat(ptr(i32(2, 2, 12, 1)), ptr(np.array([3, 4], np.uint32)), ptr(i32(0, -7)),
                  ptr(i32(0, m)), ptr(i32(0, s)), arr, ptr(res))
    np.testing.assert_array_equal(res[:, :3], a)
    np.testing.assert_array_equal(res[:, 3:], np.array(expect[:8]).reshape(2, 4))


def test_quantize_rounds_half_away_and_saturates(lib):
    x = np.array([0.25, -0.25, 0.75, -0.75, 0.2499999, 1e6, -1e6, np.nan, 63.75, -64.25],
                 np.float32)
    out = np.zeros(x.size, np.int8)
    lib.kh_quant(0, ptr(i32(x.size, -1, 0, 0, 0, 0)), 0.5, ptr(x), ptr(out))
    np.testing.assert_array_equal(out, [0, -2, 1, -3, -1, 127, -128, -1, 127, -128])


def test_expf_accuracy(lib):
    for x in np.concatenate([np.linspace(-100, 0, 5001), np.linspace(0, 88, 1001)]):
        got, ref = lib.kh_expf(float(x)), math.exp(float(np.float32(x)))
        assert abs(got - ref) <= 3e-7 * ref + 1e-44, x


# --------------------------------------------------------------------------
# The firmware build


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="needs arm-none-eabi-gcc")
def test_cortex_m33_build_warning_free_and_libm_free(tmp_path):
    flags = ["-mcpu=cortex-m33", "-mthumb", "-mfpu=fpv5-sp-d16", "-mfloat-abi=hard", "-O2",
             "-ffreestanding", *WARN, f"-I{RUNTIME / 'include'}"]
    for src in PORTABLE:
        obj = tmp_path / (src.stem + ".o")
        r = subprocess.run(["arm-none-eabi-gcc", *flags, "-c", str(src), "-o", str(obj)],
                           capture_output=True, text=True)
        assert r.returncode == 0 and not r.stderr, f"{src.name}:\n{r.stderr}"
        undefined = set(subprocess.run(["arm-none-eabi-nm", "-u", str(obj)], capture_output=True,
                                       text=True, check=True).stdout.split()) - {"U"}
        # nothing but memcpy and our own functions: no libm, no soft-float
        allowed = {"memcpy"} | {s for s in undefined if s.startswith("kiln_")}
        assert undefined <= allowed, f"{src.name} needs {sorted(undefined - allowed)}"
