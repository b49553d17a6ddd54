"""The dsp set's movement kernels in the code generator's registry.

  TRANSPOSE (int8) that moves the input's last axis    kiln_dsp_transpose_s8
  RESIZE_NEAREST_NEIGHBOR (int8)                       kiln_dsp_resize_nearest_s8

The transpose's copy is the portable kiln_strided_copy's (kiln.codegen.ops.movement
derives and checks the same source index map), cut into 2-D planes whose
4x4 tiles the kernel transposes a word at a time. A transpose that keeps
the last axis already copies whole runs and stays portable.
"""
from __future__ import annotations

import numpy as np

from kiln import dsp_layout as lay
from kiln.codegen.context import LayerContext
from kiln.codegen.ops import movement, spatial
from kiln.codegen.registry import KernelImpl, LayerCode, register
from kiln.ir import Graph, Operator
from kiln.kernels_dsp import HEADER, _build, _guard

#: The axes the kernel's odometer walks besides a plane's two (KILN_DSP_TRANSPOSE_OUTER).
OUTER = 4


def _transpose_plan(g: Graph, op: Operator) -> dict:
    """kiln_dsp_transpose_params_t's fields for an int8 TRANSPOSE, or Unfit."""
    x, y = g.tensors[op.inputs[0]], g.tensors[op.outputs[0]]
    if x.dtype != "int8" or y.dtype != "int8":
        raise lay.Unfit("not int8")
    movement.input_rank_ok(g, op)
    shape, strides, start = movement.copy_plan(x, y, movement._transpose_map(g, op))
    last = movement.MAX_RANK - 1
    if strides[last] == 1:
        raise lay.Unfit("the last axis stays in place: the portable copy moves whole runs")
    rows = [d for d in range(last) if strides[d] == 1 and shape[d] > 1]
    if not rows or shape[rows[0]] < 4 or shape[last] < 4:
        raise lay.Unfit("planes smaller than a 4x4 tile")
    q = rows[0]
    out_stride = [int(np.prod(shape[d + 1:], dtype=np.int64)) for d in range(len(shape))]
    outer = [d for d in range(movement.MAX_RANK) if d not in (q, last)]
    assert len(outer) == OUTER
    return dict(outer_shape=[shape[d] for d in outer], outer_in_stride=[strides[d] for d in outer],
                outer_out_stride=[out_stride[d] for d in outer], start=start, q_n=shape[q],
                l_n=shape[last], l_in_stride=strides[last], q_out_stride=out_stride[q])


def _transpose_build(ctx: LayerContext) -> LayerCode:
    fields = _transpose_plan(ctx.graph, ctx.op)
    ctx.decls.append(HEADER)
    p = ctx.struct("kiln_dsp_transpose_params_t", fields)
    y = ctx.ptr(ctx.t(0, outputs=True), const=False)
    return LayerCode(ctx.decls, f"{ctx.func}({p}, {ctx.ptr(ctx.t(0))}, {y});")


register(KernelImpl(op="TRANSPOSE", dtype="int8", kernel_set="dsp", func="kiln_dsp_transpose_s8",
                    build=_build(_transpose_build), accepts=_guard(_transpose_plan), header="kiln/dsp.h"))
register(KernelImpl(op="RESIZE_NEAREST_NEIGHBOR", dtype="int8", kernel_set="dsp",
                    func="kiln_dsp_resize_nearest_s8", build=spatial._resize_nearest,
                    accepts=spatial._resize_accepts, header="kiln/dsp.h"))
