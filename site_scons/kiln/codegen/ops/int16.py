"""int16 activations (TFLite's 16x8 scheme) and the QUANTIZE / DEQUANTIZE directions
between float32, int8, uint8, int16 and int32 that tflite-micro runs beyond
codegen/portable.py's (kiln/ops/int16.h, portable/s16_*.c, quantize_s16.c).

16x8 layers have int16 activations with zero point 0, int8 symmetric weights and
an int64 bias (or none: the same int64 arithmetic; FULLY_CONNECTED also takes an
int32 bias, through tflite-micro's int32 accumulator). Each builder computes the
parameters as tflite-micro's preparation does; docs/ops/int16.md has the recipes.
Byte-moving operators reuse movement's and spatial's index maps with two-byte
elements.
"""

from __future__ import annotations

import math

import numpy as np

import kiln.codegen.portable  # noqa: F401 - registered first, so this module's entries are tried before it
from kiln import quantmath as qm
from kiln.codegen.context import LayerContext, fmt
from kiln.codegen.geometry import Geometry
from kiln.codegen.ops import movement, spatial
from kiln.codegen.portable import _broadcast, _fc_dims, _per_channel_ok, pad_rows
from kiln.codegen.portable import _quant as _portable_quant
from kiln.codegen.registry import KernelImpl, LayerCode, UnsupportedLayer, per_tensor_qparams, register
from kiln.ir import Graph, Operator, Tensor

HEADER = "kiln/ops/int16.h"
S16 = "int16"
#: kiln_requantize64 shifts right by 15 - shift: the shift must stay below 15.
MAX_SHIFT64 = 14
#: |accumulator| bound of kiln_requantize64 (the reference's assumption).
MAX_ACC64 = 1 << 47


def _act(op: Operator) -> str:
    return op.options.get("FusedActivationFunction", "NONE")


def _zero_point_zero(*ts: Tensor) -> None:
    """16x8 tensors are symmetric: tflite-micro requires zero point 0."""
    for t in ts:
        if per_tensor_qparams(t)[1] != 0:
            raise UnsupportedLayer(f"int16 tensor {t.describe()} has a non-zero zero point")


def _act_range(op: Operator, y: Tensor) -> tuple[int, int]:
    return qm.activation_range(_act(op), *per_tensor_qparams(y), qmin=qm.INT16_MIN, qmax=qm.INT16_MAX)


# ---- CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED ---------------------------------------

def _bias_mode(b: Tensor | None, depth: int, shifts: list[int], int32_bias: bool = False) -> int:
    """1 for the int64 arithmetic (int64 bias or none, as tflite-micro), 0 for an
    int32 bias (FULLY_CONNECTED only: tflite-micro's int32 accumulator);
    UnsupportedLayer where the reference's arithmetic would overflow or shift out of range."""
    if b is not None and not b.is_const:
        raise UnsupportedLayer("bias is not a constant tensor")
    if b is None or b.dtype == "int64":
        largest = int(np.abs(b.data.astype(np.int64)).max(initial=0)) if b is not None else 0
        if depth * 32768 * 128 + largest >= MAX_ACC64:
            raise UnsupportedLayer("the accumulator can exceed the 48 bits the reference assumes")
        if max(shifts, default=0) > MAX_SHIFT64:
            raise UnsupportedLayer("a requantization multiplier above 2^14")
        return 1
    if b.dtype != "int32" or not int32_bias:
        raise UnsupportedLayer(f"bias {b.describe()} is {b.dtype}; this 16x8 layer takes int64 "
                               "(or no bias)")
    largest = int(np.abs(b.data.astype(np.int64)).max(initial=0))
    if depth * 32768 * 128 + largest > (1 << 31) - 1:
        raise UnsupportedLayer(f"each output sums {depth} products; with an int32 bias the "
                               "reference's int32 accumulator can overflow")
    return 0


def _conv(ctx: LayerContext, depthwise: bool) -> LayerCode:
    x, w, b, y = ctx.t(0), ctx.t(1), ctx.t(2), ctx.t(0, outputs=True)
    geo = Geometry.of(ctx.graph, ctx.op)
    oc = geo.out_c
    _per_channel_ok(w, oc, 3 if depthwise else 0)
    _zero_point_zero(x, y)
    in_s, out_s = per_tensor_qparams(x)[0], per_tensor_qparams(y)[0]
    mult, shift = qm.conv_multipliers(in_s, w.scale, out_s, oc)
    depth = int(np.prod(w.shape[1:3] if depthwise else w.shape[1:]))
    lo, hi = _act_range(ctx.op, y)
    p = ctx.struct("kiln_conv_s16_params_t", dict(
        g=geo.c_init(), depth_mult=geo.depth_mult, bias64=_bias_mode(b, depth, shift),
        act_min=lo, act_max=hi,
        mult=ctx.array("mult", "int32_t", mult), shift=ctx.array("shift", "int32_t", shift)))
    call = f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(w)}, {ctx.ptr(b)}, {ctx.ptr(y, const=False)});"
    return LayerCode(ctx.decls, call, geo.macs(depthwise), ctx.weight_bytes)


def _fc(ctx: LayerContext) -> LayerCode:
    x, w, b, y = ctx.t(0), ctx.t(1), ctx.t(2), ctx.t(0, outputs=True)
    batches, in_n, out_n = _fc_dims(ctx)
    _per_channel_ok(w, out_n, 0)
    _zero_point_zero(x, y)
    in_s, out_s = per_tensor_qparams(x)[0], per_tensor_qparams(y)[0]
    per_channel = len(w.scale) > 1
    if per_channel:
        mult, shift = qm.conv_multipliers(in_s, w.scale, out_s, out_n)
    else:
        m, s = qm.fc_multiplier(in_s, float(w.scale[0]), out_s)
        mult, shift = [m], [s]
    lo, hi = _act_range(ctx.op, y)
    p = ctx.struct("kiln_fc_s16_params_t", dict(
        batches=batches, in_n=in_n, out_n=out_n, bias64=_bias_mode(b, in_n, shift, int32_bias=True),
        per_channel=int(per_channel), act_min=lo, act_max=hi,
        mult=ctx.array("mult", "int32_t", mult), shift=ctx.array("shift", "int32_t", shift)))
    call = f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(w)}, {ctx.ptr(b)}, {ctx.ptr(y, const=False)});"
    return LayerCode(ctx.decls, call, batches * in_n * out_n, ctx.weight_bytes)


def _tconv(ctx: LayerContext) -> LayerCode:
    """TRANSPOSE_CONV 16x8: spatial's geometry and padding, the int64 accumulator."""
    w, x, y, b = ctx.t(1), ctx.t(2), ctx.t(0, outputs=True), ctx.t(3)
    opts = ctx.op.options
    sh, sw = int(opts.get("StrideH", 1)), int(opts.get("StrideW", 1))
    padding = opts.get("Padding", "SAME")
    _, ih, iw, ic = (int(d) for d in x.shape)
    _, oh, ow, oc = (int(d) for d in y.shape)
    kh, kw = int(w.shape[1]), int(w.shape[2])
    if w.dtype != "int8":
        raise UnsupportedLayer(f"weights {w.describe()} are {w.dtype}; 16x8 takes int8")
    _per_channel_ok(w, oc, 0)
    _zero_point_zero(x, y)
    if b is not None and (b.dtype != "int64" or not b.is_const):
        raise UnsupportedLayer(f"bias {b.describe()} is not a constant int64 tensor")
    mult, shift = qm.conv_multipliers(per_tensor_qparams(x)[0], w.scale, per_tensor_qparams(y)[0], oc)
    _bias_mode(b, kh * kw * ic, shift)
    geo = dict(in_h=ih, in_w=iw, in_c=ic, out_h=oh, out_w=ow, out_c=oc, k_h=kh, k_w=kw,
               stride_h=sh, stride_w=sw, dil_h=1, dil_w=1,
               pad_top=spatial.transpose_conv_padding(oh, kh, sh, padding),
               pad_left=spatial.transpose_conv_padding(ow, kw, sw, padding))
    lo, hi = _act_range(ctx.op, y)
    p = ctx.struct("kiln_transpose_conv_s16_params_t", dict(
        g="{" + ", ".join(f".{k} = {v}" for k, v in geo.items()) + "}", act_min=lo, act_max=hi,
        mult=ctx.array("mult", "int32_t", mult), shift=ctx.array("shift", "int32_t", shift)))
    call = f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(w)}, {ctx.ptr(b)}, {ctx.ptr(y, const=False)});"
    return LayerCode(ctx.decls, call, oh * ow * oc * ic * kh * kw // (sh * sw), ctx.weight_bytes)


# ---- ADD, SUB, MUL ---------------------------------------------------------------------

def _binary_accepts(g: Graph, op: Operator) -> bool:
    if len(op.inputs) != 2 or len(g.tensors[op.outputs[0]].shape) > 4:
        raise UnsupportedLayer("needs two inputs of rank <= 4")
    if op.options.get("PotScaleInt16", False):
        raise UnsupportedLayer("power-of-two int16 scaling (PotScaleInt16), which tflite-micro "
                               "does not run")
    return True


def _binary(ctx: LayerContext) -> LayerCode:
    a, b, y = ctx.t(0), ctx.t(1), ctx.t(0, outputs=True)
    _zero_point_zero(a, b, y)
    sa, sb, so = (per_tensor_qparams(t)[0] for t in (a, b, y))
    if ctx.op.op in ("MAXIMUM", "MINIMUM"):  # raw values: one quantization throughout
        _same_qparams(a, y)
        _same_qparams(b, y)
        q = {"left_shift": 0, "a_mult": 0, "a_shift": 0, "b_mult": 0, "b_shift": 0,
             "out_mult": 0, "out_shift": 0}
    elif ctx.op.op == "MUL":
        q = qm.mul_params(sa, sb, so)
    elif ctx.op.op == "SQUARED_DIFFERENCE":
        q = qm.sqdiff_params_s16(sa, sb, so)
    else:
        q = qm.add_params_s16(sa, sb, so)
        if max(q["a_shift"], q["b_shift"], q["out_shift"]) > 0:
            raise UnsupportedLayer("the scales give a rescaling multiplier above one, which the "
                                   "reference's arithmetic does not take")
    lo, hi = _act_range(ctx.op, y)
    p = ctx.struct("kiln_binary_s8_params_t", dict(_broadcast(ctx), a_offset=0, b_offset=0,
                                                   out_offset=0, **q, act_min=lo, act_max=hi))
    call = f"{ctx.func}({p}, {ctx.ptr(a)}, {ctx.ptr(b)}, {ctx.ptr(y, const=False)});"
    return LayerCode(ctx.decls, call, 0, ctx.weight_bytes)


# ---- SOFTMAX, LOGISTIC, TANH -------------------------------------------------------------

def _q15_output(ctx: LayerContext) -> None:
    """The table kernels write Q0.15: output scale 1/32768, zero point 0."""
    x, y = ctx.t(0), ctx.t(0, outputs=True)
    _zero_point_zero(x, y)
    log2, pot = qm.checked_log2(per_tensor_qparams(y)[0])
    if not pot or log2 != -15:
        raise UnsupportedLayer(f"int16 {ctx.op.op} output must have scale 1/32768")


def _softmax(ctx: LayerContext) -> LayerCode:
    x, y = ctx.t(0), ctx.t(0, outputs=True)
    _q15_output(ctx)
    depth = int(x.shape[-1]) if x.shape else 1
    q = qm.softmax_s16_params(float(ctx.op.options.get("Beta", 1.0)), per_tensor_qparams(x)[0])
    if q["input_left_shift"] > 30:
        raise UnsupportedLayer("beta times the input scale is too large for int16 SOFTMAX")
    if depth >= 1 << 16:
        raise UnsupportedLayer(f"{depth} classes overflow the int32 sum of Q0.15 exponentials")
    p = ctx.struct("kiln_softmax_s16_params_t", dict(
        rows=x.size // depth, depth=depth, input_multiplier=q["input_multiplier"],
        input_left_shift=q["input_left_shift"],
        exp_lut=ctx.array("exp_lut", "int16_t", q["exp_lut"]),
        recip_lut=ctx.array("recip_lut", "int16_t", q["recip_lut"])))
    return LayerCode(ctx.decls, f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});")


def _sigmoid(ctx: LayerContext) -> LayerCode:
    x, y = ctx.t(0), ctx.t(0, outputs=True)
    _q15_output(ctx)
    q = qm.sigmoid_s16_params(per_tensor_qparams(x)[0])
    if q["input_multiplier"] >= 1 << 16 or q["input_left_shift"] > 30:
        raise UnsupportedLayer(f"input scale {per_tensor_qparams(x)[0]:g} is outside what int16 "
                               f"{ctx.op.op}'s table arithmetic takes")
    p = ctx.struct("kiln_act_sigmoid_s16_params_t", dict(n=x.size, **q))
    return LayerCode(ctx.decls, f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});")


# ---- RELU, RELU6, LEAKY_RELU -----------------------------------------------------------

def _relu(ctx: LayerContext) -> LayerCode:
    x, y = ctx.t(0), ctx.t(0, outputs=True)
    (si, zi), (so, zo) = per_tensor_qparams(x), per_tensor_qparams(y)
    mult, shift = qm.requantize_params(si, so)
    p = ctx.struct("kiln_act_relu_s8_params_t", dict(
        n=x.size, in_zp=zi, out_zp=zo, mult=mult, shift=shift, act_min=max(qm.INT16_MIN, zo),
        act_max=qm.INT16_MAX))
    return LayerCode(ctx.decls, f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});")


def _relu6(ctx: LayerContext) -> LayerCode:
    x, y = ctx.t(0), ctx.t(0, outputs=True)
    si, zi = per_tensor_qparams(x)
    per_tensor_qparams(y)
    six = int(qm.round_half_away(qm.f32(np.float32(6.0) / np.float32(si)))) + zi
    p = ctx.struct("kiln_act_clamp_s8_params_t", dict(
        n=x.size, lo=zi, hi=min(qm.INT16_MAX, max(qm.INT16_MIN, six))))
    return LayerCode(ctx.decls, f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});")


def _leaky(ctx: LayerContext) -> LayerCode:
    x, y = ctx.t(0), ctx.t(0, outputs=True)
    (si, zi), (so, zo) = per_tensor_qparams(x), per_tensor_qparams(y)
    alpha = float(ctx.op.options.get("Alpha", 0.2))
    if alpha < 0:
        raise UnsupportedLayer(f"negative alpha {alpha}")
    a_mult, a_shift = qm.quantize_multiplier(qm.f32(np.float32(si) * np.float32(alpha) / np.float32(so)))
    i_mult, i_shift = qm.requantize_params(si, so)
    p = ctx.struct("kiln_act_leaky_s8_params_t", dict(
        n=x.size, in_zp=zi, out_zp=zo, id_mult=i_mult, id_shift=i_shift,
        alpha_mult=a_mult, alpha_shift=a_shift))
    return LayerCode(ctx.decls, f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});")


def _abs(ctx: LayerContext) -> LayerCode:
    x, y = ctx.t(0), ctx.t(0, outputs=True)
    (si, zi), (so, zo) = per_tensor_qparams(x), per_tensor_qparams(y)
    rescale = qm.f32(si) != qm.f32(so)
    m, s = qm.requantize_params(si, so) if rescale else (0, 0)
    p = ctx.struct("kiln_ew_unary_s8_params_t", dict(n=y.size, in_zp=zi, out_zp=zo, mult=m, shift=s,
                                                     rescale=int(rescale)))
    return LayerCode(ctx.decls, f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});")


def _rsqrt(ctx: LayerContext) -> LayerCode:
    """kiln_rsqrt_s8's parameters: QM(1 / (sqrt(in_scale) * out_scale))."""
    x, y = ctx.t(0), ctx.t(0, outputs=True)
    (si, zi), (so, zo) = per_tensor_qparams(x), per_tensor_qparams(y)
    m, s = qm.quantize_multiplier(1.0 / (math.sqrt(qm.f32(si)) * qm.f32(so)))
    if s - 20 < -31:
        raise UnsupportedLayer("the output scale is too large for the reference's RSQRT arithmetic")
    p = ctx.struct("kiln_ew_unary_s8_params_t", dict(n=y.size, in_zp=zi, out_zp=zo, mult=m, shift=s,
                                                     rescale=0))
    return LayerCode(ctx.decls, f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});")


def _resize_nearest(ctx: LayerContext) -> LayerCode:
    """spatial's nearest-neighbour source tables; pixels of two-byte values."""
    x, y = ctx.t(0), ctx.t(0, outputs=True)
    _same_qparams(x, y)
    ac, hp = bool(ctx.op.options.get("AlignCorners")), bool(ctx.op.options.get("HalfPixelCenters"))
    b, ih, iw, c = (int(d) for d in x.shape)
    _, oh, ow, _ = (int(d) for d in y.shape)
    p = ctx.struct("kiln_resize_nearest_params_t", dict(
        batches=b, in_h=ih, in_w=iw, out_h=oh, out_w=ow, c=c, elem_bytes=2,
        ys=ctx.array("ys", "uint16_t", spatial.nearest_sources(ih, oh, ac, hp)),
        xs=ctx.array("xs", "uint16_t", spatial.nearest_sources(iw, ow, ac, hp))))
    return LayerCode(ctx.decls, f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});")


# ---- pooling ---------------------------------------------------------------------------

def _pool(ctx: LayerContext) -> LayerCode:
    x, y = ctx.t(0), ctx.t(0, outputs=True)
    if per_tensor_qparams(x) != per_tensor_qparams(y):
        raise UnsupportedLayer("input and output quantization differ")
    lo, hi = _act_range(ctx.op, y)
    p = ctx.struct("kiln_pool_params_t", dict(g=Geometry.of(ctx.graph, ctx.op).c_init(),
                                              act_min=lo, act_max=hi))
    return LayerCode(ctx.decls, f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});")


# ---- data movement ---------------------------------------------------------------------

def _same_qparams(x: Tensor, y: Tensor) -> None:
    (sx, zx), (sy, zy) = per_tensor_qparams(x), per_tensor_qparams(y)
    if qm.f32(sx) != qm.f32(sy) or zx != zy:
        raise UnsupportedLayer(f"{x.describe()} and {y.describe()} are quantized differently; "
                               "int16 data movement copies values")


def _copy_call(ctx: LayerContext, x: Tensor, y: Tensor, idx: np.ndarray, k: int = 0) -> str:
    """One kiln_strided_copy of movement's index map `idx` (two bytes an element):
    its parameter struct (suffix k) declared, its call returned."""
    if int(np.prod(y.shape, dtype=np.int64)) != idx.size:
        raise UnsupportedLayer(f"output {y.describe()} does not hold the {idx.size} elements the "
                               "operator computes")
    if idx.size and (idx.min() < 0 or idx.max() >= x.size):
        raise UnsupportedLayer("the index map leaves the input")
    _same_qparams(x, y)
    shape, strides, start = movement.affine_map(idx)
    name = f"{ctx.prefix}_p{k}"
    body = ",\n".join(f"    .{f} = {fmt(v)}" for f, v in
                      dict(out_shape=shape, in_stride=strides, start=start, elem_bytes=2).items())
    ctx.decls.append(f"static const kiln_strided_copy_params_t {name} = {{\n{body}\n}};")
    return f"{ctx.func}(&{name}, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});"


def _copy(ctx: LayerContext) -> LayerCode:
    """TRANSPOSE, SLICE, STRIDED_SLICE, REVERSE_V2, BROADCAST_TO: movement's index map."""
    idx = movement._MAPS[ctx.op.op](ctx.graph, ctx.op)
    return LayerCode(ctx.decls, _copy_call(ctx, ctx.t(0), ctx.t(0, outputs=True), idx))


def _split(ctx: LayerContext) -> LayerCode:
    """SPLIT, SPLIT_V, UNPACK: one strided copy per output."""
    x, parts = movement._split_parts(ctx.graph, ctx.op)
    outs = [ctx.t(k, outputs=True) for k in range(len(ctx.op.outputs))]
    if len(outs) != len(parts) or any(t is None for t in outs):
        raise UnsupportedLayer(f"{len(parts)} parts for {len(outs)} outputs")
    calls = [_copy_call(ctx, x, y, idx, k) for k, (y, idx) in enumerate(zip(outs, parts, strict=True))]
    return LayerCode(ctx.decls, "\n    ".join(calls))


def _concat(ctx: LayerContext) -> LayerCode:
    """CONCATENATION, and PACK (stacking along a new axis is concatenating rows of
    the inputs' elements from that axis on): kiln_concat, two bytes an element."""
    y = ctx.t(0, outputs=True)
    if _act(ctx.op) != "NONE":
        raise UnsupportedLayer("fused activation on CONCATENATION")
    axis = int(ctx.op.options.get("Axis", 0))
    axis = axis + len(y.shape) if axis < 0 else axis
    ins = [ctx.graph.tensors[i] for i in ctx.op.inputs]
    for t in ins:
        _same_qparams(t, y)
    outer = int(np.prod(y.shape[:axis], dtype=np.int64))
    inner = [int(np.prod(t.shape[axis:], dtype=np.int64)) for t in ins]
    if any(t.size != outer * n for t, n in zip(ins, inner, strict=True)) or outer * sum(inner) != y.size:
        raise UnsupportedLayer("the inputs' shapes do not fill the output along the axis")
    ptrs = ", ".join(f"(const void *){ctx.ptr(t)}" for t in ins)
    ctx.decls.append(f"static const void *const {ctx.prefix}_in[{len(ins)}] = {{{ptrs}}};")
    p = ctx.struct("kiln_concat_params_t", dict(
        outer=outer, n_inputs=len(ins),
        inner=ctx.array("inner", "uint32_t", inner), in_offset="NULL", mult="NULL", shift="NULL",
        out_offset=0, elem_bytes=2))
    return LayerCode(ctx.decls, f"{ctx.func}({p}, {ctx.prefix}_in, {ctx.ptr(y, const=False)});",
                     0, ctx.weight_bytes)


def _pad(ctx: LayerContext) -> LayerCode:
    x, pads, y = ctx.t(0), ctx.t(1), ctx.t(0, outputs=True)
    if pads is None or not pads.is_const:
        raise UnsupportedLayer("paddings must be constant")
    pads = np.asarray(pads.data).reshape(-1, 2)
    if np.any(pads < 0) or len(pads) > 4:
        raise UnsupportedLayer("negative padding or rank above 4")
    _same_qparams(x, y)
    value = per_tensor_qparams(y)[1]
    cval = ctx.t(2)
    if cval is not None:
        if not cval.is_const:
            raise UnsupportedLayer("the pad value must be constant")
        value = int(np.asarray(cval.data).ravel()[0])
    before = [0] * (4 - len(pads)) + [int(v) for v in pads[:, 0]]
    shapes = pad_rows(_shape4(x.shape), _shape4(y.shape), before)
    p = ctx.struct("kiln_pad_params_t", dict(zip(("in_shape", "out_shape", "before"), shapes, strict=True),
                                             pad_value=value, elem_bytes=2))
    return LayerCode(ctx.decls, f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});")


def _shape4(shape: tuple[int, ...]) -> list[int]:
    if len(shape) > 4:
        raise UnsupportedLayer(f"rank {len(shape)} above 4")
    return [1] * (4 - len(shape)) + [int(d) for d in shape]


def _reduce(ctx: LayerContext) -> LayerCode:
    """MEAN and SUM: movement's loops, the int8 recipe of kiln_reduce_s8."""
    x, y = ctx.t(0), ctx.t(0, outputs=True)
    axes = movement._reduce_axes(ctx.graph, ctx.op)
    rank = len(x.shape)
    out_shape, out_stride = movement._loops(x.shape, [d for d in range(rank) if d not in axes])
    red_shape, red_stride = movement._loops(x.shape, axes)
    count = int(np.prod(red_shape, dtype=np.int64))
    if y.size != int(np.prod(out_shape, dtype=np.int64)):
        raise UnsupportedLayer(f"output {y.describe()} does not match the reduced size")
    if count * 32768 > (1 << 31) - 1:
        raise UnsupportedLayer("too many elements for the int32 sum")
    (si, zi), (so, zo) = per_tensor_qparams(x), per_tensor_qparams(y)
    m, s = qm.requantize_params(si, so)
    if ctx.op.op == "MEAN":
        m, s = movement.mean_multiplier(m, s, count)
    p = ctx.struct("kiln_reduce_params_t", dict(
        out_shape=out_shape, out_stride=out_stride, red_shape=red_shape, red_stride=red_stride,
        count=count, kind=0 if ctx.op.op == "MEAN" else 1, in_offset=-zi, out_offset=zo,
        mult=m, shift=s))
    return LayerCode(ctx.decls, f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});")


def _reduce_accepts(g: Graph, op: Operator) -> bool:
    x = g.tensors[op.inputs[0]]
    axes = movement._reduce_axes(g, op)
    movement._loops(x.shape, [d for d in range(len(x.shape)) if d not in axes])
    movement._loops(x.shape, axes)
    return True


# ---- QUANTIZE / DEQUANTIZE -------------------------------------------------------------

def _quant(ctx: LayerContext) -> LayerCode:
    """kiln_quant_params_t, built as for the portable directions (codegen/portable.py):
    the float side's scale and zero point, or the requantization between integers.
    A builder of this module, so the family's tests count its directions as its own."""
    return _portable_quant(ctx)


def _quant_accepts(g: Graph, op: Operator) -> bool:
    x, y = g.tensors[op.inputs[0]], g.tensors[op.outputs[0]]
    if x.size != y.size:
        raise UnsupportedLayer("input and output differ in size")
    return True


QUANT_DIRECTIONS = [
    ("QUANTIZE", "float32->int16", "kiln_quantize_f32_s16"),
    ("QUANTIZE", "int8->int16", "kiln_requantize_s8_s16"),
    ("QUANTIZE", "int16->int8", "kiln_requantize_s16_s8"),
    ("QUANTIZE", "int16->int16", "kiln_requantize_s16_s16"),
    ("QUANTIZE", "int8->int32", "kiln_requantize_s8_s32"),
    ("QUANTIZE", "int16->int32", "kiln_requantize_s16_s32"),
    ("QUANTIZE", "int32->int8", "kiln_requantize_s32_s8"),
    ("QUANTIZE", "int32->int16", "kiln_requantize_s32_s16"),
    ("DEQUANTIZE", "uint8->float32", "kiln_dequantize_u8_f32"),
    ("DEQUANTIZE", "int16->float32", "kiln_dequantize_s16_f32"),
]


def _register() -> None:
    for op, dt, func in QUANT_DIRECTIONS:
        register(KernelImpl(op=op, dtype=dt, func=func, build=_quant, accepts=_quant_accepts,
                            header=HEADER))
    for op, func, build, acc in [
        ("CONV_2D", "kiln_conv2d_s16", lambda c: _conv(c, False), None),
        ("DEPTHWISE_CONV_2D", "kiln_dwconv2d_s16", lambda c: _conv(c, True), None),
        ("FULLY_CONNECTED", "kiln_fc_s16", _fc, None),
        ("TRANSPOSE_CONV", "kiln_transpose_conv_s16", _tconv, spatial._tconv_accepts),
        ("ADD", "kiln_add_s16", _binary, _binary_accepts),
        ("SUB", "kiln_sub_s16", _binary, _binary_accepts),
        ("MUL", "kiln_mul_s16", _binary, _binary_accepts),
        ("SQUARED_DIFFERENCE", "kiln_squared_difference_s16", _binary, _binary_accepts),
        ("MAXIMUM", "kiln_maximum_s16", _binary, _binary_accepts),
        ("MINIMUM", "kiln_minimum_s16", _binary, _binary_accepts),
        ("SOFTMAX", "kiln_softmax_s16", _softmax, None),
        ("LOGISTIC", "kiln_logistic_s16", _sigmoid, None),
        ("TANH", "kiln_tanh_s16", _sigmoid, None),
        ("RELU", "kiln_relu_s16", _relu, None),
        ("RELU6", "kiln_clamp_s16", _relu6, None),
        ("LEAKY_RELU", "kiln_leaky_relu_s16", _leaky, None),
        ("ABS", "kiln_abs_s16", _abs, None),
        ("RSQRT", "kiln_rsqrt_s16", _rsqrt, None),
        ("MAX_POOL_2D", "kiln_maxpool_s16", _pool, None),
        ("AVERAGE_POOL_2D", "kiln_avgpool_s16", _pool, None),
        ("MEAN", "kiln_reduce_s16", _reduce, _reduce_accepts),
        ("SUM", "kiln_reduce_s16", _reduce, _reduce_accepts),
    ]:
        register(KernelImpl(op=op, dtype=S16, func=func, build=build, header=HEADER,
                            **({"accepts": acc} if acc else {})))
    # byte-moving kernels of kiln/kernels.h and kiln/ops/movement.h, two bytes an element
    for op in ("CONCATENATION", "PACK"):
        register(KernelImpl(op=op, dtype=S16, func="kiln_concat", build=_concat))
    register(KernelImpl(op="PAD", dtype=S16, func="kiln_pad", build=_pad))
    for op in ("TRANSPOSE", "SLICE", "STRIDED_SLICE", "REVERSE_V2", "BROADCAST_TO"):
        register(KernelImpl(op=op, dtype=S16, func="kiln_strided_copy", build=_copy,
                            accepts=movement._map_accepts, header="kiln/ops/movement.h"))
    register(KernelImpl(op="RESIZE_NEAREST_NEIGHBOR", dtype=S16, func="kiln_resize_nearest",
                        build=_resize_nearest, accepts=spatial._resize_accepts,
                        header="kiln/ops/spatial.h"))
    for op in ("SPLIT", "SPLIT_V", "UNPACK"):
        register(KernelImpl(op=op, dtype=S16, func="kiln_strided_copy", build=_split,
                            accepts=movement._split_accepts, header="kiln/ops/movement.h"))


_register()
