"""Builders for the portable kernels of firmware/runtime/portable/ (kernels.h).

Each builder turns one operator into a const parameter struct with every
value precomputed (kiln.quantmath) and the call of its kernel.
"""

from __future__ import annotations

import numpy as np

from kiln import quantmath as qm
from kiln.codegen.context import LayerContext
from kiln.codegen.geometry import Geometry
from kiln.codegen.registry import KernelImpl, LayerCode, UnsupportedLayer, per_tensor_qparams, register
from kiln.ir import Graph, Operator, Tensor


def _act(op: Operator) -> str:
    return op.options.get("FusedActivationFunction", "NONE")


def _shape4(shape: tuple[int, ...]) -> list[int]:
    """Right-align a shape into 4-D with leading 1s."""
    if len(shape) > 4:
        raise UnsupportedLayer(f"rank {len(shape)} above 4")
    return [1] * (4 - len(shape)) + [int(d) for d in shape]


def _per_channel_ok(w: Tensor, channels: int, axis: int) -> None:
    if not w.quantized:
        raise UnsupportedLayer(f"weights {w.describe()} are not quantized")
    if len(w.scale) not in (1, channels) or (len(w.scale) > 1 and w.quantized_dimension != axis):
        raise UnsupportedLayer(f"weights {w.describe()} have an unsupported quantization axis")
    if np.any(w.zero_point != 0):
        raise UnsupportedLayer(f"weights {w.describe()} are not symmetric (zero point != 0)")


# ---- convolutions ------------------------------------------------------------

def _conv_s8(ctx: LayerContext, depthwise: bool) -> LayerCode:
    x, w, b, y = ctx.t(0), ctx.t(1), ctx.t(2), ctx.t(0, outputs=True)
    geo = Geometry.of(ctx.graph, ctx.op)
    oc = geo.out_c
    _per_channel_ok(w, oc, 3 if depthwise else 0)
    in_s, in_zp = per_tensor_qparams(x)
    out_s, out_zp = per_tensor_qparams(y)
    mult, shift = qm.conv_multipliers(in_s, w.scale, out_s, oc)
    lo, hi = qm.activation_range(_act(ctx.op), out_s, out_zp)
    if b is not None and (b.dtype != "int32" or not b.is_const):
        raise UnsupportedLayer("bias is not a constant int32 tensor")
    fields = dict(g=geo.c_init(), depth_mult=geo.depth_mult, in_offset=-in_zp, out_offset=out_zp,
                  act_min=lo, act_max=hi,
                  mult=ctx.array("mult", "int32_t", mult), shift=ctx.array("shift", "int32_t", shift))
    p = ctx.struct("kiln_conv_s8_params_t", fields)
    call = f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(w)}, {ctx.ptr(b)}, {ctx.ptr(y, const=False)});"
    return LayerCode(ctx.decls, call, geo.macs(depthwise), ctx.weight_bytes)


def _conv_f32(ctx: LayerContext, depthwise: bool) -> LayerCode:
    x, w, b, y = ctx.t(0), ctx.t(1), ctx.t(2), ctx.t(0, outputs=True)
    geo = Geometry.of(ctx.graph, ctx.op)
    if w.dtype != "float32" or (b is not None and b.dtype != "float32"):
        raise UnsupportedLayer("float convolution with non-float weights (hybrid models are not supported)")
    lo, hi = qm.activation_range_float(_act(ctx.op))
    p = ctx.struct("kiln_conv_f32_params_t", dict(g=geo.c_init(), depth_mult=geo.depth_mult,
                                                  act_min=lo, act_max=hi))
    call = f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(w)}, {ctx.ptr(b)}, {ctx.ptr(y, const=False)});"
    return LayerCode(ctx.decls, call, geo.macs(depthwise), ctx.weight_bytes)


# ---- fully connected ---------------------------------------------------------

def _fc_dims(ctx: LayerContext) -> tuple[int, int, int]:
    x, w, y = ctx.t(0), ctx.t(1), ctx.t(0, outputs=True)
    if w is None or not w.is_const or len(w.shape) != 2:
        raise UnsupportedLayer("weights must be a constant 2-D tensor")
    if ctx.op.options.get("WeightsFormat", 0) != 0:
        raise UnsupportedLayer("shuffled weights format")
    out_n, in_n = w.shape
    if x.size % in_n:
        raise UnsupportedLayer("input size is not a multiple of the weights' input size")
    batches = x.size // in_n
    if y.size != batches * out_n:
        raise UnsupportedLayer("output size does not match batches x units")
    return batches, in_n, out_n


def _fc_s8(ctx: LayerContext) -> LayerCode:
    x, w, b, y = ctx.t(0), ctx.t(1), ctx.t(2), ctx.t(0, outputs=True)
    batches, in_n, out_n = _fc_dims(ctx)
    _per_channel_ok(w, out_n, 0)
    in_s, in_zp = per_tensor_qparams(x)
    out_s, out_zp = per_tensor_qparams(y)
    per_channel = len(w.scale) > 1
    if per_channel:
        mult, shift = qm.conv_multipliers(in_s, w.scale, out_s, out_n)
    else:
        m, s = qm.fc_multiplier(in_s, float(w.scale[0]), out_s)
        mult, shift = [m], [s]
    lo, hi = qm.activation_range(_act(ctx.op), out_s, out_zp)
    p = ctx.struct("kiln_fc_s8_params_t", dict(
        batches=batches, in_n=in_n, out_n=out_n, in_offset=-in_zp, out_offset=out_zp,
        act_min=lo, act_max=hi, per_channel=int(per_channel),
        mult=ctx.array("mult", "int32_t", mult), shift=ctx.array("shift", "int32_t", shift)))
    call = f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(w)}, {ctx.ptr(b)}, {ctx.ptr(y, const=False)});"
    return LayerCode(ctx.decls, call, batches * in_n * out_n, ctx.weight_bytes)


def _fc_f32(ctx: LayerContext) -> LayerCode:
    x, w, b, y = ctx.t(0), ctx.t(1), ctx.t(2), ctx.t(0, outputs=True)
    batches, in_n, out_n = _fc_dims(ctx)
    if w.dtype != "float32":
        raise UnsupportedLayer("float FULLY_CONNECTED with non-float weights (hybrid models are "
                               "not supported)")
    lo, hi = qm.activation_range_float(_act(ctx.op))
    p = ctx.struct("kiln_fc_f32_params_t", dict(batches=batches, in_n=in_n, out_n=out_n,
                                                act_min=lo, act_max=hi))
    call = f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(w)}, {ctx.ptr(b)}, {ctx.ptr(y, const=False)});"
    return LayerCode(ctx.decls, call, batches * in_n * out_n, ctx.weight_bytes)


# ---- pooling -----------------------------------------------------------------

def _pool_s8(ctx: LayerContext) -> LayerCode:
    x, y = ctx.t(0), ctx.t(0, outputs=True)
    if per_tensor_qparams(x) != per_tensor_qparams(y):
        raise UnsupportedLayer("input and output quantization differ")
    lo, hi = qm.activation_range(_act(ctx.op), *per_tensor_qparams(y))
    p = ctx.struct("kiln_pool_params_t", dict(g=Geometry.of(ctx.graph, ctx.op).c_init(),
                                              act_min=lo, act_max=hi))
    return LayerCode(ctx.decls, f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});")


def _pool_f32(ctx: LayerContext) -> LayerCode:
    x, y = ctx.t(0), ctx.t(0, outputs=True)
    lo, hi = qm.activation_range_float(_act(ctx.op))
    p = ctx.struct("kiln_pool_f32_params_t", dict(g=Geometry.of(ctx.graph, ctx.op).c_init(),
                                                  act_min=lo, act_max=hi))
    return LayerCode(ctx.decls, f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});")


# ---- elementwise binary ------------------------------------------------------

def broadcast_strides(shape: tuple[int, ...] | list[int], out_shape: list[int]) -> list[int] | None:
    """The element strides of an input of `shape` walked in the order of `out_shape`'s
    indices (right-aligned: 0 where it broadcasts, or on an axis of size 1), or None when
    it does not broadcast to out_shape."""
    rank = len(out_shape)
    s = [1] * (rank - len(shape)) + [int(n) for n in shape]
    if len(s) != rank:
        return None
    st, acc = [0] * rank, 1
    for d in range(rank - 1, -1, -1):
        if s[d] == out_shape[d]:
            st[d] = acc if s[d] > 1 else 0
        elif s[d] != 1:
            return None
        acc *= s[d]
    return st


def broadcast_loops(a_shape: list[int], b_shape: list[int], out_shape: list[int]) -> dict:
    """The four loops (out_shape, a_stride, b_stride; element strides, 0 where an input
    broadcasts) of a binary kernel: axes of size 1 dropped and neighbours that both inputs
    walk alike merged, so that higher ranks fit (a converter's rank-5 MUL of two equal
    shapes is one loop). UnsupportedLayer when the shapes do not broadcast or more than
    four loops remain."""
    rank = len(out_shape)
    strides = [broadcast_strides(shape, out_shape) for shape in (a_shape, b_shape)]
    if strides[0] is None or strides[1] is None:
        raise UnsupportedLayer(f"shapes {list(a_shape)} and {list(b_shape)} do not broadcast "
                               f"to {list(out_shape)}")
    loops: list[list[int]] = []
    for d in range(rank):
        n, sa, sb = int(out_shape[d]), strides[0][d], strides[1][d]
        if n == 1:
            continue
        if loops and loops[-1][1] == sa * n and loops[-1][2] == sb * n:
            loops[-1] = [loops[-1][0] * n, sa, sb]
        else:
            loops.append([n, sa, sb])
    if len(loops) > 4:
        raise UnsupportedLayer(f"the broadcast needs {len(loops)} loops; the kernel has 4")
    loops = [[1, 0, 0]] * (4 - len(loops)) + loops
    return {"out_shape": [n for n, _, _ in loops], "a_stride": [a for _, a, _ in loops],
            "b_stride": [b for _, _, b in loops]}


def _broadcast(ctx: LayerContext) -> dict:
    a, b, y = ctx.t(0), ctx.t(1), ctx.t(0, outputs=True)
    return broadcast_loops(a.shape, b.shape, y.shape)


def _binary_s8(ctx: LayerContext) -> LayerCode:
    a, b, y = ctx.t(0), ctx.t(1), ctx.t(0, outputs=True)
    (sa, za), (sb, zb), (so, zo) = per_tensor_qparams(a), per_tensor_qparams(b), per_tensor_qparams(y)
    q = qm.add_params(sa, sb, so) if ctx.op.op == "ADD" else qm.mul_params(sa, sb, so)
    lo, hi = qm.activation_range(_act(ctx.op), so, zo)
    p = ctx.struct("kiln_binary_s8_params_t", dict(_broadcast(ctx), a_offset=-za, b_offset=-zb,
                                                   out_offset=zo, **q, act_min=lo, act_max=hi))
    call = f"{ctx.func}({p}, {ctx.ptr(a)}, {ctx.ptr(b)}, {ctx.ptr(y, const=False)});"
    return LayerCode(ctx.decls, call, 0, ctx.weight_bytes)


def _add_f32(ctx: LayerContext) -> LayerCode:
    a, b, y = ctx.t(0), ctx.t(1), ctx.t(0, outputs=True)
    lo, hi = qm.activation_range_float(_act(ctx.op))
    p = ctx.struct("kiln_binary_f32_params_t", dict(_broadcast(ctx), act_min=lo, act_max=hi))
    call = f"{ctx.func}({p}, {ctx.ptr(a)}, {ctx.ptr(b)}, {ctx.ptr(y, const=False)});"
    return LayerCode(ctx.decls, call, 0, ctx.weight_bytes)


# ---- softmax -----------------------------------------------------------------

def _softmax_dims(ctx: LayerContext) -> tuple[int, int]:
    x = ctx.t(0)
    depth = int(x.shape[-1]) if x.shape else 1
    return x.size // depth, depth


def softmax_s8_params(ctx: LayerContext) -> dict:
    """int8 SOFTMAX: rows, depth and qm.softmax_params, or UnsupportedLayer."""
    so, zo = per_tensor_qparams(ctx.t(0, outputs=True))
    if zo != -128 or abs(so - 1.0 / 256) > 1e-9:
        raise UnsupportedLayer("int8 softmax output must have scale 1/256 and zero point -128")
    rows, depth = _softmax_dims(ctx)
    q = qm.softmax_params(ctx.op.options.get("Beta", 1.0), per_tensor_qparams(ctx.t(0))[0])
    return dict(rows=rows, depth=depth, **q)


def _softmax_s8(ctx: LayerContext) -> LayerCode:
    x, y = ctx.t(0), ctx.t(0, outputs=True)
    p = ctx.struct("kiln_softmax_s8_params_t", softmax_s8_params(ctx))
    return LayerCode(ctx.decls, f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});")


def _softmax_f32(ctx: LayerContext) -> LayerCode:
    x, y = ctx.t(0), ctx.t(0, outputs=True)
    rows, depth = _softmax_dims(ctx)
    p = ctx.struct("kiln_softmax_f32_params_t",
                   dict(rows=rows, depth=depth, beta=float(ctx.op.options.get("Beta", 1.0))))
    return LayerCode(ctx.decls, f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});")


# ---- pad, concatenation, mean --------------------------------------------------

def pad_rows(in_shape: list[int], out_shape: list[int], before: list[int]) -> tuple[list, list, list]:
    """PAD's 4-D shapes with unpadded innermost dimensions merged into the one above
    (a 2-D padding of NHWC pads [h][w * c] rows): kiln_pad copies whole rows, so the
    longer its rows the fewer calls."""
    i, o, b = list(in_shape), list(out_shape), list(before)
    while i[3] == o[3] and (i[:3] != [1, 1, 1] or o[:3] != [1, 1, 1]):
        i = [1, i[0], i[1], i[2] * i[3]]
        b = [0, b[0], b[1], b[2] * o[3]]
        o = [1, o[0], o[1], o[2] * o[3]]
    return i, o, b


def _pad(ctx: LayerContext) -> LayerCode:
    x, pads, y = ctx.t(0), ctx.t(1), ctx.t(0, outputs=True)
    if pads is None or not pads.is_const:
        raise UnsupportedLayer("paddings must be constant")
    pads = np.asarray(pads.data).reshape(-1, 2)
    if np.any(pads < 0):
        raise UnsupportedLayer("negative padding")
    before = [0] * (4 - len(pads)) + [int(v) for v in pads[:, 0]]
    value = 0
    if x.dtype == "int8":
        value = per_tensor_qparams(y)[1]
        cval = ctx.t(2)
        if cval is not None:
            if not cval.is_const:
                raise UnsupportedLayer("the pad value must be constant")
            value = int(np.asarray(cval.data).ravel()[0])
        if per_tensor_qparams(x) != per_tensor_qparams(y):
            raise UnsupportedLayer("input and output quantization differ")
    elif ctx.t(2) is not None:
        if not ctx.t(2).is_const:
            raise UnsupportedLayer("the pad value must be constant")
        value = int(np.asarray(ctx.t(2).data, dtype=np.float32).ravel()[:1].view(np.int32)[0])
    shapes = pad_rows(_shape4(x.shape), _shape4(y.shape), before)
    p = ctx.struct("kiln_pad_params_t", dict(zip(("in_shape", "out_shape", "before"), shapes, strict=True),
                                             pad_value=value, elem_bytes=4 if x.dtype == "float32" else 1))
    return LayerCode(ctx.decls, f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});")


def concat_rows(ctx: LayerContext) -> tuple[list[Tensor], int, list[int]]:
    """A CONCATENATION's inputs, its rows (`outer`) and each input's elements per row,
    or UnsupportedLayer."""
    y = ctx.t(0, outputs=True)
    if _act(ctx.op) != "NONE":
        raise UnsupportedLayer("fused activation on CONCATENATION")
    axis = int(ctx.op.options.get("Axis", 0))
    rank = len(y.shape)
    axis = axis + rank if axis < 0 else axis
    ins = [ctx.graph.tensors[i] for i in ctx.op.inputs]
    outer = int(np.prod(y.shape[:axis], dtype=np.int64))
    inner = [int(np.prod(t.shape[axis:], dtype=np.int64)) for t in ins]
    return ins, outer, inner


def concat_requant(ctx: LayerContext) -> tuple[list[tuple[int, int, int] | None], int]:
    """An int8 CONCATENATION's (input offset, multiplier, shift) per input, None where
    the input's quantization is the output's (a plain copy); and the output zero point."""
    so, zo = per_tensor_qparams(ctx.t(0, outputs=True))
    params: list[tuple[int, int, int] | None] = []
    for i in ctx.op.inputs:
        s, z = per_tensor_qparams(ctx.graph.tensors[i])
        if qm.f32(s) == qm.f32(so) and z == zo:
            params.append(None)
        else:
            m, sh = qm.requantize_params(s, so)
            params.append((-z, m, sh))
    return params, zo


def _concat(ctx: LayerContext) -> LayerCode:
    y = ctx.t(0, outputs=True)
    ins, outer, inner = concat_rows(ctx)
    fields = dict(outer=outer, n_inputs=len(ins), inner=ctx.array("inner", "uint32_t", inner),
                  in_offset="NULL", mult="NULL", shift="NULL", out_offset=0,
                  elem_bytes=4 if y.dtype == "float32" else 1)
    if y.dtype == "int8":
        params, zo = concat_requant(ctx)
        if any(params):
            rq = [q or (0, 0, 0) for q in params]
            fields.update(in_offset=ctx.array("in_offset", "int32_t", [q[0] for q in rq]),
                          mult=ctx.array("mult", "int32_t", [q[1] for q in rq]),
                          shift=ctx.array("shift", "int32_t", [q[2] for q in rq]), out_offset=zo)
    ptrs = ", ".join(f"(const void *){ctx.ptr(t)}" for t in ins)
    ctx.decls.append(f"static const void *const {ctx.prefix}_in[{len(ins)}] = {{{ptrs}}};")
    p = ctx.struct("kiln_concat_params_t", fields)
    return LayerCode(ctx.decls, f"{ctx.func}({p}, {ctx.prefix}_in, {ctx.ptr(y, const=False)});",
                     0, ctx.weight_bytes)


def _mean_accepts(g: Graph, op: Operator) -> bool:
    x, axis = g.tensors[op.inputs[0]], g.tensors[op.inputs[1]]
    if not axis.is_const:
        raise UnsupportedLayer("the reduction axes must be constant")
    axes = sorted({int(a) % 4 for a in np.asarray(axis.data).ravel()}) if len(x.shape) == 4 else None
    if axes != [1, 2] or x.shape[0] != 1:
        raise UnsupportedLayer("only the mean over the spatial axes (1, 2) of a 4-D NHWC tensor "
                               "with batch 1 is supported")
    return True


def _mean_s8(ctx: LayerContext) -> LayerCode:
    x, y = ctx.t(0), ctx.t(0, outputs=True)
    _, h, w, c = x.shape
    (si, zi), (so, zo) = per_tensor_qparams(x), per_tensor_qparams(y)
    q = qm.mean_params(si, zi, so, zo, h * w)
    p = ctx.struct("kiln_mean_s8_params_t", dict(h=h, w=w, c=c, count=q["count"], in_offset=-zi,
                                                 out_offset=zo, mult=q["mult"], shift=q["shift"],
                                                 same_qparams=q["same_qparams"]))
    return LayerCode(ctx.decls, f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});")


def _mean_f32(ctx: LayerContext) -> LayerCode:
    x, y = ctx.t(0), ctx.t(0, outputs=True)
    _, h, w, c = x.shape
    p = ctx.struct("kiln_mean_f32_params_t", dict(h=h, w=w, c=c))
    return LayerCode(ctx.decls, f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});")


# ---- quantize / dequantize ---------------------------------------------------------

def quant_fields(ctx: LayerContext) -> dict:
    """QUANTIZE / DEQUANTIZE: the fields of kiln_quant_params_t (float scale and zero
    point at a float edge, else the requantization between the two tensors)."""
    x, y = ctx.t(0), ctx.t(0, outputs=True)
    f = dict(n=x.size, scale=0.0, zero_point=0, in_offset=0, mult=0, shift=0, out_offset=0)
    if x.dtype == "float32":
        f.update(scale=per_tensor_qparams(y)[0], zero_point=per_tensor_qparams(y)[1])
    elif y.dtype == "float32":
        f.update(scale=per_tensor_qparams(x)[0], zero_point=per_tensor_qparams(x)[1])
    else:
        (si, zi), (so, zo) = per_tensor_qparams(x), per_tensor_qparams(y)
        m, s = qm.requantize_params(si, so)
        f.update(in_offset=-zi, mult=m, shift=s, out_offset=zo)
    return f


def _quant(ctx: LayerContext) -> LayerCode:
    x, y = ctx.t(0), ctx.t(0, outputs=True)
    p = ctx.struct("kiln_quant_params_t", quant_fields(ctx))
    return LayerCode(ctx.decls, f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});")


def _binary_accepts(g: Graph, op: Operator) -> bool:
    if len(op.inputs) != 2:
        raise UnsupportedLayer("needs two inputs")
    a, b, y = (g.tensors[t] for t in (*op.inputs, op.outputs[0]))
    broadcast_loops(a.shape, b.shape, y.shape)
    return True


def _register() -> None:
    s8, f32 = "int8", "float32"
    for op, dt, func, build, acc in [
        ("CONV_2D", s8, "kiln_conv2d_s8", lambda c: _conv_s8(c, False), None),
        ("DEPTHWISE_CONV_2D", s8, "kiln_dwconv2d_s8", lambda c: _conv_s8(c, True), None),
        ("FULLY_CONNECTED", s8, "kiln_fc_s8", _fc_s8, None),
        ("MAX_POOL_2D", s8, "kiln_maxpool_s8", _pool_s8, None),
        ("AVERAGE_POOL_2D", s8, "kiln_avgpool_s8", _pool_s8, None),
        ("ADD", s8, "kiln_add_s8", _binary_s8, _binary_accepts),
        ("MUL", s8, "kiln_mul_s8", _binary_s8, _binary_accepts),
        ("SOFTMAX", s8, "kiln_softmax_s8", _softmax_s8, None),
        ("PAD", s8, "kiln_pad", _pad, None),
        ("PADV2", s8, "kiln_pad", _pad, None),
        ("CONCATENATION", s8, "kiln_concat", _concat, None),
        ("MEAN", s8, "kiln_mean_s8", _mean_s8, _mean_accepts),
        ("QUANTIZE", "float32->int8", "kiln_quantize_f32_s8", _quant, None),
        ("QUANTIZE", "int8->int8", "kiln_requantize_s8_s8", _quant, None),
        ("DEQUANTIZE", "int8->float32", "kiln_dequantize_s8_f32", _quant, None),
        # uint8 model edges (ST model zoo): int8 inside, requantized at the input and output.
        ("QUANTIZE", "uint8->int8", "kiln_requantize_u8_s8", _quant, None),
        ("QUANTIZE", "int8->uint8", "kiln_requantize_s8_u8", _quant, None),
        ("CONV_2D", f32, "kiln_conv2d_f32", lambda c: _conv_f32(c, False), None),
        ("DEPTHWISE_CONV_2D", f32, "kiln_dwconv2d_f32", lambda c: _conv_f32(c, True), None),
        ("FULLY_CONNECTED", f32, "kiln_fc_f32", _fc_f32, None),
        ("MAX_POOL_2D", f32, "kiln_maxpool_f32", _pool_f32, None),
        ("AVERAGE_POOL_2D", f32, "kiln_avgpool_f32", _pool_f32, None),
        ("ADD", f32, "kiln_add_f32", _add_f32, _binary_accepts),
        ("MUL", f32, "kiln_mul_f32", _add_f32, _binary_accepts),  # same parameter struct as ADD
        ("MEAN", f32, "kiln_mean_f32", _mean_f32, _mean_accepts),
        ("SOFTMAX", f32, "kiln_softmax_f32", _softmax_f32, None),
        ("PAD", f32, "kiln_pad", _pad, None),
        ("PADV2", f32, "kiln_pad", _pad, None),
        ("CONCATENATION", f32, "kiln_concat", _concat, None),
    ]:
        register(KernelImpl(op=op, dtype=dt, func=func, build=build,
                            **({"accepts": acc} if acc else {})))


_register()
