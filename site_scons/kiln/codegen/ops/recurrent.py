"""Recurrent operators (kiln/ops/recurrent.h, portable/recurrent_*.c):
UNIDIRECTIONAL_SEQUENCE_LSTM, int8 (int16 gates and cell state, tflite-micro's
integer LSTM) and float32; SVDF, int8 with an int16 or int8 activation state, and
float32.

The LSTM reads two variable tensors, its hidden and cell state (SVDF one, its
memory). Kiln runs
every inference from zero state (what a non-stateful Keras model means, and
what a retried INFER needs): the state tensors are ordinary arena tensors
that the kernel resets before its first time step, and the oracle resets
tflite-micro's variables before each invoke (kiln.oracle). docs/ops/recurrent.md
has the arithmetic.
"""

from __future__ import annotations

import math

import numpy as np

from kiln import quantmath as qm
from kiln.codegen.context import LayerContext
from kiln.codegen.registry import (
    MAX_INT8_DEPTH,
    RESETS_STATE,
    KernelImpl,
    LayerCode,
    UnsupportedLayer,
    per_tensor_qparams,
    register,
)
from kiln.ir import Graph, Operator, Tensor

HEADER = "kiln/ops/recurrent.h"

# TFLite's UNIDIRECTIONAL_SEQUENCE_LSTM inputs, gates in the order input, forget, cell, output.
W_IN, W_REC, BIAS = (1, 2, 3, 4), (5, 6, 7, 8), (12, 13, 14, 15)
PEEPHOLE, PROJECTION, LAYER_NORM = (9, 10, 11), (16, 17), (20, 21, 22, 23)
HIDDEN, CELL = 18, 19
#: The scale of every gate's pre-activation (Q3.12) and of its output (Q0.15).
GATE_IN_SCALE, GATE_OUT_SCALE = 2.0 ** -12, 2.0 ** -15


def _opt(op: Operator, k: int, graph: Graph) -> Tensor | None:
    return graph.tensors[op.inputs[k]] if k < len(op.inputs) and op.inputs[k] >= 0 else None


def _lstm_dims(graph: Graph, op: Operator) -> tuple[int, int, int, int, bool]:
    """(batches, steps, n_input, n_cell, time_major); UnsupportedLayer for what
    tflite-micro's LSTM does not run either."""
    if len(op.inputs) != 24:
        raise UnsupportedLayer(f"LSTM with {len(op.inputs)} inputs; TFLite's has 24")
    x = graph.tensors[op.inputs[0]]
    y = graph.tensors[op.outputs[0]]
    names = {"CIFG (no input gate)": (1, 5), "peephole": PEEPHOLE, "projection": PROJECTION,
             "layer normalization": LAYER_NORM}
    for what, ks in names.items():
        present = [k for k in ks if _opt(op, k, graph) is not None]
        if (what.startswith("CIFG") and len(present) < 2) or (not what.startswith("CIFG") and present):
            raise UnsupportedLayer(f"an LSTM with {what} (tflite-micro's LSTM has none either)")
    for k in W_IN + W_REC + BIAS:
        t = _opt(op, k, graph)
        if t is None or not t.is_const:
            raise UnsupportedLayer("LSTM weights and biases must all be constant")
    h, c = _opt(op, HIDDEN, graph), _opt(op, CELL, graph)
    if h is None or c is None or not h.is_variable or not c.is_variable:
        raise UnsupportedLayer("the LSTM's hidden and cell state must be variable tensors")
    act = op.options.get("FusedActivationFunction", "NONE")
    if act != "TANH":
        raise UnsupportedLayer(f"LSTM cell activation {act}; Kiln runs TANH (Keras' default)")
    if len(x.shape) != 3 or len(y.shape) != 3:
        raise UnsupportedLayer(f"LSTM input {x.describe()} and output {y.describe()} must be 3-D")
    time_major = bool(op.options.get("TimeMajor", False))
    steps, batches = (x.shape[0], x.shape[1]) if time_major else (x.shape[1], x.shape[0])
    n_input, n_cell = int(x.shape[2]), int(y.shape[2])
    for k in W_IN:
        if tuple(graph.tensors[op.inputs[k]].shape) != (n_cell, n_input):
            raise UnsupportedLayer("LSTM input weights do not match the input and output")
    for k in W_REC:
        if tuple(graph.tensors[op.inputs[k]].shape) != (n_cell, n_cell):
            raise UnsupportedLayer("LSTM recurrent weights do not match the output")
    if h.size != batches * n_cell or c.size != batches * n_cell:
        raise UnsupportedLayer("LSTM state sizes do not match batches x units")
    if float(op.options.get("CellClip", 0.0)) < 0:
        raise UnsupportedLayer("negative cell clip")
    return int(batches), int(steps), n_input, n_cell, time_major


def _lstm_accepts(graph: Graph, op: Operator) -> bool:
    x = graph.tensors[op.inputs[0]]
    _lstm_dims(graph, op)
    w_dtype = "int8" if x.dtype == "int8" else "float32"
    for k in W_IN + W_REC:
        if graph.tensors[op.inputs[k]].dtype != w_dtype:
            raise UnsupportedLayer(f"{x.dtype} LSTM weights must be {w_dtype} (hybrid LSTMs are not run)")
    b_dtype = "int32" if x.dtype == "int8" else "float32"
    for k in BIAS:
        if graph.tensors[op.inputs[k]].dtype != b_dtype:
            raise UnsupportedLayer(f"{x.dtype} LSTM biases must be {b_dtype}")
    h, c = graph.tensors[op.inputs[HIDDEN]], graph.tensors[op.inputs[CELL]]
    if x.dtype == "int8":
        if h.dtype != "int8" or c.dtype != "int16":
            raise UnsupportedLayer("an int8 LSTM needs an int8 hidden state and an int16 cell state "
                                   "(the converter's int8 quantization)")
        for k in W_IN + W_REC:
            w = graph.tensors[op.inputs[k]]
            per_tensor_qparams(w)
            if int(w.zero_point[0]) != 0:
                raise UnsupportedLayer(f"LSTM weights {w.describe()} must be symmetric")
        power = _cell_power(c)
        if not -40 <= power <= 2:
            # The cell tanh scales its int16 input by 3 << (12 + power) (or shifts it right).
            raise UnsupportedLayer(f"cell state scale 2^{power}: int32 arithmetic takes 2^-40 to 2^2")
        _, _, ni, nc, _ = _lstm_dims(graph, op)
        if max(ni, nc) > MAX_INT8_DEPTH:
            raise UnsupportedLayer(f"each gate sums {max(ni, nc)} products; above {MAX_INT8_DEPTH} the "
                                   "int32 accumulator of the reference arithmetic can overflow")
    elif h.dtype != "float32" or c.dtype != "float32":
        raise UnsupportedLayer("a float32 LSTM needs float32 state")
    if sum(1 for o in graph.ops for i in o.inputs if i in (op.inputs[HIDDEN], op.inputs[CELL])) != 2:
        raise UnsupportedLayer("the LSTM's state tensors are shared with another operator")
    return True


def _cell_power(c: Tensor) -> int:
    """log2 of the cell state's scale, which tflite-micro requires to be a power of two."""
    scale = per_tensor_qparams(c)[0]
    log2 = math.log(scale) / math.log(2.0)
    if abs(log2 - round(log2)) >= 1e-3:
        raise UnsupportedLayer(f"cell state scale {scale} is not a power of two")
    return int(round(log2))


def _lstm_scratch(graph: Graph, op: Operator) -> int:
    n_cell = int(graph.tensors[op.outputs[0]].shape[2])
    return 4 * n_cell * (2 if graph.tensors[op.inputs[0]].dtype == "int8" else 4)


def _lstm_common(ctx: LayerContext) -> tuple[dict, str]:
    b, t, ni, nc, tm = _lstm_dims(ctx.graph, ctx.op)
    fields = dict(batches=b, steps=t, n_input=ni, n_cell=nc, time_major=int(tm))
    ptrs = {name: "{" + ", ".join(ctx.ptr(ctx.t(k)) for k in ks) + "}"
            for name, ks in (("w_in", W_IN), ("w_rec", W_REC), ("bias", BIAS))}
    scratch = ctx.t(1, outputs=True)
    return fields | ptrs, f"(void *)&kiln_arena[{ctx.plan.offset(scratch.index)}]"


def _lstm_s8(ctx: LayerContext) -> LayerCode:
    fields, scratch = _lstm_common(ctx)
    x, y = ctx.t(0), ctx.t(0, outputs=True)
    h, c = ctx.t(HIDDEN), ctx.t(CELL)
    si, zi = per_tensor_qparams(x)
    sh, zh = per_tensor_qparams(h)
    sc = per_tensor_qparams(c)[0]
    power = _cell_power(c)
    mults: dict[str, list[int]] = {"in_mult": [], "in_shift": [], "rec_mult": [], "rec_shift": []}
    for k_in, k_rec in zip(W_IN, W_REC, strict=True):
        for pre, k, s in (("in", k_in, si), ("rec", k_rec, sh)):
            m, e = qm.fc_multiplier(s, float(ctx.t(k).scale[0]), GATE_IN_SCALE)
            mults[f"{pre}_mult"].append(m)
            mults[f"{pre}_shift"].append(e)

    def mul(a: float, b: float, out: float) -> tuple[int, int]:
        # The reference's inter-gate products: double(a) * double(b) / double(out).
        return qm.quantize_multiplier(qm.f32(a) * qm.f32(b) / qm.f32(out))

    fc, ic, hid = mul(GATE_OUT_SCALE, sc, sc), mul(GATE_OUT_SCALE, GATE_OUT_SCALE, sc), \
        mul(GATE_OUT_SCALE, GATE_OUT_SCALE, sh)
    k = 12 + power  # the cell tanh's input left shift, 15 + power - 3
    tanh_mult, tanh_shift = (3 << k, 0) if k >= 0 else (3, -k)
    clip = float(np.float32(ctx.op.options.get("CellClip", 0.0)))
    qclip = int(min(max(clip / qm.f32(sc), -32768.0), 32767.0)) if clip > 0 else 0
    # The output rows are the hidden state's bytes, whatever the output's own parameters say
    # (tflite-micro copies them too); the converter gives both the same.
    p = ctx.struct("kiln_lstm_s8_params_t", fields | dict(
        in_offset=-zi, hidden_offset=-zh, hidden_zp=zh,
        in_mult=mults["in_mult"], in_shift=mults["in_shift"],
        rec_mult=mults["rec_mult"], rec_shift=mults["rec_shift"],
        fc_mult=fc[0], fc_shift=fc[1], ic_mult=ic[0], ic_shift=ic[1],
        hid_mult=hid[0], hid_shift=hid[1], tanh_mult=tanh_mult, tanh_shift=tanh_shift,
        cell_clip=qclip))
    call = (f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(h, const=False)}, {ctx.ptr(c, const=False)}, "
            f"(int16_t *){scratch}, {ctx.ptr(y, const=False)});")
    return LayerCode(ctx.decls, call, _macs(fields), ctx.weight_bytes)


def _lstm_f32(ctx: LayerContext) -> LayerCode:
    fields, scratch = _lstm_common(ctx)
    x, y = ctx.t(0), ctx.t(0, outputs=True)
    h, c = ctx.t(HIDDEN), ctx.t(CELL)
    p = ctx.struct("kiln_lstm_f32_params_t", fields | dict(
        cell_clip=float(np.float32(ctx.op.options.get("CellClip", 0.0)))))
    call = (f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(h, const=False)}, {ctx.ptr(c, const=False)}, "
            f"(float *){scratch}, {ctx.ptr(y, const=False)});")
    return LayerCode(ctx.decls, call, _macs(fields), ctx.weight_bytes)


def _macs(f: dict) -> int:
    return f["batches"] * f["steps"] * 4 * f["n_cell"] * (f["n_input"] + f["n_cell"])


# ---- SVDF -------------------------------------------------------------------------------

def _svdf_dims(graph: Graph, op: Operator) -> tuple[int, int, int, int, int, int]:
    """(batches, n_input, n_filter, n_memory, rank, n_unit), checked as tflite-micro does."""
    if len(op.inputs) != 5:
        raise UnsupportedLayer(f"SVDF with {len(op.inputs)} inputs; TFLite's has 5")
    x, wf, wt = (_opt(op, k, graph) for k in range(3))
    state, y = _opt(op, 4, graph), graph.tensors[op.outputs[0]]
    if wf is None or wt is None or not wf.is_const or not wt.is_const:
        raise UnsupportedLayer("SVDF weights must be constant")
    if state is None or not state.is_variable:
        raise UnsupportedLayer("the SVDF activation state must be a variable tensor")
    rank = int(op.options.get("Rank", 0))
    if len(x.shape) != 2 or len(wf.shape) != 2 or len(wt.shape) != 2 or len(y.shape) != 2:
        raise UnsupportedLayer("SVDF tensors must be 2-D")
    batches, n_input = (int(d) for d in x.shape)
    n_filter, n_memory = (int(d) for d in wt.shape)
    if rank < 1 or n_filter % rank or tuple(wf.shape) != (n_filter, n_input):
        raise UnsupportedLayer(f"SVDF rank {rank} does not divide its {n_filter} filters")
    n_unit = n_filter // rank
    if tuple(y.shape) != (batches, n_unit) or state.size != batches * n_filter * n_memory:
        raise UnsupportedLayer("SVDF output or state size does not match its weights")
    b = _opt(op, 3, graph)
    if b is not None and (not b.is_const or b.size != n_unit):
        raise UnsupportedLayer("the SVDF bias must be constant, one per unit")
    return batches, n_input, n_filter, n_memory, rank, n_unit


def _svdf_accepts(graph: Graph, op: Operator, state_dtype: str = "float32") -> bool:
    """The SVDF checks; `state_dtype` picks the integer kernel (int16 or int8 state)."""
    x = graph.tensors[op.inputs[0]]
    _svdf_dims(graph, op)
    wf, wt, b, state = (_opt(op, k, graph) for k in (1, 2, 3, 4))
    if x.dtype == "int8":
        want = {"weights_feature": (wf, "int8"), "weights_time": (wt, state_dtype),
                "activation state": (state, state_dtype)}
        if b is not None:
            want["bias"] = (b, "int32")
        for what, (t, dt) in want.items():
            if t.dtype != dt:
                raise UnsupportedLayer(f"int8 SVDF {what} {t.describe()} is {t.dtype}; int8 SVDF "
                                       "takes int8 feature weights, int16 or int8 time weights and "
                                       "state (the same), an int32 bias")
            per_tensor_qparams(t)
        if int(x.shape[1]) > MAX_INT8_DEPTH:
            raise UnsupportedLayer(f"each feature sums {x.shape[1]} products; above {MAX_INT8_DEPTH} "
                                   "the int32 accumulator of the reference arithmetic can overflow")
    else:
        for t in (wf, wt, b, state):
            if t is not None and t.dtype != "float32":
                raise UnsupportedLayer(f"float32 SVDF tensor {t.describe()} is {t.dtype}")
        act = op.options.get("FusedActivationFunction", "NONE")
        if act not in qm.FUSED_ACTIVATIONS:
            raise UnsupportedLayer(f"SVDF fused activation {act}")
    if sum(1 for o in graph.ops for i in o.inputs if i == op.inputs[4]) != 1:
        raise UnsupportedLayer("the SVDF state tensor is shared with another operator")
    return True


def _svdf_scratch(graph: Graph, op: Operator) -> int:
    batches, _, n_filter, _, _, n_unit = _svdf_dims(graph, op)
    return 4 * batches * (n_filter + n_unit)


def _svdf(ctx: LayerContext) -> LayerCode:
    b_, ni, nf, nm, rank, nu = _svdf_dims(ctx.graph, ctx.op)
    x, wf, wt, bias, state = (ctx.t(k) for k in range(5))
    y, scratch = ctx.t(0, outputs=True), ctx.t(1, outputs=True)
    fields = dict(batches=b_, n_input=ni, n_filter=nf, n_memory=nm, rank=rank, n_unit=nu)
    f32 = np.float32
    if x.dtype == "int8":
        (si, zi), (sf, _), (st, _) = (per_tensor_qparams(t) for t in (x, wf, wt))
        ss, zs = per_tensor_qparams(state)
        so, zo = per_tensor_qparams(y)
        # The reference multiplies and divides the scales in float, then widens to double.
        m1 = qm.quantize_multiplier(float(f32(f32(si) * f32(sf)) / f32(ss)))
        m2 = qm.quantize_multiplier(float(f32(f32(ss) * f32(st)) / f32(so)))
        p = ctx.struct("kiln_svdf_s8_params_t", fields | dict(
            in_zp=zi, state_zp=zs, out_zp=zo, mult1=m1[0], shift1=m1[1], mult2=m2[0], shift2=m2[1]))
        sp = f"(int32_t *)(void *)&kiln_arena[{ctx.plan.offset(scratch.index)}]"
    else:
        lo, hi = qm.activation_range_float(ctx.op.options.get("FusedActivationFunction", "NONE"))
        p = ctx.struct("kiln_svdf_f32_params_t", fields | dict(act_min=lo, act_max=hi))
        sp = f"(float *)(void *)&kiln_arena[{ctx.plan.offset(scratch.index)}]"
    call = (f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(wf)}, {ctx.ptr(wt)}, {ctx.ptr(bias)}, "
            f"{ctx.ptr(state, const=False)}, {sp}, {ctx.ptr(y, const=False)});")
    return LayerCode(ctx.decls, call, b_ * nf * (ni + nm), ctx.weight_bytes)


def _register() -> None:
    RESETS_STATE.update({"UNIDIRECTIONAL_SEQUENCE_LSTM", "SVDF"})
    for dt, func, state in [("int8", "kiln_svdf_s8_s8state", "int8"), ("int8", "kiln_svdf_s8", "int16"),
                            ("float32", "kiln_svdf_f32", "float32")]:
        register(KernelImpl(op="SVDF", dtype=dt, func=func, build=_svdf, scratch=_svdf_scratch,
                            accepts=lambda g, o, s=state: _svdf_accepts(g, o, s), header=HEADER))
    for dt, func, build in [("int8", "kiln_lstm_s8", _lstm_s8), ("float32", "kiln_lstm_f32", _lstm_f32)]:
        register(KernelImpl(op="UNIDIRECTIONAL_SEQUENCE_LSTM", dtype=dt, func=func, build=build,
                            accepts=_lstm_accepts, scratch=_lstm_scratch, header=HEADER))


_register()
