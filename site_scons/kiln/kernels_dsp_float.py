"""The dsp set's float32 kernels in the code generator's registry: the
single-precision FPU that every core of the set has (kiln/dsp.h).

  CONV_2D                                  kiln_dsp_conv_f32 (receptive fields in scratch)
  DEPTHWISE_CONV_2D, depth multiplier 1    kiln_dsp_dwconv_f32
  FULLY_CONNECTED                          kiln_dsp_fc_f32
  MAX_POOL_2D / AVERAGE_POOL_2D            kiln_dsp_maxpool_f32 / kiln_dsp_avgpool_f32
  FULLY_CONNECTED, 2:4 sparse weights      kiln_dsp_fc_f32_sparse (tfmot's sparsity_m_by_n=(2, 4))

Weights are regrouped by four output channels (zeros past the last), the
bias padded to the channels (zeros for a layer without one); a layer whose
weights are not constant float32 keeps its portable kernel. The results are
the portable kernels' (and the reference's) to the bit.
"""
from __future__ import annotations

import numpy as np

from kiln import quantmath as qm
from kiln.codegen import portable as pt
from kiln.codegen.context import LayerContext
from kiln.codegen.geometry import Geometry
from kiln.codegen.registry import KernelImpl, LayerCode, UnsupportedLayer, register
from kiln.ir import Graph, Operator

HEADER = '#include "kiln/dsp.h"'


def _float_layer(g: Graph, op: Operator) -> None:
    """A float32 layer with constant float32 weights and bias (or none)."""
    x, y = g.tensors[op.inputs[0]], g.tensors[op.outputs[0]]
    if x.dtype != "float32" or y.dtype != "float32":
        raise UnsupportedLayer("not a float32 layer")
    for k in (1, 2):
        t = g.tensors[op.inputs[k]] if len(op.inputs) > k and op.inputs[k] >= 0 else None
        if k == 1 and t is None:
            raise UnsupportedLayer("no weights")
        if t is not None and (t.dtype != "float32" or not t.is_const):
            raise UnsupportedLayer("weights or bias are not constant float32")


def _grouped(rows: np.ndarray) -> np.ndarray:
    """[n][k] -> [ceil(n / 4)][k][4], zero rows past n."""
    n, k = rows.shape
    padded = np.zeros(((n + 3) // 4 * 4, k), dtype=np.float32)
    padded[:n] = rows
    return np.ascontiguousarray(padded.reshape(-1, 4, k).transpose(0, 2, 1))


def _bias(ctx: LayerContext, n: int) -> str:
    b = ctx.t(2)
    if b is None:
        return ctx.array("bias", "float", np.zeros(n, dtype=np.float32))
    return ctx.ptr(b)


def _conv_check(g: Graph, op: Operator) -> bool:
    _float_layer(g, op)
    return True


def _direct(geo: Geometry) -> bool:
    """A 1x1 layer with stride 1 and no padding reads its input in place (kiln/dsp.h)."""
    return (geo.k_h, geo.k_w, geo.stride_h, geo.stride_w, geo.pad_top, geo.pad_left) == (1, 1, 1, 1, 0, 0) \
        and geo.in_w == geo.out_w


def _conv_scratch(g: Graph, op: Operator) -> int:
    """Two receptive fields of floats (planned even where _direct leaves them unused)."""
    geo = Geometry.of(g, op)
    return 2 * 4 * geo.k_h * geo.k_w * geo.in_c


def _conv_build(ctx: LayerContext) -> LayerCode:
    _float_layer(ctx.graph, ctx.op)
    geo = Geometry.of(ctx.graph, ctx.op)
    x, w, y = ctx.t(0), ctx.t(1), ctx.t(0, outputs=True)
    k_len = geo.k_h * geo.k_w * geo.in_c
    ctx.decls.append(HEADER)
    scratch = f"(float *)(void *){ctx.ptr(ctx.t(1, outputs=True), const=False)}"
    lo, hi = qm.activation_range_float(pt._act(ctx.op))
    weights = _grouped(np.asarray(w.data, dtype=np.float32).reshape(geo.out_c, k_len))
    p = ctx.struct("kiln_dsp_conv_f32_params_t", dict(
        g=geo.c_init(), k_len=k_len, act_min=lo, act_max=hi,
        w=ctx.ptr(w, layout_name="g4", data=weights), bias=_bias(ctx, geo.out_c), scratch=scratch))
    return LayerCode(ctx.decls, f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});",
                     geo.macs(False), ctx.weight_bytes)


def _dw_check(g: Graph, op: Operator) -> bool:
    _float_layer(g, op)
    if Geometry.of(g, op).depth_mult != 1:
        raise UnsupportedLayer("depth multiplier above 1")
    return True


def _dw_build(ctx: LayerContext) -> LayerCode:
    _dw_check(ctx.graph, ctx.op)
    geo = Geometry.of(ctx.graph, ctx.op)
    x, w, y = ctx.t(0), ctx.t(1), ctx.t(0, outputs=True)
    ctx.decls.append(HEADER)
    lo, hi = qm.activation_range_float(pt._act(ctx.op))
    p = ctx.struct("kiln_dsp_conv_f32_params_t", dict(
        g=geo.c_init(), k_len=0, act_min=lo, act_max=hi, w=ctx.ptr(w), bias=_bias(ctx, geo.out_c),
        scratch="NULL"))
    return LayerCode(ctx.decls, f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});",
                     geo.macs(True), ctx.weight_bytes)


def _fc_check(g: Graph, op: Operator) -> bool:
    _float_layer(g, op)
    w = g.tensors[op.inputs[1]]
    if len(w.shape) != 2 or op.options.get("WeightsFormat", 0) != 0:
        raise UnsupportedLayer("weights are not a 2-D tensor in the default format")
    x, y = g.tensors[op.inputs[0]], g.tensors[op.outputs[0]]
    out_n, in_n = w.shape
    if x.size % in_n or y.size != x.size // in_n * out_n:
        raise UnsupportedLayer("the input is not whole rows of the weights' length")
    return True


def _fc_build(ctx: LayerContext) -> LayerCode:
    _fc_check(ctx.graph, ctx.op)
    x, w, y = ctx.t(0), ctx.t(1), ctx.t(0, outputs=True)
    out_n, in_n = w.shape
    batches = x.size // in_n
    ctx.decls.append(HEADER)
    lo, hi = qm.activation_range_float(pt._act(ctx.op))
    weights = _grouped(np.asarray(w.data, dtype=np.float32))
    p = ctx.struct("kiln_dsp_fc_f32_params_t", dict(
        batches=batches, in_n=in_n, out_n=out_n, act_min=lo, act_max=hi,
        w=ctx.ptr(w, layout_name="g4", data=weights), bias=_bias(ctx, out_n)))
    return LayerCode(ctx.decls, f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});",
                     batches * in_n * out_n, ctx.weight_bytes)


def _two_of_four(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 2:4 layout of [out_n][in_n] float weights: the kept weights [out_n][groups][2]
    and the packed byte offsets [out_n][groups] (kiln/dsp.h); UnsupportedLayer when a
    group keeps more than two."""
    out_n, in_n = w.shape
    if in_n > 16383:
        raise UnsupportedLayer("input rows above 16383 elements (offsets are 16-bit)")
    groups = (in_n + 3) // 4
    padded = np.zeros((out_n, groups * 4), dtype=np.float32)
    padded[:, :in_n] = w
    g4 = padded.reshape(out_n, groups, 4)
    nonzero = g4 != 0
    if (nonzero.sum(axis=2) > 2).any():
        raise UnsupportedLayer("not 2:4 sparse (a group of four inputs keeps more than two weights)")
    # The kept positions in order; a group keeping fewer takes its first positions, weight 0.
    order = np.argsort(~nonzero, axis=2, kind="stable")[:, :, :2]
    pos = np.sort(order, axis=2)
    kept = np.take_along_axis(g4, pos, axis=2)
    index = np.minimum(np.arange(groups)[None, :, None] * 4 + pos, in_n - 1)
    offsets = (index * 4).astype(np.uint32)
    return np.ascontiguousarray(kept), offsets[:, :, 0] | (offsets[:, :, 1] << 16)


def _fc_sparse_check(g: Graph, op: Operator) -> bool:
    _fc_check(g, op)
    _two_of_four(np.asarray(g.tensors[op.inputs[1]].data, dtype=np.float32))
    return True


def _fc_sparse_build(ctx: LayerContext) -> LayerCode:
    _fc_check(ctx.graph, ctx.op)
    x, w, y = ctx.t(0), ctx.t(1), ctx.t(0, outputs=True)
    out_n, in_n = w.shape
    kept, offsets = _two_of_four(np.asarray(w.data, dtype=np.float32))
    ctx.decls.append(HEADER)
    lo, hi = qm.activation_range_float(pt._act(ctx.op))
    ctx.consts.bytes += offsets.size * 4   # the offsets are flash too (the weights count in ptr())
    p = ctx.struct("kiln_dsp_fc_f32_sparse_params_t", dict(
        batches=x.size // in_n, in_n=in_n, out_n=out_n, act_min=lo, act_max=hi,
        w=ctx.ptr(w, layout_name="s24", data=kept), off=ctx.array("off", "uint32_t", offsets),
        bias=_bias(ctx, out_n)))
    code = LayerCode(ctx.decls, f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});",
                     x.size // in_n * in_n * out_n, ctx.weight_bytes)
    # the dense kernel's weights: [ceil(out_n / 4) * 4][in_n] floats, instead of the kept
    # weights and their offsets
    code.dense_weight_bytes = code.weight_bytes - kept.size * 4 - offsets.size * 4 + \
        (out_n + 3) // 4 * 4 * in_n * 4
    return code


def _pool_check(g: Graph, op: Operator) -> bool:
    x, y = g.tensors[op.inputs[0]], g.tensors[op.outputs[0]]
    if x.dtype != "float32" or y.dtype != "float32" or len(x.shape) != 4 or x.shape[0] != 1:
        raise UnsupportedLayer("not a 4-D float32 layer of batch 1")
    return True


def _pool_build(ctx: LayerContext) -> LayerCode:
    code = pt._pool_f32(ctx)   # the portable kernels' parameters
    code.decls.insert(0, HEADER)
    return code


def _register() -> None:
    """Register the float kernels; later registrations are tried first."""
    for op, func, check, build, scratch in [
        ("CONV_2D", "kiln_dsp_conv_f32", _conv_check, _conv_build, _conv_scratch),
        ("DEPTHWISE_CONV_2D", "kiln_dsp_dwconv_f32", _dw_check, _dw_build, None),
        ("FULLY_CONNECTED", "kiln_dsp_fc_f32", _fc_check, _fc_build, None),
        ("MAX_POOL_2D", "kiln_dsp_maxpool_f32", _pool_check, _pool_build, None),
        ("AVERAGE_POOL_2D", "kiln_dsp_avgpool_f32", _pool_check, _pool_build, None),
        # after the dense one: tried first
        ("FULLY_CONNECTED", "kiln_dsp_fc_f32_sparse", _fc_sparse_check, _fc_sparse_build, None),
    ]:
        register(KernelImpl(op=op, dtype="float32", kernel_set="dsp", func=func, build=build,
                            accepts=check, header="kiln/dsp.h", scratch=scratch,
                            sparse=func.endswith("_sparse")))


_register()
