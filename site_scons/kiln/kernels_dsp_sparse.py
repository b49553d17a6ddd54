"""The dsp set's block-sparse int8 kernels in the code generator's registry.

A block is one K group of four weights for one pair of output channels (the
eight weights the dense kernels load as one group: kiln/dsp.h). Pruning in
these blocks (the pqat recipe, kiln/quantize/pruning.py) leaves whole blocks
zero; these kernels store and visit only the others:

  CONV_2D           kiln_dsp_conv_sparse_s8   when at most CONV_MAX_DENSITY of the blocks are kept
  FULLY_CONNECTED   kiln_dsp_fc_sparse_s8     when at most FC_MAX_DENSITY are

Any layer qualifies by its weights alone, however it was trained; a layer
with more nonzero blocks keeps the dense kernel (the compiler's report says
how many blocks were kept). The outputs are the dense kernels' bits: only
zero products are skipped.
"""
from __future__ import annotations

import numpy as np

from kiln import dsp_layout as lay
from kiln import kernels_dsp as kd
from kiln.codegen.context import LayerContext
from kiln.codegen.cwriter import c_array
from kiln.codegen.registry import Explained, KernelImpl, LayerCode, register
from kiln.ir import Graph, Operator

#: Instructions per kept block against per dense block, measured on the emulated M33
#: (scons bench): the convolution's sparse group costs 13 to the dense loop's 11.5
#: (index and address besides the two LDM and 8 SMLAD), and its channel pairs run in C
#: (about 15 instructions more a pair than the dense kernel's assembly), so below about
#: 0.75 of the blocks it wins; the fully connected kernel's group costs about 11 against
#: the dense six-row walk's 7.3.
CONV_MAX_DENSITY = 0.7
FC_MAX_DENSITY = 0.6
#: A 3x3 stride-1 layer the dense image runs by Winograd (kiln_dsp_wino_s8) is faster
#: dense than the sparse direct kernel down to about 0.55 of the blocks kept at 16
#: channels and 0.42 at 64 (cifar_cnn's layers at half the blocks, scons bench TFLITE=):
#: such a layer runs sparse below this.
WINO_MAX_DENSITY = 0.4
#: Below this share of blocks kept a layer counts as pruned, and the report says why a
#: dense kernel runs it.
PRUNED_DENSITY = 0.9


def _density_ok(blocks: lay.SparseBlocks, limit: float) -> lay.SparseBlocks:
    if blocks.density > limit:
        why = (f"{blocks.density:.0%} of its weight blocks are nonzero (sparse above {limit:.0%} "
               "would be slower than dense)")
        # A layer with a tenth of its blocks zero or more was pruned: say why it runs dense
        # (kernels_dsp._guard passes an Explained refusal on as it is).
        raise Explained(why) if blocks.density <= PRUNED_DENSITY else lay.Unfit(why)
    return blocks


def _conv_rows(g: Graph, op: Operator) -> np.ndarray:
    w = np.asarray(g.tensors[op.inputs[1]].data)
    return w.reshape(w.shape[0], -1)


def _conv_check(g: Graph, op: Operator) -> tuple[tuple, lay.SparseBlocks]:
    """The dense kernel's (geometry, records) and the blocks, or Unfit."""
    dense = kd._conv_check(g, op)
    try:
        kd._conv1_check(g, op)
    except lay.Unfit:
        pass
    else:   # its max pool is computed with it: the pool's kernel counts on that
        raise lay.Unfit("the fused convolution + max pool kernel takes this layer")
    try:
        kd._wino_check(g, op)
    except lay.Unfit:
        limit = CONV_MAX_DENSITY
    else:
        limit = WINO_MAX_DENSITY
    return dense, _density_ok(lay.sparse_blocks(_conv_rows(g, op)), limit)


def _sparse_decls(ctx: LayerContext, blocks: lay.SparseBlocks) -> dict:
    """The kept blocks (pre-widened as the dense layout holds them) and their indices;
    counted in the model's weight bytes."""
    ctx.consts.bytes += blocks.nz_start.size * 4 + blocks.nz_idx.size * 2
    start, idx = f"{ctx.prefix}_nz_start", f"{ctx.prefix}_nz_idx"
    ctx.decls.append(c_array(start, "uint32_t", blocks.nz_start, align=4))
    ctx.decls.append(c_array(idx, "uint16_t", blocks.nz_idx, align=4))
    return dict(w=kd._weights_decl(ctx, lay.widened(blocks.w8)), nz_start=start, nz_idx=idx)


def _dense_bytes(code: LayerCode, blocks: lay.SparseBlocks) -> LayerCode:
    """`code` with the bytes the dense layout would take: every block's eight int16
    weights instead of the kept ones and their indices (the records are the same)."""
    kept = blocks.w8.size * 2 + blocks.nz_start.size * 4 + blocks.nz_idx.size * 2
    code.dense_weight_bytes = code.weight_bytes - kept + blocks.blocks * 16
    return code


def _conv_build(ctx: LayerContext) -> LayerCode:
    (geo, rq), blocks = _conv_check(ctx.graph, ctx.op)
    return _dense_bytes(kd._conv_call(ctx, geo, rq, np.asarray(ctx.t(1).data),
                                      weights=_sparse_decls(ctx, blocks)), blocks)


def _fc_check(g: Graph, op: Operator) -> tuple[tuple, lay.SparseBlocks]:
    """The dense kernel's (batches, in_n, out_n, records) and the blocks, or Unfit."""
    dense = kd._fc_check(g, op)
    return dense, _density_ok(lay.sparse_blocks(np.asarray(g.tensors[op.inputs[1]].data)), FC_MAX_DENSITY)


def _fc_build(ctx: LayerContext) -> LayerCode:
    (batches, in_n, out_n, rq), blocks = _fc_check(ctx.graph, ctx.op)
    x, y = ctx.t(0), ctx.t(0, outputs=True)
    k_len = in_n + (-in_n) % 4
    ctx.decls.append(kd.HEADER)
    scratch = f"(int16_t *)(void *){ctx.ptr(ctx.t(1, outputs=True), const=False)}"
    fields = dict(batches=batches, in_n=in_n, out_n=out_n, k_len=k_len,
                  **kd._clamp_fields(*kd._act_range(ctx.op, y)), exact=lay.has_exact(rq),
                  **_sparse_decls(ctx, blocks), rq=kd._rq_decl(ctx, rq), scratch=scratch)
    p = ctx.struct("kiln_dsp_fc_sparse_params_t", fields)
    call = f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});"
    return _dense_bytes(LayerCode(ctx.decls, call, batches * in_n * out_n, ctx.weight_bytes), blocks)


def _fc_scratch(g: Graph, op: Operator) -> int:
    """The widened input row: k_len int16."""
    in_n = int(g.tensors[op.inputs[1]].shape[1])
    return 2 * (in_n + (-in_n) % 4)


def _register() -> None:
    """Register the sparse kernels after the dense ones: they are tried first."""
    for op, func, check, build, scratch in [
        ("CONV_2D", "kiln_dsp_conv_sparse_s8", _conv_check, _conv_build, kd._conv_scratch),
        ("FULLY_CONNECTED", "kiln_dsp_fc_sparse_s8", _fc_check, _fc_build, _fc_scratch),
    ]:
        register(KernelImpl(op=op, dtype="int8", kernel_set="dsp", func=func, build=kd._build(build),
                            accepts=kd._guard(check), header="kiln/dsp.h", scratch=scratch,
                            wide_weights=True, sparse=True))


_register()
