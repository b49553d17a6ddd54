"""Elementwise operators: binary arithmetic (SUB, SQUARED_DIFFERENCE, MAXIMUM,
MINIMUM, DIV), unary math (ABS, NEG, SQUARE, SQRT, RSQRT, EXP, LOG, FLOOR,
ROUND), comparisons to bool, logical operators and SELECT_V2.

The C kernels are firmware/runtime/portable/elementwise_*.c, declared in
kiln/ops/elementwise.h (which documents every parameter); docs/ops/elementwise.md
gives the arithmetic each one matches in tflite-micro.
"""

from __future__ import annotations

import math

import numpy as np

from kiln import quantmath as qm
from kiln.codegen.context import LayerContext
from kiln.codegen.portable import broadcast_strides
from kiln.codegen.registry import KernelImpl, LayerCode, UnsupportedLayer, per_tensor_qparams, register
from kiln.ir import Graph, Operator, Tensor

#: Dimensions the broadcast walk handles (KILN_EW_RANK in kiln/ops/elementwise.h).
RANK = 6
#: The header declaring every kernel of this module.
HEADER = "kiln/ops/elementwise.h"
#: Comparison operators and their KILN_CMP_* codes.
COMPARISONS = {"EQUAL": 0, "NOT_EQUAL": 1, "LESS": 2, "LESS_EQUAL": 3, "GREATER": 4,
               "GREATER_EQUAL": 5}
#: Left shift of int8 SQUARED_DIFFERENCE (tflite-micro's headroom for int8).
SQDIFF_LEFT_SHIFT = 7
#: Left shift of int8 comparisons (tflite-micro's headroom for int8).
COMPARE_LEFT_SHIFT = 8
#: int8 RSQRT keeps its intermediate 1/sqrt(v) as an integer scaled by 2^20 (as tflite-micro).
RSQRT_SHIFT = 20


def _act(op: Operator) -> str:
    return op.options.get("FusedActivationFunction", "NONE")


def _aligned(shape: tuple[int, ...]) -> list[int]:
    """A shape right-aligned into RANK dimensions with leading 1s."""
    if len(shape) > RANK:
        raise UnsupportedLayer(f"rank {len(shape)} above {RANK}")
    return [1] * (RANK - len(shape)) + [int(d) for d in shape]


def broadcast(inputs: list[Tensor], out: Tensor) -> dict:
    """The kiln_ew_bcast_t of `inputs` (up to 3) broadcast to `out`: the output
    shape and, per input, its element strides (0 on broadcast dimensions)."""
    shape = _aligned(out.shape)
    strides = []
    for t in inputs:
        row = broadcast_strides(_aligned(t.shape), shape)
        if row is None:
            raise UnsupportedLayer(f"shapes {[list(i.shape) for i in inputs]} do not broadcast "
                                   f"to {list(out.shape)}")
        strides.append(row)
    strides += [[0] * RANK] * (3 - len(strides))
    return {"bc": {"shape": shape, "stride": strides}}


def _fmt_bc(fields: dict) -> dict:
    """ctx.struct formats nested dicts poorly: write the bcast member as C."""
    bc = fields.pop("bc")
    rows = ", ".join("{" + ", ".join(str(v) for v in r) + "}" for r in bc["stride"])
    shape = ", ".join(str(v) for v in bc["shape"])
    return {"bc": f"{{.shape = {{{shape}}}, .stride = {{{rows}}}}}", **fields}


def _inputs(ctx: LayerContext, n: int) -> list[Tensor]:
    ins = [ctx.t(k) for k in range(n)]
    if any(t is None for t in ins) or len(ctx.op.inputs) != n:
        raise UnsupportedLayer(f"{ctx.op.op} needs {n} inputs")
    return ins


def _need_same_qparams(ts: list[Tensor]) -> None:
    """Refuse int8 operators whose tensors do not share one scale and zero point
    (the kernels copy or compare raw values, as tflite-micro does)."""
    qps = {(qm.f32(s), z) for s, z in (per_tensor_qparams(t) for t in ts)}
    if len(qps) > 1:
        raise UnsupportedLayer("int8 inputs and output must share one scale and zero point")


def _no_left_shift(q: dict, keys: tuple[str, ...]) -> None:
    """The reference applies these multipliers as 'smaller than one' (right shifts only)."""
    for k in keys:
        if q[k] > 0:
            raise UnsupportedLayer("the scales give a multiplier above 1 where tflite-micro's "
                                   "arithmetic needs one below 1")


# ---- binary arithmetic -------------------------------------------------------------

#: int8 DIV: the dividend's headroom is at least 22 bits (|q - zp| <= 255), so an
#: output shift up to 22 keeps the kernel's total shift a right shift.
DIV_MAX_SHIFT = 22


def div_params(a_scale: float, b_scale: float, out_scale: float) -> dict:
    """Int8 DIV: one multiplier for a_scale / (b_scale * out_scale), the whole
    expression in float32 as tflite-micro's preparation computes it."""
    real = np.float32(a_scale) / (np.float32(b_scale) * np.float32(out_scale))
    m, s = qm.quantize_multiplier(float(real))
    if s > DIV_MAX_SHIFT:
        raise UnsupportedLayer(f"the scales give a DIV multiplier of {float(real):g}, above the "
                               f"2^{DIV_MAX_SHIFT} the reference arithmetic can apply")
    return {"left_shift": 0, "a_mult": 0, "a_shift": 0, "b_mult": 0, "b_shift": 0,
            "out_mult": m, "out_shift": s}


def sqdiff_params(a_scale: float, b_scale: float, out_scale: float) -> dict:
    """Int8 SQUARED_DIFFERENCE: inputs to twice the larger scale (as ADD), the
    square of their difference to the output scale."""
    twice_max = 2.0 * max(qm.f32(a_scale), qm.f32(b_scale))
    a_mult, a_shift = qm.quantize_multiplier(qm.f32(a_scale) / twice_max)
    b_mult, b_shift = qm.quantize_multiplier(qm.f32(b_scale) / twice_max)
    o_mult, o_shift = qm.quantize_multiplier(
        twice_max * twice_max / ((1 << (2 * SQDIFF_LEFT_SHIFT)) * qm.f32(out_scale)))
    return {"left_shift": SQDIFF_LEFT_SHIFT, "a_mult": a_mult, "a_shift": a_shift,
            "b_mult": b_mult, "b_shift": b_shift, "out_mult": o_mult, "out_shift": o_shift}


def _binary_s8(ctx: LayerContext) -> LayerCode:
    a, b = _inputs(ctx, 2)
    y = ctx.t(0, outputs=True)
    (sa, za), (sb, zb), (so, zo) = per_tensor_qparams(a), per_tensor_qparams(b), per_tensor_qparams(y)
    zero = {"left_shift": 0, "a_mult": 0, "a_shift": 0, "b_mult": 0, "b_shift": 0,
            "out_mult": 0, "out_shift": 0}
    if ctx.op.op == "SUB":
        q = qm.add_params(sa, sb, so)  # SUB is ADD's arithmetic with a difference
        _no_left_shift(q, ("a_shift", "b_shift", "out_shift"))
    elif ctx.op.op == "SQUARED_DIFFERENCE":
        q = sqdiff_params(sa, sb, so)
    elif ctx.op.op == "DIV":
        q = div_params(sa, sb, so)
    else:  # MAXIMUM, MINIMUM: raw values
        _need_same_qparams([a, b, y])
        q = zero
    lo, hi = qm.activation_range(_act(ctx.op), so, zo)
    p = ctx.struct("kiln_ew_binary_s8_params_t", _fmt_bc(dict(
        broadcast([a, b], y), a_offset=-za, b_offset=-zb, out_offset=zo, **q, act_min=lo, act_max=hi)))
    call = f"{ctx.func}({p}, {ctx.ptr(a)}, {ctx.ptr(b)}, {ctx.ptr(y, const=False)});"
    return LayerCode(ctx.decls, call, 0, ctx.weight_bytes)


def _binary_f32(ctx: LayerContext) -> LayerCode:
    a, b = _inputs(ctx, 2)
    y = ctx.t(0, outputs=True)
    lo, hi = qm.activation_range_float(_act(ctx.op))
    p = ctx.struct("kiln_ew_binary_f32_params_t",
                   _fmt_bc(dict(broadcast([a, b], y), act_min=lo, act_max=hi)))
    call = f"{ctx.func}({p}, {ctx.ptr(a)}, {ctx.ptr(b)}, {ctx.ptr(y, const=False)});"
    return LayerCode(ctx.decls, call, 0, ctx.weight_bytes)


# ---- unary -------------------------------------------------------------------------

def _unary_f32(ctx: LayerContext) -> LayerCode:
    (x,), y = _inputs(ctx, 1), ctx.t(0, outputs=True)
    p = ctx.struct("kiln_ew_unary_f32_params_t", {"n": y.size})
    return LayerCode(ctx.decls, f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});",
                     0, ctx.weight_bytes)


def _abs_s8(ctx: LayerContext) -> LayerCode:
    (x,), y = _inputs(ctx, 1), ctx.t(0, outputs=True)
    (si, zi), (so, zo) = per_tensor_qparams(x), per_tensor_qparams(y)
    rescale = qm.f32(si) != qm.f32(so)
    m, s = qm.requantize_params(si, so) if rescale else (0, 0)
    p = ctx.struct("kiln_ew_unary_s8_params_t", dict(n=y.size, in_zp=zi, out_zp=zo, mult=m, shift=s,
                                                     rescale=int(rescale)))
    return LayerCode(ctx.decls, f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});",
                     0, ctx.weight_bytes)


def rsqrt_s8_params(ctx: LayerContext) -> dict:
    """int8 RSQRT's fields (kiln_ew_unary_s8_params_t without n and rescale); the dsp
    set's table (kiln.fixedpoint.rsqrt_s8) evaluates the same arithmetic."""
    x, y = ctx.t(0), ctx.t(0, outputs=True)
    (si, zi), (so, zo) = per_tensor_qparams(x), per_tensor_qparams(y)
    m, s = qm.quantize_multiplier(1.0 / (math.sqrt(qm.f32(si)) * qm.f32(so)))
    if s - RSQRT_SHIFT < -31:
        raise UnsupportedLayer("the output scale is too large for the reference's RSQRT arithmetic")
    return dict(in_zp=zi, out_zp=zo, mult=m, shift=s)


def _rsqrt_s8(ctx: LayerContext) -> LayerCode:
    (x,), y = _inputs(ctx, 1), ctx.t(0, outputs=True)
    p = ctx.struct("kiln_ew_unary_s8_params_t", dict(n=y.size, **rsqrt_s8_params(ctx), rescale=0))
    return LayerCode(ctx.decls, f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});",
                     0, ctx.weight_bytes)


# ---- comparisons, logical, select ---------------------------------------------------

def compare_params(a_scale: float, b_scale: float) -> dict:
    """Int8 comparisons: each side scaled by its own scale after a left shift of 8."""
    a_mult, a_shift = qm.quantize_multiplier(qm.f32(a_scale))
    b_mult, b_shift = qm.quantize_multiplier(qm.f32(b_scale))
    q = {"left_shift": COMPARE_LEFT_SHIFT, "a_mult": a_mult, "a_shift": a_shift,
         "b_mult": b_mult, "b_shift": b_shift}
    _no_left_shift(q, ("a_shift", "b_shift"))
    return q


def _compare(ctx: LayerContext) -> LayerCode:
    a, b = _inputs(ctx, 2)
    y = ctx.t(0, outputs=True)
    fields = dict(broadcast([a, b], y), op=COMPARISONS[ctx.op.op], a_offset=0, b_offset=0,
                  left_shift=0, a_mult=0, a_shift=0, b_mult=0, b_shift=0)
    if a.dtype == "int8":
        if a.dtype != b.dtype:
            raise UnsupportedLayer("inputs of different dtypes")
        (sa, za), (sb, zb) = per_tensor_qparams(a), per_tensor_qparams(b)
        fields.update(a_offset=-za, b_offset=-zb, **compare_params(sa, sb))
    elif b.dtype != a.dtype or (a.quantized and a.dtype == "int32"):
        raise UnsupportedLayer("inputs of different dtypes, or quantized int32")
    p = ctx.struct("kiln_compare_params_t", _fmt_bc(fields))
    call = f"{ctx.func}({p}, {ctx.ptr(a)}, {ctx.ptr(b)}, {ctx.ptr(y, const=False)});"
    return LayerCode(ctx.decls, call, 0, ctx.weight_bytes)


def _logical(ctx: LayerContext) -> LayerCode:
    y = ctx.t(0, outputs=True)
    if ctx.op.op == "LOGICAL_NOT":
        (x,) = _inputs(ctx, 1)
        p = ctx.struct("kiln_logical_params_t", _fmt_bc(dict(broadcast([], y), n=y.size)))
        return LayerCode(ctx.decls, f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});",
                         0, ctx.weight_bytes)
    a, b = _inputs(ctx, 2)
    if b.dtype != "bool":
        raise UnsupportedLayer("both inputs must be bool")
    p = ctx.struct("kiln_logical_params_t", _fmt_bc(dict(broadcast([a, b], y), n=y.size)))
    call = f"{ctx.func}({p}, {ctx.ptr(a)}, {ctx.ptr(b)}, {ctx.ptr(y, const=False)});"
    return LayerCode(ctx.decls, call, 0, ctx.weight_bytes)


def _select(ctx: LayerContext) -> LayerCode:
    c, x, z = _inputs(ctx, 3)
    y = ctx.t(0, outputs=True)
    if not x.dtype == z.dtype == y.dtype:
        raise UnsupportedLayer("x, y and the output must share one dtype")
    if y.dtype == "int8":
        _need_same_qparams([x, z, y])
    size = {"int8": 1, "float32": 4}[y.dtype]
    p = ctx.struct("kiln_select_params_t", _fmt_bc(dict(broadcast([c, x, z], y), elem_bytes=size)))
    call = (f"{ctx.func}({p}, {ctx.ptr(c)}, (const void *){ctx.ptr(x)}, (const void *){ctx.ptr(z)}, "
            f"(void *){ctx.ptr(y, const=False)});")
    return LayerCode(ctx.decls, call, 0, ctx.weight_bytes)


def _rank_ok(g: Graph, op: Operator) -> bool:
    if any(len(g.tensors[i].shape) > RANK for i in op.inputs + op.outputs if i >= 0):
        raise UnsupportedLayer(f"rank above {RANK}")
    return True


def _register() -> None:
    s8, f32 = "int8", "float32"
    entries: list[tuple[str, str, str, object, str | None]] = [
        ("SUB", s8, "kiln_sub_s8", _binary_s8, None),
        ("SQUARED_DIFFERENCE", s8, "kiln_squared_difference_s8", _binary_s8, None),
        ("MAXIMUM", s8, "kiln_maximum_s8", _binary_s8, None),
        ("MINIMUM", s8, "kiln_minimum_s8", _binary_s8, None),
        ("SUB", f32, "kiln_sub_f32", _binary_f32, None),
        ("SQUARED_DIFFERENCE", f32, "kiln_squared_difference_f32", _binary_f32, None),
        ("MAXIMUM", f32, "kiln_maximum_f32", _binary_f32, None),
        ("MINIMUM", f32, "kiln_minimum_f32", _binary_f32, None),
        ("DIV", f32, "kiln_div_f32", _binary_f32, None),
        ("DIV", s8, "kiln_div_s8", _binary_s8, None),
        ("ABS", s8, "kiln_abs_s8", _abs_s8, None),
        ("RSQRT", s8, "kiln_rsqrt_s8", _rsqrt_s8, None),
    ]
    for op in ("ABS", "NEG", "SQUARE", "SQRT", "RSQRT", "EXP", "LOG", "FLOOR", "ROUND"):
        entries.append((op, f32, f"kiln_{op.lower()}_f32", _unary_f32, None))
    for op in COMPARISONS:
        for dt, suffix in ((s8, "s8"), (f32, "f32"), ("int32", "s32")):
            entries.append((op, dt, f"kiln_compare_{suffix}", _compare, "bool"))
    for op in ("LOGICAL_AND", "LOGICAL_OR", "LOGICAL_NOT"):
        entries.append((op, "bool", f"kiln_{op.lower()}", _logical, None))
    for dt in (s8, f32):  # tflite-micro's SELECT_V2 takes no int32 values
        entries.append(("SELECT_V2", "bool", "kiln_select_v2", _select, dt))
    for op, dt, func, build, out in entries:
        register(KernelImpl(op=op, dtype=dt, func=func, build=build, accepts=_rank_ok, header=HEADER,
                            out_dtype=out))


_register()
