"""Spatial and matrix operators (kiln/ops/spatial.h, portable/spatial_*.c):
RESIZE_NEAREST_NEIGHBOR, RESIZE_BILINEAR, TRANSPOSE_CONV, L2_NORMALIZATION,
LOG_SOFTMAX and BATCH_MATMUL, int8 and float32; L2_POOL_2D, float32.

The resize builders compute every output row's and column's source
coordinates here, in the reference's own float32 or integer arithmetic, so
the kernels only gather; docs/ops/spatial.md has the recipes.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

import kiln.codegen.portable  # noqa: F401 - registered first, so this module's entries are tried before it
from kiln import quantmath as qm
from kiln.codegen.context import LayerContext
from kiln.codegen.cwriter import c_int
from kiln.codegen.geometry import Geometry
from kiln.codegen.registry import (
    MAX_INT8_DEPTH,
    KernelImpl,
    LayerCode,
    UnsupportedLayer,
    per_tensor_qparams,
    register,
)
from kiln.ir import Graph, Operator

HEADER = "kiln/ops/spatial.h"
f32 = np.float32


# ---- resize -----------------------------------------------------------------------------

def _resize_accepts(g: Graph, op: Operator) -> bool:
    x, y = g.tensors[op.inputs[0]], g.tensors[op.outputs[0]]
    if len(x.shape) != 4 or len(y.shape) != 4:
        raise UnsupportedLayer("resizing needs 4-D NHWC tensors")
    if max(x.shape[1:3]) > 65535:
        raise UnsupportedLayer("input above 65535 rows or columns")
    if x.dtype == "int8" and per_tensor_qparams(x) != per_tensor_qparams(y):
        # The reference copies or interpolates the stored values without requantizing.
        raise UnsupportedLayer("int8 resize with different input and output quantization")
    return True


def nearest_sources(n_in: int, n_out: int, align_corners: bool, half_pixel: bool) -> list[int]:
    """The source index of each output index along one dimension (float32 arithmetic)."""
    if align_corners and n_out > 1:
        scale = f32(n_in - 1) / f32(n_out - 1)
    else:
        scale = f32(n_in) / f32(n_out)
    offset = f32(0.5) if half_pixel else f32(0.0)
    out = []
    for v in range(n_out):
        s = float((f32(v) + offset) * scale)
        src = min(int(qm.round_half_away(s)) if align_corners else math.floor(s), n_in - 1)
        out.append(max(src, 0) if half_pixel else src)
    return out


def _resize_nearest(ctx: LayerContext) -> LayerCode:
    x, y = ctx.t(0), ctx.t(0, outputs=True)
    ac, hp = bool(ctx.op.options.get("AlignCorners")), bool(ctx.op.options.get("HalfPixelCenters"))
    b, ih, iw, c = (int(d) for d in x.shape)
    _, oh, ow, _ = (int(d) for d in y.shape)
    p = ctx.struct("kiln_resize_nearest_params_t", dict(
        batches=b, in_h=ih, in_w=iw, out_h=oh, out_w=ow, c=c,
        elem_bytes=4 if x.dtype == "float32" else 1,
        ys=ctx.array("ys", "uint16_t", nearest_sources(ih, oh, ac, hp)),
        xs=ctx.array("xs", "uint16_t", nearest_sources(iw, ow, ac, hp))))
    return LayerCode(ctx.decls, f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});")


def bilinear_int(n_in: int, n_out: int, align_corners: bool, half_pixel: bool):
    """Per output index: (lower, upper, position in 1/1024 relative to lower), as the
    reference's integer kernel (C's truncating division throughout)."""
    def cdiv(a: int, b: int) -> int:
        q = abs(a) // abs(b)
        return q if (a >= 0) == (b > 0) else -q

    if align_corners and n_out > 1:
        scale = cdiv(1024 * (n_in - 1) + (n_out - 1) // 2, n_out - 1)
    else:
        scale = cdiv(1024 * n_in + n_out // 2, n_out)
    lo, hi, pos = [], [], []
    for v in range(n_out):
        s = v * scale + cdiv(scale, 2) - 512 if half_pixel else v * scale
        low = max(cdiv(s, 1024), 0)
        lo.append(low)
        hi.append(min(cdiv(s + 1023, 1024), n_in - 1))
        pos.append(s - 1024 * low)
    return lo, hi, pos


def bilinear_float(n_in: int, n_out: int, align_corners: bool, half_pixel: bool):
    """Per output index: (lower, upper, float32 position relative to lower), as the
    reference's float kernel."""
    if align_corners and n_out > 1:
        scale = f32(n_in - 1) / f32(n_out - 1)
    else:
        scale = f32(n_in) / f32(n_out)
    lo, hi, pos = [], [], []
    for v in range(n_out):
        s = (f32(v) + f32(0.5)) * scale - f32(0.5) if half_pixel else f32(v) * scale
        low = max(int(math.floor(float(s))), 0)
        lo.append(low)
        hi.append(min(int(math.ceil(float(s))), n_in - 1))
        pos.append(float(s - f32(low)))
    return lo, hi, pos


def _resize_bilinear(ctx: LayerContext) -> LayerCode:
    x, y = ctx.t(0), ctx.t(0, outputs=True)
    ac, hp = bool(ctx.op.options.get("AlignCorners")), bool(ctx.op.options.get("HalfPixelCenters"))
    b, ih, iw, c = (int(d) for d in x.shape)
    _, oh, ow, _ = (int(d) for d in y.shape)
    fields = dict(batches=b, in_h=ih, in_w=iw, out_h=oh, out_w=ow, c=c)
    tables = bilinear_int if x.dtype == "int8" else bilinear_float
    for axis, n_in, n_out in (("y", ih, oh), ("x", iw, ow)):
        lo, hi, pos = tables(n_in, n_out, ac, hp)
        fields[f"{axis}_lo"] = ctx.array(f"{axis}_lo", "uint16_t", lo)
        fields[f"{axis}_hi"] = ctx.array(f"{axis}_hi", "uint16_t", hi)
        if x.dtype == "int8":
            fields[f"{axis}_pos"] = ctx.array(f"{axis}_pos", "int32_t", pos)
        else:
            fields[f"{axis}_fpos"] = ctx.array(f"{axis}_fpos", "float", np.array(pos, dtype=np.float32))
    for k in ("y_pos", "x_pos", "y_fpos", "x_fpos"):
        fields.setdefault(k, "NULL")
    p = ctx.struct("kiln_resize_bilinear_params_t", fields)
    return LayerCode(ctx.decls, f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});")


# ---- transpose convolution ----------------------------------------------------------------

def transpose_conv_padding(out: int, k: int, stride: int, padding: str) -> int:
    """tflite-micro's padding: that of a convolution whose input has the output's size."""
    n = (out + stride - 1) // stride if padding == "SAME" else (out + stride - k) // stride
    return max(0, (n - 1) * stride + k - out) // 2


def transpose_conv_macs(oh: int, ow: int, oc: int, ic: int, kh: int, kw: int, sh: int, sw: int) -> int:
    """A transposed convolution's multiply-accumulates: each input pixel meets every tap once."""
    return oh * ow * oc * ic * kh * kw // (sh * sw)


def _tconv_accepts(g: Graph, op: Operator) -> bool:
    x, w, y = g.tensors[op.inputs[2]], g.tensors[op.inputs[1]], g.tensors[op.outputs[0]]
    if len(x.shape) != 4 or x.shape[0] != 1 or len(w.shape) != 4:
        raise UnsupportedLayer("TRANSPOSE_CONV needs a 4-D NHWC input with batch 1")
    if not w.is_const:
        raise UnsupportedLayer("TRANSPOSE_CONV weights must be constant")
    if w.shape[3] != x.shape[3] or w.shape[0] != y.shape[3]:
        raise UnsupportedLayer(f"weights {w.describe()} do not match input {x.describe()}")
    if max(list(x.shape) + list(y.shape) + list(w.shape)) > 65535:
        raise UnsupportedLayer("dimension above 65535")
    taps = int(w.shape[1]) * int(w.shape[2]) * int(w.shape[3])
    if x.dtype == "int8" and taps > MAX_INT8_DEPTH:
        raise UnsupportedLayer(f"each output can sum {taps} products; above {MAX_INT8_DEPTH} the "
                               "int32 accumulator of the reference arithmetic can overflow")
    return True


def _tconv(ctx: LayerContext) -> LayerCode:
    w, x, y = ctx.t(1), ctx.t(2), ctx.t(0, outputs=True)
    b = ctx.t(3)
    opts = ctx.op.options
    sh, sw = int(opts.get("StrideH", 1)), int(opts.get("StrideW", 1))
    padding = opts.get("Padding", "SAME")
    _, ih, iw, ic = (int(d) for d in x.shape)
    _, oh, ow, oc = (int(d) for d in y.shape)
    kh, kw = int(w.shape[1]), int(w.shape[2])
    geo = dict(in_h=ih, in_w=iw, in_c=ic, out_h=oh, out_w=ow, out_c=oc, k_h=kh, k_w=kw,
               stride_h=sh, stride_w=sw, dil_h=1, dil_w=1,
               pad_top=transpose_conv_padding(oh, kh, sh, padding),
               pad_left=transpose_conv_padding(ow, kw, sw, padding))
    g = "{" + ", ".join(f".{k} = {c_int(v)}" for k, v in geo.items()) + "}"
    act = opts.get("FusedActivationFunction", "NONE")
    if b is not None and not b.is_const:
        raise UnsupportedLayer("the bias must be constant")
    if x.dtype == "int8":
        if not w.quantized or np.any(np.asarray(w.zero_point) != 0):
            raise UnsupportedLayer(f"weights {w.describe()} must be symmetric int8")
        if len(w.scale) not in (1, oc) or (len(w.scale) > 1 and w.quantized_dimension != 0):
            raise UnsupportedLayer(f"weights {w.describe()} have an unsupported quantization axis")
        if b is not None and b.dtype != "int32":
            raise UnsupportedLayer(f"bias {b.describe()} is {b.dtype}; int8 takes int32")
        if w.dtype != "int8":
            raise UnsupportedLayer(f"weights {w.describe()} are {w.dtype}")
        (si, zi), (so, zo) = per_tensor_qparams(x), per_tensor_qparams(y)
        mult, shift = qm.conv_multipliers(si, w.scale, so, oc)
        lo, hi = qm.activation_range(act, so, zo)
        p = ctx.struct("kiln_transpose_conv_s8_params_t", dict(
            g=g, in_offset=-zi, out_offset=zo, act_min=lo, act_max=hi,
            mult=ctx.array("mult", "int32_t", mult), shift=ctx.array("shift", "int32_t", shift)))
    else:
        if w.dtype != "float32" or (b is not None and b.dtype != "float32"):
            raise UnsupportedLayer("float TRANSPOSE_CONV with non-float weights or bias")
        lo, hi = qm.activation_range_float(act)
        p = ctx.struct("kiln_transpose_conv_f32_params_t", dict(g=g, act_min=lo, act_max=hi))
    call = f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(w)}, {ctx.ptr(b)}, {ctx.ptr(y, const=False)});"
    return LayerCode(ctx.decls, call, transpose_conv_macs(oh, ow, oc, ic, kh, kw, sh, sw), ctx.weight_bytes)


# ---- last-axis normalizations -------------------------------------------------------------

def _rows(ctx: LayerContext) -> tuple[int, int]:
    x, y = ctx.t(0), ctx.t(0, outputs=True)
    depth = int(x.shape[-1]) if x.shape else 1
    if depth < 1 or x.size != y.size:
        raise UnsupportedLayer(f"input {x.describe()} and output {y.describe()} do not match")
    return x.size // depth, depth


def _l2norm(ctx: LayerContext) -> LayerCode:
    x, y = ctx.t(0), ctx.t(0, outputs=True)
    if ctx.op.options.get("FusedActivationFunction", "NONE") != "NONE":
        raise UnsupportedLayer("fused activation on L2_NORMALIZATION")
    rows, depth = _rows(ctx)
    zp = 0
    if x.dtype == "int8":
        zp = per_tensor_qparams(x)[1]
        so, zo = per_tensor_qparams(y)
        if (qm.f32(so), zo) != (1.0 / 128, 0):
            raise UnsupportedLayer("int8 L2_NORMALIZATION output must have scale 1/128 and zero point 0")
        if depth * 255 * 255 > (1 << 31) - 1:
            raise UnsupportedLayer(f"depth {depth} can overflow the int32 sum of squares")
    p = ctx.struct("kiln_l2norm_params_t", dict(rows=rows, depth=depth, in_zp=zp))
    return LayerCode(ctx.decls, f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});")


def _log_softmax_f32(ctx: LayerContext) -> LayerCode:
    x, y = ctx.t(0), ctx.t(0, outputs=True)
    rows, depth = _rows(ctx)
    p = ctx.struct("kiln_log_softmax_f32_params_t", dict(rows=rows, depth=depth))
    return LayerCode(ctx.decls, f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});")


def _log_softmax_s8(ctx: LayerContext) -> LayerCode:
    x, y = ctx.t(0), ctx.t(0, outputs=True)
    rows, depth = _rows(ctx)
    so, zo = per_tensor_qparams(y)
    if (qm.f32(so), zo) != (16.0 / 256, 127):
        raise UnsupportedLayer("int8 LOG_SOFTMAX output must have scale 16/256 and zero point 127")
    if depth >= 4096:
        raise UnsupportedLayer(f"depth {depth}: the Q12.19 sum of exponentials holds below 4096")
    q = qm.softmax_params(1.0, per_tensor_qparams(x)[0])  # beta 1: the same input scaling as SOFTMAX
    reverse = float(1 << (31 - q["input_left_shift"])) / float(q["input_multiplier"])
    r_mult, r_shift = qm.quantize_multiplier(reverse)
    if r_shift > 0:
        raise UnsupportedLayer("LOG_SOFTMAX's reverse scaling must be below 1")
    p = ctx.struct("kiln_log_softmax_s8_params_t", dict(
        rows=rows, depth=depth, input_multiplier=q["input_multiplier"],
        input_left_shift=q["input_left_shift"], reverse_multiplier=r_mult, reverse_shift=r_shift,
        diff_min=q["diff_min"]))
    return LayerCode(ctx.decls, f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});")


# ---- BATCH_MATMUL -------------------------------------------------------------------------

#: Products an int8 BATCH_MATMUL's int32 accumulator always holds: both operands are
#: asymmetric, so each (q - zp) is at most 255 in size.
_MAX_MATMUL_DEPTH = ((1 << 31) - 1) // (255 * 255)


def _matmul_fields(g: Graph, op: Operator) -> dict:
    """kiln_batch_matmul_params_t's shape and stride fields (docs/ops/spatial.md)."""
    lhs, rhs, y = g.tensors[op.inputs[0]], g.tensors[op.inputs[1]], g.tensors[op.outputs[0]]
    if not (2 <= len(lhs.shape) <= 4 and 2 <= len(rhs.shape) <= 4):
        raise UnsupportedLayer("BATCH_MATMUL operands must have rank 2 to 4 (tflite-micro's limit)")
    if lhs.dtype != rhs.dtype:
        raise UnsupportedLayer(f"operands {lhs.describe()} and {rhs.describe()} differ in dtype "
                               "(hybrid BATCH_MATMUL is not supported)")
    adj_x, adj_y = bool(op.options.get("AdjX")), bool(op.options.get("AdjY"))
    ls = [1] * (4 - len(lhs.shape)) + [int(d) for d in lhs.shape]
    rs = [1] * (4 - len(rhs.shape)) + [int(d) for d in rhs.shape]
    rows, depth = (ls[3], ls[2]) if adj_x else (ls[2], ls[3])
    r_depth, cols = (rs[3], rs[2]) if adj_y else (rs[2], rs[3])
    if depth != r_depth:
        raise UnsupportedLayer(f"depths {depth} and {r_depth} differ")
    batch, lb, rb = [], [], []
    for d in range(2):
        if ls[d] != rs[d] and 1 not in (ls[d], rs[d]):
            raise UnsupportedLayer(f"batch dimensions {ls[:2]} and {rs[:2]} do not broadcast")
        batch.append(max(ls[d], rs[d]))
        # element strides of the batch dimensions; 0 broadcasts a size-1 dimension
        lb.append(0 if ls[d] == 1 else int(np.prod(ls[d + 1:])))
        rb.append(0 if rs[d] == 1 else int(np.prod(rs[d + 1:])))
    if y.size != batch[0] * batch[1] * rows * cols:
        raise UnsupportedLayer(f"output {y.describe()} does not match the product's size")
    if lhs.dtype == "int8" and depth > _MAX_MATMUL_DEPTH:
        raise UnsupportedLayer(f"depth {depth}: above {_MAX_MATMUL_DEPTH} the int32 accumulator "
                               "of the reference arithmetic can overflow")
    # stored L is [rows][depth] (or [depth][rows] with adj_x); R [depth][cols] (adj_y: [cols][depth])
    return dict(batch=batch, rows=rows, cols=cols, depth=depth, lhs_bstride=lb, rhs_bstride=rb,
                l_row=1 if adj_x else depth, l_k=rows if adj_x else 1,
                r_k=1 if adj_y else cols, r_col=depth if adj_y else 1)


def _fc_runtime_fields(g: Graph, op: Operator) -> dict:
    """FULLY_CONNECTED whose weights are computed at run time (the converter's form of a
    rank-2 tf.matmul of two activations) as a product with adj_y: x [batches][depth]
    times w [cols][depth] transposed."""
    x, w, y = g.tensors[op.inputs[0]], g.tensors[op.inputs[1]], g.tensors[op.outputs[0]]
    if w.is_const:
        raise UnsupportedLayer("constant weights are kiln_fc's")
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        raise UnsupportedLayer("a bias with runtime weights")
    if len(w.shape) != 2 or w.dtype != x.dtype:
        raise UnsupportedLayer(f"runtime weights {w.describe()} must be 2-D and {x.dtype}")
    cols, depth = (int(d) for d in w.shape)
    if depth < 1 or x.size % depth or y.size != x.size // depth * cols:
        raise UnsupportedLayer(f"input {x.describe()} and output {y.describe()} do not match the "
                               f"weights {w.describe()}")
    if x.dtype == "int8" and depth > _MAX_MATMUL_DEPTH:
        raise UnsupportedLayer(f"depth {depth}: above {_MAX_MATMUL_DEPTH} the int32 accumulator "
                               "of the reference arithmetic can overflow")
    return dict(batch=[1, 1], rows=x.size // depth, cols=cols, depth=depth, lhs_bstride=[0, 0],
                rhs_bstride=[0, 0], l_row=depth, l_k=1, r_k=1, r_col=depth)


def _fc_runtime_accepts(g: Graph, op: Operator) -> bool:
    _fc_runtime_fields(g, op)
    return True


def _matmul_accepts(g: Graph, op: Operator) -> bool:
    _matmul_fields(g, op)
    return True


def batch_matmul_fields(g: Graph, op: Operator) -> dict:
    """kiln_batch_matmul_params_t's fields of a BATCH_MATMUL, or of a FULLY_CONNECTED with
    runtime weights (docs/ops/spatial.md)."""
    lhs, rhs, y = g.tensors[op.inputs[0]], g.tensors[op.inputs[1]], g.tensors[op.outputs[0]]
    fc = op.op == "FULLY_CONNECTED"
    f = _fc_runtime_fields(g, op) if fc else _matmul_fields(g, op)
    act = op.options.get("FusedActivationFunction", "NONE") if fc else "NONE"
    flo, fhi = qm.activation_range_float(act)
    f.update(lhs_offset=0, rhs_offset=0, out_offset=0, mult=0, shift=0, act_min=-128, act_max=127,
             fact_min=flo, fact_max=fhi, has_act=int(act != "NONE"))
    if lhs.dtype == "int8":
        (sl, zl), (sr, zr), (so, zo) = (per_tensor_qparams(t) for t in (lhs, rhs, y))
        mult, shift = qm.fc_multiplier(sl, sr, so)  # the same double-precision product as FC
        lo, hi = qm.activation_range(act, so, zo)
        f.update(lhs_offset=-zl, rhs_offset=-zr, out_offset=zo, mult=mult, shift=shift,
                 act_min=lo, act_max=hi)
    return f


def matmul_macs(f: dict) -> int:
    """The multiply-accumulates of a product with kiln_batch_matmul_params_t fields f."""
    return f["batch"][0] * f["batch"][1] * f["rows"] * f["cols"] * f["depth"]


def _batch_matmul(ctx: LayerContext) -> LayerCode:
    lhs, rhs, y = ctx.t(0), ctx.t(1), ctx.t(0, outputs=True)
    f = batch_matmul_fields(ctx.graph, ctx.op)
    p = ctx.struct("kiln_batch_matmul_params_t", f)
    call = f"{ctx.func}({p}, {ctx.ptr(lhs)}, {ctx.ptr(rhs)}, {ctx.ptr(y, const=False)});"
    return LayerCode(ctx.decls, call, matmul_macs(f), ctx.weight_bytes)


# ---- L2_POOL_2D -----------------------------------------------------------------------------

def _l2pool(ctx: LayerContext) -> LayerCode:
    """Float32 only: tflite-micro's L2_POOL_2D refuses every other dtype. The converter
    never emits it (sqrt(avg_pool(x^2)) stays three operators); models from other tools do."""
    x, y = ctx.t(0), ctx.t(0, outputs=True)
    # L2_POOL_2D carries AVERAGE_POOL_2D's Pool2DOptions: the same window geometry
    geo = Geometry.of(ctx.graph, dataclasses.replace(ctx.op, op="AVERAGE_POOL_2D"))
    lo, hi = qm.activation_range_float(ctx.op.options.get("FusedActivationFunction", "NONE"))
    p = ctx.struct("kiln_l2pool_f32_params_t", dict(g=geo.c_init(), act_min=lo, act_max=hi))
    return LayerCode(ctx.decls, f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});",
                     geo.out_h * geo.out_w * geo.in_c * geo.k_h * geo.k_w)


def _l2pool_accepts(g: Graph, op: Operator) -> bool:
    Geometry.of(g, dataclasses.replace(op, op="AVERAGE_POOL_2D"))
    return True


def _register() -> None:
    s8, fl = "int8", "float32"
    for op, dt, func, build, acc in [
        ("RESIZE_NEAREST_NEIGHBOR", s8, "kiln_resize_nearest", _resize_nearest, _resize_accepts),
        ("RESIZE_NEAREST_NEIGHBOR", fl, "kiln_resize_nearest", _resize_nearest, _resize_accepts),
        ("RESIZE_BILINEAR", s8, "kiln_resize_bilinear_s8", _resize_bilinear, _resize_accepts),
        ("RESIZE_BILINEAR", fl, "kiln_resize_bilinear_f32", _resize_bilinear, _resize_accepts),
        ("TRANSPOSE_CONV", s8, "kiln_transpose_conv_s8", _tconv, _tconv_accepts),
        ("TRANSPOSE_CONV", fl, "kiln_transpose_conv_f32", _tconv, _tconv_accepts),
        ("L2_NORMALIZATION", s8, "kiln_l2norm_s8", _l2norm, None),
        ("L2_NORMALIZATION", fl, "kiln_l2norm_f32", _l2norm, None),
        ("LOG_SOFTMAX", fl, "kiln_log_softmax_f32", _log_softmax_f32, None),
        ("LOG_SOFTMAX", s8, "kiln_log_softmax_s8", _log_softmax_s8, None),
        ("BATCH_MATMUL", s8, "kiln_batch_matmul_s8", _batch_matmul, _matmul_accepts),
        ("BATCH_MATMUL", fl, "kiln_batch_matmul_f32", _batch_matmul, _matmul_accepts),
        ("FULLY_CONNECTED", s8, "kiln_batch_matmul_s8", _batch_matmul, _fc_runtime_accepts),
        ("FULLY_CONNECTED", fl, "kiln_batch_matmul_f32", _batch_matmul, _fc_runtime_accepts),
        ("L2_POOL_2D", fl, "kiln_l2pool_f32", _l2pool, _l2pool_accepts),
    ]:
        register(KernelImpl(op=op, dtype=dt, func=func, build=build, header=HEADER,
                            **({"accepts": acc} if acc else {})))


_register()
