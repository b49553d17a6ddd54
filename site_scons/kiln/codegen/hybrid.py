"""Builders for the hybrid (dynamic-range) kernels of firmware/runtime/portable/hybrid_*.c.

A hybrid layer has float32 activations and constant int8 weights (TFLite's
dynamic-range quantization). The kernel quantizes its float input per batch
at run time into an arena scratch buffer (planned: `scratch` below), then
works in int32 and returns to float. Which input quantization TFLite uses:

* FULLY_CONNECTED: asymmetric when the options say AsymmetricQuantizeInputs;
* CONV_2D / DEPTHWISE_CONV_2D: asymmetric on TFLite's "hybrid per channel"
  path (per-channel weight scales that are not all equal), else symmetric.

This module imports the portable builders, so its entries register after
them and are tried first: they accept only layers with int8 weights, and the
float kernels keep every layer with float weights.
"""

from __future__ import annotations

import numpy as np

from kiln import quantmath as qm
from kiln.codegen.context import LayerContext
from kiln.codegen.geometry import Geometry
from kiln.codegen.portable import _act, _fc_dims
from kiln.codegen.registry import KernelImpl, LayerCode, UnsupportedLayer, register
from kiln.ir import Graph, Operator, Tensor, is_hybrid


def _weight_scales(w: Tensor, channels: int, axis: int) -> tuple[list[float], bool]:
    """The weights' scales and whether TFLite treats them as per-channel."""
    if not w.quantized:
        raise UnsupportedLayer(f"int8 weights {w.describe()} carry no scale")
    if np.any(w.zero_point != 0):
        raise UnsupportedLayer(f"weights {w.describe()} are not symmetric (zero point != 0)")
    scales = [float(s) for s in w.scale]
    if len(scales) not in (1, channels) or (len(scales) > 1 and w.quantized_dimension != axis):
        raise UnsupportedLayer(f"weights {w.describe()} have an unsupported quantization axis")
    return scales, len(scales) > 1


def _bias(ctx: LayerContext) -> Tensor | None:
    b = ctx.t(2)
    if b is not None and (b.dtype != "float32" or not b.is_const):
        raise UnsupportedLayer("a hybrid layer's bias must be a constant float32 tensor")
    return b


def _fc_scratch(graph: Graph, op: Operator) -> int:
    return int(graph.tensors[op.inputs[1]].shape[-1])


def _conv_scratch(graph: Graph, op: Operator) -> int:
    return graph.tensors[op.inputs[0]].size


def _fc(ctx: LayerContext) -> LayerCode:
    x, w, y, scratch = ctx.t(0), ctx.t(1), ctx.t(0, outputs=True), ctx.t(1, outputs=True)
    b = _bias(ctx)
    batches, in_n, out_n = _fc_dims(ctx)
    scales, per_channel = _weight_scales(w, out_n, 0)
    lo, hi = qm.activation_range_float(_act(ctx.op))
    p = ctx.struct("kiln_hybrid_fc_params_t", dict(
        batches=batches, in_n=in_n, out_n=out_n,
        asymmetric=int(bool(ctx.op.options.get("AsymmetricQuantizeInputs", False))),
        per_channel=int(per_channel), act_min=lo, act_max=hi,
        w_scale=ctx.array("w_scale", "float", scales)))
    call = (f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(w)}, {ctx.ptr(b)}, "
            f"{ctx.ptr(scratch, const=False)}, {ctx.ptr(y, const=False)});")
    return LayerCode(ctx.decls, call, batches * in_n * out_n, ctx.weight_bytes)


def _conv(ctx: LayerContext, depthwise: bool) -> LayerCode:
    x, w, y, scratch = ctx.t(0), ctx.t(1), ctx.t(0, outputs=True), ctx.t(1, outputs=True)
    b = _bias(ctx)
    geo = Geometry.of(ctx.graph, ctx.op)
    if geo.dil_h != 1 or geo.dil_w != 1:
        raise UnsupportedLayer("dilated hybrid convolution (TFLite's hybrid kernels do not dilate)")
    scales, per_channel = _weight_scales(w, geo.out_c, 3 if depthwise else 0)
    # TFLite takes its per-channel path (asymmetric inputs, another rounding
    # order) only when the scales differ; equal ones run as per-tensor.
    per_channel = per_channel and len(set(scales)) > 1
    if depthwise and not per_channel:
        # TFLite 2.21's interpreter returns garbage for this layer (it indexes
        # per-channel scales that are not there): no oracle to be exact with.
        raise UnsupportedLayer("hybrid DEPTHWISE_CONV_2D with per-tensor weights has no reference "
                               "(TFLite computes it wrongly); convert with per-channel weights "
                               "(the converter's default) or as full int8")
    lo, hi = qm.activation_range_float(_act(ctx.op))
    p = ctx.struct("kiln_hybrid_conv_params_t", dict(
        g=geo.c_init(), depth_mult=geo.depth_mult, asymmetric=int(per_channel),
        per_channel=int(per_channel), act_min=lo, act_max=hi,
        w_scale=ctx.array("w_scale", "float", scales if per_channel else scales[:1])))
    call = (f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(w)}, {ctx.ptr(b)}, "
            f"{ctx.ptr(scratch, const=False)}, {ctx.ptr(y, const=False)});")
    return LayerCode(ctx.decls, call, geo.macs(depthwise), ctx.weight_bytes)


def _register() -> None:
    for op, func, build, scratch in [
        ("FULLY_CONNECTED", "kiln_hybrid_fc", _fc, _fc_scratch),
        ("CONV_2D", "kiln_hybrid_conv2d", lambda c: _conv(c, False), _conv_scratch),
        ("DEPTHWISE_CONV_2D", "kiln_hybrid_dwconv2d", lambda c: _conv(c, True), _conv_scratch),
    ]:
        register(KernelImpl(op=op, dtype="float32", func=func, build=build, accepts=is_hybrid,
                            scratch=scratch))


_register()
