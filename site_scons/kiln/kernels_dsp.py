"""The DSP kernel set in the code generator's registry (kiln.codegen.registry): kernels
for Armv7E-M and Armv8-M Mainline cores with the DSP extension (Cortex-M4, M7, M33).

For each operator it decides, from the graph alone, whether a specialized
kernel of firmware/runtime/dsp/ applies (the registry's `accepts`), then
re-lays the weights out and builds the parameters (`build`). A layer that
does not meet every condition keeps its portable kernel, so any model the
compiler accepts gives the same bits with either kernel set.

Kernels, most specific first:
  CONV_2D 3x3, one input channel, fused with the 2x2 max pool after it
                                      kiln_dsp_conv1_pool_s8 (+ kiln_dsp_copy for the pool)
  CONV_2D 1x1 over 8 channels        kiln_dsp_pw8_s8 (activations kept in registers)
  CONV_2D to one or two channels, input channels a multiple of 4
                                      kiln_dsp_conv_narrow_s8 (taps read in place)
  CONV_2D 3x3, stride 1, >= 8 channels in and out
                                      kiln_dsp_wino_s8 (Winograd F(2x2, 3x3), exact)
  CONV_2D                             kiln_dsp_conv_s8
  DEPTHWISE_CONV_2D over one channel  kiln_dsp_conv_s8 (it is a convolution)
  DEPTHWISE_CONV_2D 3x3, stride 1 or 2, >= 36 outputs a channel and 6 along the longer side
                                      kiln_dsp_dw3x3_s8 (planar: SMLAD on tap pairs)
  DEPTHWISE_CONV_2D 5 taps wide, stride 1, >= 36 outputs a channel
                                      kiln_dsp_dw5_s8 (planar: SMLAD on tap pairs)
  DEPTHWISE_CONV_2D                   kiln_dsp_dwconv_s8
  FULLY_CONNECTED                     kiln_dsp_fc_s8
  MAX_POOL_2D / AVERAGE_POOL_2D       kiln_dsp_maxpool_s8 / kiln_dsp_avgpool_s8
  MEAN over the spatial axes          kiln_dsp_mean_s8
  RESIZE_BILINEAR                     kiln_dsp_resize_bilinear_s8
  REDUCE_MAX, REDUCE_MIN keeping the last axis
                                      kiln_dsp_reduce_minmax_s8
  MEAN, SUM keeping the last axis or over the trailing axes
                                      kiln_dsp_reduce_sum_s8
  ADD, SUB (broadcasting)             kiln_dsp_add_s8
  MUL (broadcasting)                  kiln_dsp_mul_s8
  SQUARED_DIFFERENCE (broadcasting)   kiln_dsp_sqdiff_s8
  BATCH_MATMUL (int8 activations), FULLY_CONNECTED with runtime weights
                                      kiln_dsp_matmul_s8
and, in the size layout, with int8 weights in flash:
  CONV_2D 3x3, stride 1, as above     kiln_dsp_wino_w8_s8 (U made at run time into the arena)
  CONV_2D, depthwise over one channel kiln_dsp_conv_w8_s8 (widened in chunks into the arena)
  DEPTHWISE_CONV_2D 3x3 as above      kiln_dsp_dw3x3_w8_s8 (each channel widened as it starts)
  DEPTHWISE_CONV_2D                   kiln_dsp_dwconv_w8_s8 (widened whole into the arena)
  FULLY_CONNECTED                     kiln_dsp_fc_w8_s8 (one SXTB16 a weight word)

Kernels marked wide_weights keep int16 copies of the weights in flash; a layer
kept to int8 weights (OPTIMIZE=size, or a model the speed layout would not
fit: kiln.codegen.layout) passes them over for their int8-weight sibling.

A channel whose requantization the four-instruction step cannot take (a zero
or large multiplier, a huge trained bias) keeps the kernel with an exact
record (dsp_layout.requant_records), so trained models do not fall back.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from kiln import dsp_layout as lay
from kiln import quantmath as qm
from kiln.codegen import portable as pt
from kiln.codegen.context import LayerContext, fmt
from kiln.codegen.cwriter import c_array, c_int
from kiln.codegen.geometry import U16, Geometry
from kiln.codegen.ops import elementwise, movement, spatial
from kiln.codegen.registry import KernelImpl, LayerCode, UnsupportedLayer, register
from kiln.ir import Graph, Operator, Tensor
from kiln.planner import is_scratch

HEADER = '#include "kiln/dsp.h"'
#: At stride 2 the planar kernel copies four inputs per output: measured on VWW's layers,
#: it beats kiln_dsp_dwconv_s8 on 12x12 outputs (3.40 against 3.89 instructions per MAC)
#: and 24x24 (3.71 against 4.38), not on 6x6 (3.86 against 3.65).
DW3X3_S2_MIN_LEN = 12
#: kiln_dsp_dw3x3_s8 beats kiln_dsp_dwconv_s8 from about this many outputs along the
#: output's longer side (the plane's rows) and per channel. Measured on the emulated M33:
#: 2.4 instructions per MAC against 4.4 at 48x48, 2.6 against 3.8 on DS-CNN's 25x5, 2.7
#: against 3.7 at 12x12, 3.55 against 3.63 at 6x6 (the per-row costs catch up there).
DW3X3_MIN_LEN = 6
DW3X3_MIN_OUTPUTS = 36
AVG_MAX_WINDOW = 256
#: kiln_dsp_wino_s8 shares each tile pair's input transform among the output channel
#: pairs and runs each position's dot product over in_c / 4 groups: below these it
#: does not beat kiln_dsp_conv_s8.
WINO_MIN_IN_C = 8
WINO_MIN_OUT_C = 8


def _t(g: Graph, i: int) -> Tensor | None:
    return g.tensors[i] if i >= 0 else None


def _int8_io(g: Graph, op: Operator) -> tuple[Tensor, Tensor]:
    x, y = g.tensors[op.inputs[0]], g.tensors[op.outputs[0]]
    if x.dtype != "int8" or y.dtype != "int8" or not x.quantized or not y.quantized:
        raise lay.Unfit("not an int8 layer")
    return x, y


def _act_range(op: Operator, y: Tensor) -> tuple[int, int]:
    return qm.activation_range(op.options.get("FusedActivationFunction", "NONE"), *y.qparams())


def _geometry(g: Graph, op: Operator) -> Geometry:
    """The layer's geometry (kiln.codegen.geometry), or Unfit."""
    try:
        return Geometry.of(g, op)
    except UnsupportedLayer as exc:
        raise lay.Unfit(str(exc)) from None


def _weights_ok(w: Tensor, channels: int, axis: int) -> None:
    if w.dtype != "int8" or not w.quantized or np.any(w.zero_point != 0):
        raise lay.Unfit("weights are not symmetric int8")
    if len(w.scale) not in (1, channels) or (len(w.scale) > 1 and w.quantized_dimension != axis):
        raise lay.Unfit("unsupported weight quantization axis")


def _bias(g: Graph, op: Operator) -> np.ndarray | None:
    b = _t(g, op.inputs[2]) if len(op.inputs) > 2 else None
    if b is None:
        return None
    if b.dtype != "int32" or not b.is_const:
        raise lay.Unfit("bias is not a constant int32 tensor")
    return np.asarray(b.data, dtype=np.int64).ravel()


def _conv_records(g: Graph, op: Operator, rows: np.ndarray, depthwise: bool) -> np.ndarray:
    x, y = _int8_io(g, op)
    w = g.tensors[op.inputs[1]]
    oc = rows.shape[0]
    _weights_ok(w, oc, 3 if depthwise else 0)
    (si, zi), (so, zo) = x.qparams(), y.qparams()
    mult, shift = qm.conv_multipliers(si, w.scale, so, oc)
    return lay.requant_records(rows, _bias(g, op), -zi, mult, shift, zo)


def _clamp_fields(lo: int, hi: int) -> dict:
    return {"clamp": int(lo > -128 or hi < 127), "act_min": lo, "act_max": hi}


def _rq_decl(ctx: LayerContext, rq: np.ndarray) -> str:
    """The layer's requantization records; counted in the model's constant bytes (16 per
    channel: what the flash fit of kiln.codegen.layout must see)."""
    ctx.consts.bytes += int(np.asarray(rq).size) * 4
    name = f"{ctx.prefix}_rq"
    rows = ",\n".join("    {" + ", ".join(c_int(v) for v in r) + "}" for r in rq)
    ctx.decls.append(f"static const kiln_dsp_rq_t {name}[{len(rq)}] = {{\n{rows}\n}};")
    return name


def _weights_decl(ctx: LayerContext, values: np.ndarray) -> str:
    """A per-layer int16 weight array; counted in the model's weight bytes."""
    ctx.consts.bytes += int(values.size) * 2
    name = f"{ctx.prefix}_w16"
    ctx.decls.append(c_array(name, "int16_t", values, align=8))
    return name


def _weights8_decl(ctx: LayerContext, values: np.ndarray) -> str:
    """A per-layer int8 weight array (the size layout); counted in the model's weight bytes."""
    ctx.consts.bytes += int(values.size)
    name = f"{ctx.prefix}_w8"
    ctx.decls.append(c_array(name, "int8_t", values, align=8))
    return name


def _stream_decl(ctx: LayerContext, values: np.ndarray) -> str:
    """A per-layer int32 weight stream (weights and records interleaved); counted in the
    model's weight bytes."""
    ctx.consts.bytes += int(values.size) * 4
    name = f"{ctx.prefix}_ws"
    ctx.decls.append(c_array(name, "int32_t", values, align=8))
    return name


def _records_decl(ctx: LayerContext, values: np.ndarray) -> str:
    """A per-layer int32 record array (weights and constants), 8-byte aligned."""
    ctx.consts.bytes += int(values.size) * 4
    name = f"{ctx.prefix}_rec"
    ctx.decls.append(c_array(name, "int32_t", values, align=8))
    return name


def _guard(fn):
    """accepts(): Unfit means 'not this kernel': the registry records the reason
    (the compiler's report shows it) and tries the next kernel."""
    def accepts(g: Graph, op: Operator) -> bool:
        try:
            fn(g, op)
        except lay.Unfit as exc:
            raise UnsupportedLayer(str(exc)) from None
        return True
    return accepts


def _build(fn):
    """build(): a condition that accepts() passed cannot fail here; report it if it does."""
    def build(ctx: LayerContext) -> LayerCode:
        try:
            return fn(ctx)
        except lay.Unfit as exc:
            raise UnsupportedLayer(f"dsp kernel: {exc}") from None
    return build


# ---- CONV_2D 3x3 over one channel, fused with the 2x2 max pool ----------------

def _fused_pool(g: Graph, op: Operator) -> Operator:
    """The MAX_POOL_2D that this CONV_2D can absorb, or Unfit."""
    y = op.outputs[0]
    users = g.consumers().get(y, [])
    if len(users) != 1 or y in g.outputs or any(t.alias_of == y for t in g.tensors):
        raise lay.Unfit("the convolution output has other readers")
    pool = g.ops[users[0]]
    o = pool.options
    if pool.op != "MAX_POOL_2D" or pool.inputs[0] != y:
        raise lay.Unfit("not followed by a max pool")
    if (o.get("FilterHeight"), o.get("FilterWidth"), o.get("StrideH"), o.get("StrideW"),
            o.get("Padding", "VALID")) != (2, 2, 2, 2, "VALID"):
        raise lay.Unfit("the max pool is not 2x2, stride 2, VALID")
    py = g.tensors[pool.outputs[0]]
    if py.dtype != "int8" or py.qparams() != g.tensors[y].qparams():
        raise lay.Unfit("the max pool changes quantization")
    return pool


def _conv1_check(g: Graph, op: Operator) -> tuple[Geometry, Operator, np.ndarray]:
    geo = _geometry(g, op)
    if (geo.in_c, geo.k_h, geo.k_w, geo.stride_h, geo.stride_w, geo.dil_h, geo.dil_w, geo.pad_top,
            geo.pad_left) != (1, 3, 3, 1, 1, 1, 1, 0, 0):
        raise lay.Unfit("not a 3x3 stride-1 VALID convolution over one channel")
    if geo.out_h != geo.in_h - 2 or geo.out_w != geo.in_w - 2 or geo.in_w < 4:
        raise lay.Unfit("unexpected output size")
    pool = _fused_pool(g, op)
    lo, hi = _act_range(op, g.tensors[op.outputs[0]])
    plo, phi = _act_range(pool, g.tensors[pool.outputs[0]])
    if max(lo, plo) > min(hi, phi):
        raise lay.Unfit("the two activation ranges do not overlap (one clamp cannot stand for both)")
    w = np.asarray(g.tensors[op.inputs[1]].data)
    rq = _conv_records(g, op, w.reshape(w.shape[0], -1), False)
    return geo, pool, rq


@_build
def _conv1_build(ctx: LayerContext) -> LayerCode:
    g, op = ctx.graph, ctx.op
    geo, pool, rq = _conv1_check(g, op)
    x, y = _int8_io(g, op)
    w = np.asarray(ctx.t(1).data)
    lo, hi = _act_range(op, y)
    plo, phi = _act_range(pool, g.tensors[pool.outputs[0]])
    lo, hi = max(lo, plo), min(hi, phi)
    ctx.decls.append(HEADER)
    # floor: a negative accumulator requantizes to the zero point or below, which
    # the clamp lifts to lo anyway, so the kernel may skip its rounding term.
    fields = dict(g=geo.c_init(), pool_h=geo.out_h // 2, pool_w=geo.out_w // 2, **_clamp_fields(lo, hi),
                  exact=lay.has_exact(rq), floor=int(lo >= y.qparams()[1]),
                  rec=_records_decl(ctx, lay.conv1_records(w, rq)))
    p = ctx.struct("kiln_dsp_conv1_pool_params_t", fields)
    # The pooled values go to the start of this layer's own output: the pool's
    # output may share memory with this layer's input (see kiln_dsp_copy).
    call = f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});"
    return LayerCode(ctx.decls, call, geo.macs(False), ctx.weight_bytes)


def _fused_copy_check(g: Graph, op: Operator) -> Operator:
    producer = g.producers().get(op.inputs[0])
    conv = g.ops[producer] if producer is not None else None
    if conv is None or conv.op != "CONV_2D":
        raise lay.Unfit("not after a convolution")
    _conv1_check(g, conv)
    return conv


@_build
def _fused_copy_build(ctx: LayerContext) -> LayerCode:
    _fused_copy_check(ctx.graph, ctx.op)
    x, y = ctx.t(0), ctx.t(0, outputs=True)
    ctx.decls.append(HEADER)
    if ctx.plan.offset(x.index) == ctx.plan.offset(y.index):
        return LayerCode(ctx.decls, "(void)0; /* max pool fused into the convolution, in place */")
    return LayerCode(ctx.decls, f"{ctx.func}({y.size}u, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});")


# ---- CONV_2D, general --------------------------------------------------------------

def _conv_check(g: Graph, op: Operator) -> tuple[Geometry, np.ndarray]:
    geo = _geometry(g, op)
    w = np.asarray(g.tensors[op.inputs[1]].data)
    return geo, _conv_records(g, op, w.reshape(w.shape[0], -1), False)


def _k_len(g: Graph, op: Operator) -> int:
    """The layer's K (taps x input channels; a depthwise layer run as a convolution has
    one input channel), rounded up to a multiple of 4."""
    w = g.tensors[op.inputs[1]]
    k = int(np.prod(w.shape[1:3] if op.op == "DEPTHWISE_CONV_2D" else w.shape[1:]))
    return k + (-k) % 4


def _k_len_of(w_ohwi: np.ndarray) -> int:
    k = int(np.prod(np.asarray(w_ohwi).shape[1:]))
    return k + (-k) % 4


def _im2col_bytes(k_len: int, in_c: int) -> int:
    """Two pixels of k_len int16 (im2col), and k_len bytes to gather a receptive field
    in when in_c is not a multiple of 4."""
    return 4 * k_len + (k_len if in_c % 4 else 0)


def _conv_scratch(g: Graph, op: Operator) -> int:
    """Arena bytes of kiln_dsp_conv_s8 (_im2col_bytes)."""
    return _im2col_bytes(_k_len(g, op), int(g.tensors[op.inputs[0]].shape[-1]))


def _conv8_scratch(g: Graph, op: Operator) -> int:
    """Arena bytes of kiln_dsp_conv_w8_s8: the im2col bytes, then a chunk of widened
    weights (dsp_layout.conv_w8_chunk_pairs)."""
    k_len, out_c = _k_len(g, op), int(g.tensors[op.outputs[0]].shape[-1])
    return _conv_scratch(g, op) + lay.conv_w8_pair_bytes(k_len) * lay.conv_w8_chunk_pairs(out_c, k_len)


def _conv_call(ctx: LayerContext, geo: Geometry, rq: np.ndarray, w_ohwi: np.ndarray,
               wide: bool = True, weights: dict | None = None) -> LayerCode:
    """The kiln_dsp_conv_s8 call for a layer with OHWI weights `w_ohwi` (or, not `wide`,
    the kiln_dsp_conv_w8_s8 call: int8 weights widened chunk by chunk; or the fields
    `weights` already declared, the block-sparse layout's)."""
    x, y = _int8_io(ctx.graph, ctx.op)
    k_len = _k_len_of(w_ohwi)
    ctx.decls.append(HEADER)
    # The im2col buffer (and the gather bytes after it, then the size layout's widened
    # weights) is arena scratch planned for this step (_conv_scratch).
    base = ctx.ptr(ctx.t(1, outputs=True), const=False)
    scratch = f"(int16_t *)(void *){base}"
    gather = f"(int8_t *){base} + {4 * k_len}" if geo.in_c % 4 else "0"
    records = None
    if weights is not None:
        pass
    elif wide:
        # the records travel in the weight stream (dsp_layout.conv_stream), not beside it
        weights = dict(w=f"(const int16_t *)(const void *){_stream_decl(ctx, lay.conv_stream(w_ohwi, rq))}")
        records = "0"
    else:
        wbuf = f"(int16_t *)(void *)((int8_t *){base} + {_im2col_bytes(k_len, geo.in_c)})"
        weights = dict(w8=_weights8_decl(ctx, lay.conv_weights8(w_ohwi)[0]), wbuf=wbuf,
                       chunk_pairs=lay.conv_w8_chunk_pairs(geo.out_c, k_len))
    lo, hi = _act_range(ctx.op, y)
    # floor: under a ReLU the requantization may skip the rounding term of negative
    # accumulators (kiln_dsp_requant_floor)
    fields = dict(g=geo.c_init(), k_len=k_len, pad_value=x.qparams()[1], **_clamp_fields(lo, hi),
                  exact=lay.has_exact(rq), floor=int(lo >= y.qparams()[1]),
                  **weights, rq=records or _rq_decl(ctx, rq), scratch=scratch, gather=gather)
    p = ctx.struct("kiln_dsp_conv_params_t", fields)
    call = f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});"
    return LayerCode(ctx.decls, call, geo.macs(False), ctx.weight_bytes)


def _builds(call: Callable[[LayerContext, bool], LayerCode]) -> tuple[Callable, Callable]:
    """The (speed, size) layout builders of a layer call taking `wide`."""
    return _build(lambda ctx: call(ctx, True)), _build(lambda ctx: call(ctx, False))


def _conv_layer(ctx: LayerContext, wide: bool) -> LayerCode:
    geo, rq = _conv_check(ctx.graph, ctx.op)
    return _conv_call(ctx, geo, rq, np.asarray(ctx.t(1).data), wide)


_conv_build, _conv8_build = _builds(_conv_layer)


# ---- CONV_2D 3x3, stride 1, by Winograd F(2x2, 3x3) ----------------------------------

def _wino_check(g: Graph, op: Operator) -> tuple[Geometry, np.ndarray]:
    geo, rq = _conv_check(g, op)
    if (geo.k_h, geo.k_w, geo.stride_h, geo.stride_w, geo.dil_h, geo.dil_w) != (3, 3, 1, 1, 1, 1):
        raise lay.Unfit("not a 3x3 stride-1 undilated convolution")
    if geo.in_c % 4 or geo.in_c < WINO_MIN_IN_C or geo.out_c < WINO_MIN_OUT_C:
        raise lay.Unfit(f"fewer than {WINO_MIN_IN_C} input channels (or not a multiple of 4) or "
                        f"fewer than {WINO_MIN_OUT_C} output channels")
    if not lay.wino_fits(np.asarray(g.tensors[op.inputs[1]].data)):
        raise lay.Unfit("weights so large that the transformed tile could leave int32")
    return geo, rq


def _wino_scratch(g: Graph, op: Operator) -> int:
    """Arena bytes of kiln_dsp_wino_s8: v (64 per input channel), m (256), the zero row."""
    in_c = int(g.tensors[op.inputs[0]].shape[-1])
    return 64 * in_c + 256 + in_c


#: kiln_dsp_wino_w8_s8 (the size layout) makes U, 64 * in_c bytes a channel pair, into
#: arena scratch. Fastest, each transform is made once per inference: the scratch keeps
#: every channel pair's U (the inputs transformed a tile pair at a time, as
#: kiln_dsp_wino_s8 does) or every tile pair's transformed inputs (64 * in_c bytes each, U
#: made a pair at a time). With less room U is made in equal blocks and the inputs are
#: transformed again for each block: a pass costs about 0.1M instructions on a 64-channel
#: 8x8 layer, about a tenth of it, and more of a layer with fewer output channels, so the
#: blocks are at most out_c / WINO_W8_CHANNELS_A_PASS passes (one below 32 channels), where
#: kiln_dsp_conv_w8_s8 would be as fast (measured on ResNet-8).
WINO_W8_CHANNELS_A_PASS = 16


def _wino8_configs(g: Graph, op: Operator) -> list[tuple[int, int, int, int]]:
    """kiln_dsp_wino_w8_s8's ways to run a layer, fastest first, each taking less scratch
    than the one before: (block pairs, vall, bytes of v, bytes of u)."""
    geo = _geometry(g, op)
    per = 64 * geo.in_c                       # one channel pair's U, one tile pair's inputs
    pairs = (geo.out_c + 1) // 2
    tile_pairs = (-(-geo.out_h // 2) * -(-geo.out_w // 2) + 1) // 2
    once = sorted([(pairs, 0, per, pairs * per), (1, 1, tile_pairs * per, per)], key=lambda c: c[2] + c[3])
    blocks = []
    for passes in range(2, max(1, geo.out_c // WINO_W8_CHANNELS_A_PASS) + 1):
        block = -(-pairs // passes)           # equal blocks
        blocks.append((block, 0, per, block * per))
    configs: list[tuple[int, int, int, int]] = []
    for c in once + blocks:
        if not configs or c[2] + c[3] < configs[-1][2] + configs[-1][3]:
            configs.append(c)
    return configs


def _wino8_choices(g: Graph, op: Operator) -> list[int]:
    """Arena bytes of kiln_dsp_wino_w8_s8 in each of its configurations: v, m (256), the
    zero row, u."""
    in_c = int(g.tensors[op.inputs[0]].shape[-1])
    return [v + 256 + in_c + u for _, _, v, u in _wino8_configs(g, op)]


def _wino8_scratch(g: Graph, op: Operator) -> int:
    """Arena bytes of kiln_dsp_wino_w8_s8 at its fastest."""
    return _wino8_choices(g, op)[0]


def _planned_scratch(ctx: LayerContext) -> int:
    """The bytes of arena scratch the planner gave the layer."""
    return next(int(ctx.graph.tensors[t].shape[0]) for t in ctx.op.outputs[1:]
                if t >= 0 and is_scratch(ctx.graph.tensors[t]))


def _wino_layer(ctx: LayerContext, wide: bool) -> LayerCode:
    geo, rq = _wino_check(ctx.graph, ctx.op)
    x, y = _int8_io(ctx.graph, ctx.op)
    ctx.decls.append(HEADER)
    base = ctx.ptr(ctx.t(1, outputs=True), const=False)
    v_bytes = 64 * geo.in_c
    w = np.asarray(ctx.t(1).data)
    block, vall = 1, 0
    if not wide:   # the configuration the planner made room for
        sized = dict(zip(_wino8_choices(ctx.graph, ctx.op), _wino8_configs(ctx.graph, ctx.op), strict=True))
        block, vall, v_bytes, _ = sized[_planned_scratch(ctx)]
    fields = dict(g=geo.c_init(), pad_value=x.qparams()[1], **_clamp_fields(*_act_range(ctx.op, y)),
                  exact=lay.has_exact(rq), rq=_rq_decl(ctx, rq), v=f"(int16_t *)(void *){base}",
                  m=f"(int32_t *)(void *)((int8_t *){base} + {v_bytes})",
                  zrow=f"(int8_t *){base} + {v_bytes + 256}")
    if wide:
        fields["w"] = _weights_decl(ctx, lay.wino_weights(w))
    else:
        fields.update(w8=_weights8_decl(ctx, lay.wino_weights8(w)),
                      u=f"(int16_t *)(void *)((int8_t *){base} + {v_bytes + 256 + geo.in_c})",
                      block=block, vall=vall)
    p = ctx.struct("kiln_dsp_wino_params_t", fields)
    call = f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});"
    return LayerCode(ctx.decls, call, geo.macs(False), ctx.weight_bytes)


_wino_build, _wino8_build = _builds(_wino_layer)


# ---- CONV_2D with one or two output channels -----------------------------------------

def _narrow_check(g: Graph, op: Operator) -> tuple[Geometry, np.ndarray]:
    geo, rq = _conv_check(g, op)
    if geo.out_c > 2 or geo.in_c % 4:
        raise lay.Unfit("more than two output channels, or input channels not a multiple of 4")
    return geo, rq


def _narrow_scratch(g: Graph, op: Operator) -> int:
    """Arena bytes of kiln_dsp_conv_narrow_s8: the zero-point row."""
    return int(g.tensors[op.inputs[0]].shape[-1])


@_build
def _narrow_build(ctx: LayerContext) -> LayerCode:
    geo, rq = _narrow_check(ctx.graph, ctx.op)
    x, y = _int8_io(ctx.graph, ctx.op)
    ctx.decls.append(HEADER)
    w = _weights_decl(ctx, lay.conv_narrow_weights(np.asarray(ctx.t(1).data)))
    fields = dict(g=geo.c_init(), pad_value=x.qparams()[1], **_clamp_fields(*_act_range(ctx.op, y)),
                  exact=lay.has_exact(rq), w=f"(const uint32_t *)(const void *){w}",
                  tapsum=ctx.array("tapsum", "int32_t", lay.tap_sums(np.asarray(ctx.t(1).data))),
                  rq=_rq_decl(ctx, rq), zrow=f"(int8_t *){ctx.ptr(ctx.t(1, outputs=True), const=False)}")
    p = ctx.struct("kiln_dsp_conv_narrow_params_t", fields)
    call = f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});"
    return LayerCode(ctx.decls, call, geo.macs(False), ctx.weight_bytes)


# ---- CONV_2D 1x1 over 8 channels ----------------------------------------------------

def _pw8_check(g: Graph, op: Operator) -> tuple[Geometry, np.ndarray]:
    geo, rq = _conv_check(g, op)
    if (geo.k_h, geo.k_w, geo.stride_h, geo.stride_w, geo.in_c) != (1, 1, 1, 1, 8):
        raise lay.Unfit("not a 1x1 stride-1 convolution over 8 channels")
    if _clamp_fields(*_act_range(op, g.tensors[op.outputs[0]]))["clamp"] or lay.has_exact(rq):
        raise lay.Unfit("a clamp or exact records (the general kernel has them)")
    return geo, rq


@_build
def _pw8_build(ctx: LayerContext) -> LayerCode:
    geo, rq = _pw8_check(ctx.graph, ctx.op)
    x, y = _int8_io(ctx.graph, ctx.op)
    w = np.asarray(ctx.t(1).data).reshape(geo.out_c, 8)
    ctx.decls.append(HEADER)
    lo, _ = _act_range(ctx.op, y)
    fields = dict(pixels=geo.out_h * geo.out_w, out_c=geo.out_c,
                  w=_weights_decl(ctx, lay.widened(w)), rq=_rq_decl(ctx, rq), floor=int(lo >= y.qparams()[1]))
    p = ctx.struct("kiln_dsp_pw8_params_t", fields)
    call = f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});"
    return LayerCode(ctx.decls, call, geo.macs(False), ctx.weight_bytes)


# ---- DEPTHWISE_CONV_2D -----------------------------------------------------------------

def _dw_check(g: Graph, op: Operator) -> tuple[Geometry, np.ndarray]:
    geo = _geometry(g, op)
    if geo.out_c != geo.in_c * geo.depth_mult:
        raise lay.Unfit("output channels are not input channels x depth multiplier")
    w = np.asarray(g.tensors[op.inputs[1]].data)
    rows = w.reshape(-1, geo.out_c).T            # [output channel][tap]
    return geo, _conv_records(g, op, rows, True)


def _dw_bytes(g: Graph, op: Operator) -> tuple[int, int, int]:
    """(zero-point row bytes rounded up to 4, tap table bytes, widened weight bytes) of the
    NHWC depthwise kernels' arena scratch, in that order: the row of zero points the padding
    taps read, each tap's source pointer and offset (in the arena, so that no kernel size is
    too large for them; room for 8-byte pointers aligned by the kernel, which the host
    check build's need), and kiln_dsp_dwconv_w8_s8's widened weights."""
    in_c = int(g.tensors[op.inputs[0]].shape[-1])
    w = g.tensors[op.inputs[1]]
    taps, out_c = int(np.prod(w.shape[1:3])), int(w.shape[-1])
    mult = out_c // in_c
    return in_c + (-in_c) % 4, 12 * taps + 4, mult * ((in_c + 3) // 4) * taps * 8


def _dw_scratch(g: Graph, op: Operator) -> int:
    """Arena bytes of kiln_dsp_dwconv_s8: the zero-point row and the tap table."""
    return sum(_dw_bytes(g, op)[:2])


def _dw8_check(g: Graph, op: Operator) -> tuple[Geometry, np.ndarray]:
    checked = _dw_check(g, op)
    if _dw_bytes(g, op)[2] > lay.DW_W8_MAX_BYTES:
        raise lay.Unfit(f"widened weights above {lay.DW_W8_MAX_BYTES} bytes of arena")
    return checked


def _dw8_scratch(g: Graph, op: Operator) -> int:
    """Arena bytes of kiln_dsp_dwconv_w8_s8: the zero-point row, the tap table, then the
    widened weights."""
    return sum(_dw_bytes(g, op))


def _dw_call(ctx: LayerContext, wide: bool) -> LayerCode:
    """The depthwise call with pre-widened int16 weights (`wide`) or int8 ones."""
    g, op = ctx.graph, ctx.op
    geo, rq = _dw_check(g, op)
    x, y = _int8_io(g, op)
    m = geo.depth_mult
    w = np.asarray(ctx.t(1).data)
    ctx.decls.append(HEADER)
    base = ctx.ptr(ctx.t(1, outputs=True), const=False)
    zrow, table, _ = _dw_bytes(g, op)
    if wide:
        weights = dict(w=_weights_decl(ctx, lay.dw_weights(w, m)))
    else:
        weights = dict(w8=_weights8_decl(ctx, lay.dw_weights8(w, m)),
                       wbuf=f"(int16_t *)(void *)((int8_t *){base} + {zrow + table})")
    fields = dict(g=geo.c_init(), pad_value=x.qparams()[1],
                  **_clamp_fields(*_act_range(op, y)), exact=lay.has_exact(rq), mult=m,
                  **weights, rq=_rq_decl(ctx, lay.dw_records(rq, m)), zrow=f"(int8_t *){base}",
                  taps=f"(void *)((int8_t *){base} + {zrow})")
    p = ctx.struct("kiln_dsp_dwconv_params_t", fields)
    call = f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});"
    return LayerCode(ctx.decls, call, geo.macs(True), ctx.weight_bytes)


_dw_build, _dw8_build = _builds(_dw_call)


# ---- DEPTHWISE_CONV_2D 3x3, planar ----------------------------------------------------------

def _dw3_plane(g: Graph, op: Operator) -> tuple[Geometry, lay.Dw3x3Plan]:
    """The layer's geometry and plane plan, or Unfit: kiln_dsp_dw3x3_s8's shape
    conditions (the records are _dw_check's)."""
    geo = _geometry(g, op)
    if (geo.k_h, geo.k_w, geo.dil_h, geo.dil_w, geo.depth_mult) != (3, 3, 1, 1, 1):
        raise lay.Unfit("not 3x3, undilated, depth multiplier 1")
    if (geo.stride_h, geo.stride_w) not in ((1, 1), (2, 2)):
        raise lay.Unfit("strides other than 1 or 2 along both axes")
    plan = lay.dw3x3_plan((geo.in_h, geo.in_w), (geo.out_h, geo.out_w), (geo.pad_top, geo.pad_left),
                          geo.in_c, geo.stride_h)
    if plan.stride == 2 and plan.len < DW3X3_S2_MIN_LEN:
        raise lay.Unfit(f"stride 2 with under {DW3X3_S2_MIN_LEN} outputs along the longer side "
                        "(slower than kiln_dsp_dwconv_s8 there)")
    if plan.len < DW3X3_MIN_LEN or geo.out_h * geo.out_w < DW3X3_MIN_OUTPUTS:
        raise lay.Unfit(f"under {DW3X3_MIN_LEN} outputs along the longer side or {DW3X3_MIN_OUTPUTS} "
                        "a channel (slower than kiln_dsp_dwconv_s8 there)")
    if plan.plane_bytes > lay.DW3X3_MAX_PLANE_BYTES:
        raise lay.Unfit(f"a channel's plane is above {lay.DW3X3_MAX_PLANE_BYTES} bytes")
    return geo, plan


def _dw3_check(g: Graph, op: Operator) -> tuple[Geometry, np.ndarray, lay.Dw3x3Plan]:
    geo, plan = _dw3_plane(g, op)
    return geo, _dw_check(g, op)[1], plan


def _dw3_scratch(g: Graph, op: Operator) -> int:
    """Arena bytes of kiln_dsp_dw3x3_s8: its int16 planes (one, or four channels'), then a
    batch of output rows of int32 accumulators (Dw3x3Plan.scratch_bytes)."""
    return _dw3_plane(g, op)[1].scratch_bytes


def _dw3_call(ctx: LayerContext, wide: bool) -> LayerCode:
    """The planar depthwise call with pre-widened int16 weights (`wide`) or int8 ones."""
    geo, rq, plan = _dw3_check(ctx.graph, ctx.op)
    x, y = _int8_io(ctx.graph, ctx.op)
    base = ctx.ptr(ctx.t(1, outputs=True), const=False)
    ctx.decls.append(HEADER)
    w = np.asarray(ctx.t(1).data)
    if wide:
        weights = dict(w=_weights_decl(ctx, lay.dw3x3_weights(w, plan.transposed)))
    else:
        weights = dict(w8=_weights8_decl(ctx, lay.dw3x3_weights8(w, plan.transposed)))
    lo, hi = _act_range(ctx.op, y)
    # floor: under a ReLU (act_min at or above the zero point) the requantization may
    # skip its rounding term for negative accumulators (kiln_dsp_requant_floor)
    fields = dict(**plan.fields(), channels=geo.in_c, pad_value=x.qparams()[1],
                  **_clamp_fields(lo, hi), exact=lay.has_exact(rq), floor=int(lo >= y.qparams()[1]),
                  **weights, rq=_rq_decl(ctx, rq),
                  plane=f"(int16_t *)(void *){base}",
                  acc=f"(int32_t *)(void *)((int8_t *){base} + {plan.planes * plan.plane_bytes})")
    p = ctx.struct("kiln_dsp_dw3x3_params_t", fields)
    call = f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});"
    return LayerCode(ctx.decls, call, geo.macs(True), ctx.weight_bytes)


_dw3_build, _dw3_8_build = _builds(_dw3_call)


# ---- DEPTHWISE_CONV_2D with 5-tap kernel rows, planar -----------------------------------------

#: kiln_dsp_dw5_s8's accumulators: as many output rows as fit (at least one).
DW5_ACC_BYTES = 4096
#: Below this many outputs a channel the NHWC kernel is as fast (measured: 3x3 outputs).
DW5_MIN_OUTPUTS = 36


def _dw5_plane(g: Graph, op: Operator) -> tuple[Geometry, int, int, int]:
    """The geometry, plane width and rows, and band of kiln_dsp_dw5_s8, or Unfit."""
    geo = _geometry(g, op)
    if (geo.k_w, geo.dil_h, geo.dil_w, geo.depth_mult, geo.stride_h, geo.stride_w) != (5, 1, 1, 1, 1, 1):
        raise lay.Unfit("not 5 taps wide, stride 1, undilated, depth multiplier 1")
    if geo.out_h * geo.out_w < DW5_MIN_OUTPUTS:
        raise lay.Unfit(f"under {DW5_MIN_OUTPUTS} outputs a channel (kiln_dsp_dwconv_s8 is as fast)")
    pw = 2 * -(-geo.out_w // 2) + 4      # the last pair's third word ends 5 columns on
    ph = geo.out_h - 1 + geo.k_h
    if pw * ph * 2 > lay.DW3X3_MAX_PLANE_BYTES:
        raise lay.Unfit(f"a channel's plane is above {lay.DW3X3_MAX_PLANE_BYTES} bytes")
    band = max(1, min(geo.out_h, DW5_ACC_BYTES // (4 * (geo.out_w + 1))))
    return geo, pw, ph, band


def _plane_bytes(pw: int, ph: int) -> int:
    return (2 * pw * ph + 3) // 4 * 4


def _dw5_scratch(g: Graph, op: Operator) -> int:
    """Arena bytes of kiln_dsp_dw5_s8: one channel's int16 plane (rounded up to a word),
    then a band of output rows of int32 accumulators (each one longer)."""
    geo, pw, ph, band = _dw5_plane(g, op)
    return _plane_bytes(pw, ph) + 4 * (geo.out_w + 1) * band


def _dw5_check(g: Graph, op: Operator) -> tuple[Geometry, int, int, int, np.ndarray]:
    return (*_dw5_plane(g, op), _dw_check(g, op)[1])


@_build
def _dw5_build(ctx: LayerContext) -> LayerCode:
    geo, pw, ph, band, rq = _dw5_check(ctx.graph, ctx.op)
    x, y = _int8_io(ctx.graph, ctx.op)
    base = ctx.ptr(ctx.t(1, outputs=True), const=False)
    ctx.decls.append(HEADER)
    w = _weights_decl(ctx, lay.dw5_weights(np.asarray(ctx.t(1).data)))
    fields = dict(g=geo.c_init(), pw=pw, ph=ph, band=band, pad_value=x.qparams()[1],
                  **_clamp_fields(*_act_range(ctx.op, y)), exact=lay.has_exact(rq),
                  w=f"(const uint32_t *)(const void *){w}", rq=_rq_decl(ctx, rq),
                  plane=f"(int16_t *)(void *){base}",
                  acc=f"(int32_t *)(void *)((int8_t *){base} + {_plane_bytes(pw, ph)})")
    p = ctx.struct("kiln_dsp_dw5_params_t", fields)
    call = f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});"
    return LayerCode(ctx.decls, call, geo.macs(True), ctx.weight_bytes)


def _dw_as_conv_check(g: Graph, op: Operator) -> tuple[Geometry, np.ndarray]:
    """A depthwise layer over one input channel is a convolution with out_c
    filters: the conv kernel fills all its lanes where the depthwise one would
    use one in four."""
    geo = _geometry(g, op)
    if geo.in_c != 1:
        raise lay.Unfit("more than one input channel")
    w = np.asarray(g.tensors[op.inputs[1]].data)
    return geo, _conv_records(g, op, w.reshape(-1, geo.out_c).T, True)


def _dw_as_conv_call(ctx: LayerContext, wide: bool) -> LayerCode:
    geo, rq = _dw_as_conv_check(ctx.graph, ctx.op)
    w = np.asarray(ctx.t(1).data)                      # [1][kh][kw][out_c]
    return _conv_call(ctx, geo, rq, np.ascontiguousarray(w.transpose(3, 1, 2, 0)), wide)


_dw_as_conv_build, _dw_as_conv8_build = _builds(_dw_as_conv_call)


# ---- FULLY_CONNECTED -------------------------------------------------------------------------

def _fc_check(g: Graph, op: Operator) -> tuple[int, int, int, np.ndarray]:
    x, y = _int8_io(g, op)
    w = _t(g, op.inputs[1])
    if w is None or not w.is_const or len(w.shape) != 2 or op.options.get("WeightsFormat", 0) != 0:
        raise lay.Unfit("weights are not a constant 2-D tensor")
    out_n, in_n = w.shape
    if x.size % in_n or y.size != (x.size // in_n) * out_n:
        raise lay.Unfit("the input is not whole rows of the weights' length")
    _weights_ok(w, out_n, 0)
    (si, zi), (so, zo) = x.qparams(), y.qparams()
    if len(w.scale) > 1:
        mult, shift = qm.conv_multipliers(si, w.scale, so, out_n)
    else:
        m, s = qm.fc_multiplier(si, float(w.scale[0]), so)
        mult, shift = [m] * out_n, [s] * out_n
    rq = lay.requant_records(np.asarray(w.data), _bias(g, op), -zi, mult, shift, zo)
    return x.size // in_n, in_n, out_n, rq


def _fc_call(ctx: LayerContext, wide: bool) -> LayerCode:
    """The FC call with pre-widened int16 weights (`wide`, the speed layout) or int8 ones."""
    batches, in_n, out_n, rq = _fc_check(ctx.graph, ctx.op)
    x, y = ctx.t(0), ctx.t(0, outputs=True)
    w = np.asarray(ctx.t(1).data)
    ctx.decls.append(HEADER)
    if wide:
        weights = dict(w=_weights_decl(ctx, lay.fc_weights(w)))
    else:
        # the input's split words are arena scratch planned for this step (_fc8_scratch)
        split = f"(uint32_t *)(void *){ctx.ptr(ctx.t(1, outputs=True), const=False)}"
        weights = dict(w8=_weights8_decl(ctx, lay.fc_weights8(w)), split=split)
        rq = lay.fc_records8(rq, w)
    fields = dict(batches=batches, in_n=in_n, out_n=out_n, **_clamp_fields(*_act_range(ctx.op, y)),
                  exact=lay.has_exact(rq), **weights, rq=_rq_decl(ctx, rq))
    p = ctx.struct("kiln_dsp_fc_params_t", fields)
    call = f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});"
    return LayerCode(ctx.decls, call, batches * in_n * out_n, ctx.weight_bytes)


_fc_build, _fc8_build = _builds(_fc_call)


def _fc8_scratch(g: Graph, op: Operator) -> int:
    """Arena bytes of kiln_dsp_fc_w8_s8: one batch row's input split into SMLAD words
    (fc_w8_s8.c), two words per group of 4, after the row's correction word."""
    return 4 + 8 * -(-int(g.tensors[op.inputs[1]].shape[1]) // 4)


def _fc_rows_check(g: Graph, op: Operator) -> tuple[Geometry, np.ndarray]:
    """A dense layer over several input rows (a sequence's projections, a token-wise
    feed-forward) as a 1x1 convolution over a row of `batches` pixels: the conv kernel's
    2x2 blocks share every widened input word between two output channels and every
    weight word between two rows, and requantize in its pair loop, where the FC kernel
    takes the rows one at a time. Same sums, records and clamp: the same bits."""
    batches, in_n, out_n, rq = _fc_check(g, op)
    # Measured on the M33: 2 rows of 64 -> 10, 1,750 -> 1,300 instructions; 16 rows of
    # 32 -> 64, 58,700 -> 29,850. Odd rows cost the conv kernel a pixel computed twice and
    # a ragged input its gather step, which three rows or 7 inputs do not win back.
    if batches < 2 or (batches % 2 and batches < 5):
        raise lay.Unfit("fewer than two input rows (or three)")
    if in_n % 4:
        raise lay.Unfit("an input row not a multiple of 4 bytes")
    if max(batches, in_n, out_n) > U16:
        raise lay.Unfit("a dimension exceeds the kernels' 16-bit fields")
    return Geometry(1, batches, in_n, 1, batches, out_n, 1, 1, 1, 1, 1, 1, 0, 0), rq


def _fc_rows_call(ctx: LayerContext, wide: bool) -> LayerCode:
    geo, rq = _fc_rows_check(ctx.graph, ctx.op)
    w = np.asarray(ctx.t(1).data)
    return _conv_call(ctx, geo, rq, w.reshape(geo.out_c, 1, 1, geo.in_c), wide)


_fc_rows_build, _fc_rows8_build = _builds(_fc_rows_call)


# ---- pooling ----------------------------------------------------------------------------------

def _pool_check(g: Graph, op: Operator) -> None:
    x, y = _int8_io(g, op)
    if x.qparams() != y.qparams() or len(x.shape) != 4 or x.shape[0] != 1:
        raise lay.Unfit("quantization differs or not 4-D")
    o = op.options
    if op.op == "AVERAGE_POOL_2D" and o["FilterHeight"] * o["FilterWidth"] > AVG_MAX_WINDOW:
        raise lay.Unfit(f"window above {AVG_MAX_WINDOW} pixels")


def _portable_refusal(accepts, g: Graph, op: Operator):  # noqa: ANN001, ANN201 - a portable check
    """A portable kernel's accepts() (or parameter builder) and what it returns: its
    refusal is this kernel's Unfit."""
    try:
        return accepts(g, op)
    except UnsupportedLayer as exc:
        raise lay.Unfit(str(exc)) from None


def _mean_check(g: Graph, op: Operator) -> None:
    x, y = _int8_io(g, op)
    if movement._equal_qparams(x, y):
        # tflite-micro still requantizes there, as movement's kiln_reduce_s8 does
        raise lay.Unfit("input and output quantization are equal")
    _portable_refusal(pt._mean_accepts, g, op)


def _resize_check(g: Graph, op: Operator) -> None:
    """RESIZE_BILINEAR whose positions keep kiln_dsp_resize_bilinear_s8's sums in 32 bits."""
    x, y = _int8_io(g, op)
    _portable_refusal(spatial._resize_accepts, g, op)
    ac, hp = bool(op.options.get("AlignCorners")), bool(op.options.get("HalfPixelCenters"))
    for n_in, n_out in ((x.shape[1], y.shape[1]), (x.shape[2], y.shape[2])):
        pos = spatial.bilinear_int(int(n_in), int(n_out), ac, hp)[2]
        if pos and not -512 <= min(pos) <= max(pos) < 1024:
            raise lay.Unfit("a position outside [-512, 1024) would leave the 32-bit sums")


def _minmax_check(g: Graph, op: Operator) -> None:
    """REDUCE_MAX / REDUCE_MIN keeping the input's last axis, at least 4 long."""
    x, _ = _int8_io(g, op)
    _portable_refusal(movement._reduce_accepts, g, op)
    if len(x.shape) - 1 in movement._reduce_axes(g, op) or x.shape[-1] < 4:
        raise lay.Unfit("the reduction takes in the last axis, or it is under 4 long")


def _with_portable_params(check, portable):  # noqa: ANN001, ANN202 - check(), a portable build()
    """build() of a dsp kernel that takes its portable twin's parameter struct: `check`,
    then the portable builder (which names ctx.func, the dsp kernel, in the call)."""
    @_build
    def build(ctx: LayerContext) -> LayerCode:
        check(ctx.graph, ctx.op)
        code = portable(ctx)
        code.decls.insert(0, HEADER)
        return code
    return build


_pool_build = _with_portable_params(_pool_check, pt._pool_s8)
_mean_build = _with_portable_params(_mean_check, pt._mean_s8)
_resize_build = _with_portable_params(_resize_check, spatial._resize_bilinear)
_minmax_build = _with_portable_params(_minmax_check, movement._reduce)


def _sum_check(g: Graph, op: Operator) -> None:
    """MEAN / SUM on the general path keeping the last axis over at most 256 rows, or
    reducing the trailing axes."""
    x, _ = _int8_io(g, op)
    _portable_refusal(movement._reduce_accepts, g, op)
    axes, rank = movement._reduce_axes(g, op), len(x.shape)
    kept = [d for d in range(rank) if d not in axes and x.shape[d] != 1]
    if axes and axes == list(range(axes[0], rank)):
        return                                     # each output's elements are one run
    if kept and kept[-1] == rank - 1 and x.shape[-1] >= 4:
        if int(np.prod([x.shape[d] for d in axes])) > 256:
            raise lay.Unfit("more than 256 reduced rows would overflow the 16-bit lane sums")
        return
    raise lay.Unfit("the reduction neither keeps the last axis nor takes the trailing ones")


_sum_build = _with_portable_params(_sum_check, movement._reduce)


# ---- ADD, SUB, MUL, SQUARED_DIFFERENCE ----------------------------------------------------------------

def _broadcast_walk(a: tuple, b: tuple, y: tuple) -> tuple[list[int], list[int], list[int]]:
    """(shape, a_stride, b_stride) of kiln_dsp_binary_params_t: the output's dimensions
    above 1, adjacent ones merged where both inputs broadcast alike (so the innermost row
    is as long as it can be), at most four; element strides, 0 where broadcast."""
    rank = len(y)
    if max(len(a), len(b)) > rank:
        raise lay.Unfit(f"an input has more dimensions than the output {list(y)}")
    a, b = (1,) * (rank - len(a)) + tuple(a), (1,) * (rank - len(b)) + tuple(b)
    dims: list[list[int]] = []   # [size, a advances, b advances]
    for o, da, db in zip(y, a, b, strict=True):
        if da not in (1, o) or db not in (1, o):
            raise lay.Unfit(f"shapes {list(a)} and {list(b)} do not broadcast to {list(y)}")
        if o == 1:
            continue
        flags = [int(da == o), int(db == o)]
        if dims and dims[-1][1:] == flags:
            dims[-1][0] *= o
        else:
            dims.append([o, *flags])
    dims = dims or [[1, 0, 0]]
    if len(dims) > 4:
        raise lay.Unfit("more than four broadcast dimensions after merging")
    dims = [[1, 0, 0]] * (4 - len(dims)) + dims
    strides = []
    for k in (1, 2):
        acc, st = 1, [0] * 4
        for d in range(3, -1, -1):
            if dims[d][k]:
                st[d] = acc
                acc *= dims[d][0]
        strides.append(st)
    return [d[0] for d in dims], strides[0], strides[1]


def _binary_check(g: Graph, op: Operator) -> dict:
    """ADD, SUB, MUL and SQUARED_DIFFERENCE: the kiln_dsp_binary_params_t fields (tables
    as arrays)."""
    if len(op.inputs) != 2:
        raise lay.Unfit("needs two inputs")
    a, b, y = g.tensors[op.inputs[0]], g.tensors[op.inputs[1]], g.tensors[op.outputs[0]]
    if any(t.dtype != "int8" or not t.quantized or len(t.scale) != 1 for t in (a, b, y)):
        raise lay.Unfit("not per-tensor int8")
    shape, sa_, sb_ = _broadcast_walk(a.shape, b.shape, y.shape)
    (sa, za), (sb, zb), (so, zo) = a.qparams(), b.qparams(), y.qparams()
    f: dict = dict(shape=shape, a_stride=sa_, b_stride=sb_, **_clamp_fields(*_act_range(op, y)),
                   a_tab=None, b_tab=None, a_offset=-za, b_offset=-zb)
    if op.op == "MUL":
        q = qm.mul_params(sa, sb, so)
        bound = 2 * lay.max_abs_input(-za) * lay.max_abs_input(-zb)
    elif op.op == "SQUARED_DIFFERENCE":
        # the tables hold each input's scaled value itself (add_tables doubles it): the
        # kernel squares their difference and doubles the square
        q = elementwise.sqdiff_params(sa, sb, so)
        f["a_tab"] = lay.add_tables(-za, q["left_shift"], q["a_mult"], q["a_shift"]) // 2
        f["b_tab"] = -(lay.add_tables(-zb, q["left_shift"], q["b_mult"], q["b_shift"]) // 2)
        bound = 2 * int(np.abs(f["a_tab"]).max() + np.abs(f["b_tab"]).max()) ** 2
    else:
        q = qm.add_params(sa, sb, so)
        f["a_tab"] = lay.add_tables(-za, q["left_shift"], q["a_mult"], q["a_shift"])
        f["b_tab"] = lay.add_tables(-zb, q["left_shift"], q["b_mult"], q["b_shift"])
        if op.op == "SUB":
            if max(q["a_shift"], q["b_shift"]) > 0:  # the portable SUB refuses these too
                raise lay.Unfit("SUB input multiplier above one")
            f["b_tab"] = -f["b_tab"]
        bound = int(np.abs(f["a_tab"]).max() + np.abs(f["b_tab"]).max())
    f["mult"], f["round"], f["shift"] = lay.output_record(bound, q["out_mult"], q["out_shift"], zo)
    return f


@_build
def _binary_build(ctx: LayerContext) -> LayerCode:
    f = _binary_check(ctx.graph, ctx.op)
    a, b, y = ctx.t(0), ctx.t(1), ctx.t(0, outputs=True)
    ctx.decls.append(HEADER)
    for key in ("a_tab", "b_tab"):
        f[key] = "NULL" if f[key] is None else ctx.array(key, "int32_t", f[key])
    p = ctx.struct("kiln_dsp_binary_params_t", f)
    call = f"{ctx.func}({p}, {ctx.ptr(a)}, {ctx.ptr(b)}, {ctx.ptr(y, const=False)});"
    return LayerCode(ctx.decls, call, 0, ctx.weight_bytes)


def _minmax_ew_check(g: Graph, op: Operator) -> None:
    """MAXIMUM and MINIMUM compare raw values: both inputs and the output share one
    scale and zero point (the portable builder's own condition, checked first here)."""
    if len(op.inputs) != 2 or min(op.inputs) < 0:
        raise lay.Unfit("needs two inputs")
    elementwise._need_same_qparams([g.tensors[i] for i in (*op.inputs, op.outputs[0])])


def _minmax_ew_build(ctx: LayerContext) -> LayerCode:
    """The portable kernel's parameters with the broadcast walk merged as the binary dsp
    kernels' (_broadcast_walk): a same-shape or scalar operand makes one long row."""
    a, b, y = ctx.t(0), ctx.t(1), ctx.t(0, outputs=True)
    shape, sa, sb = _broadcast_walk(a.shape, b.shape, y.shape)
    pad = elementwise.RANK - len(shape)
    bc = {"shape": [1] * pad + shape, "stride": [[0] * pad + sa, [0] * pad + sb, [0] * elementwise.RANK]}
    zero = dict(a_offset=0, b_offset=0, out_offset=0, left_shift=0, a_mult=0, a_shift=0, b_mult=0,
                b_shift=0, out_mult=0, out_shift=0, act_min=-128, act_max=127)
    p = ctx.struct("kiln_ew_binary_s8_params_t", elementwise._fmt_bc({"bc": bc, **zero}))
    return LayerCode(ctx.decls, f"{ctx.func}({p}, {ctx.ptr(a)}, {ctx.ptr(b)}, {ctx.ptr(y, const=False)});")


# ---- BATCH_MATMUL, FULLY_CONNECTED with runtime weights -------------------------------------

def _matmul_check(g: Graph, op: Operator) -> tuple[dict, np.ndarray]:
    """The portable kernel's fields and the one requantization record."""
    if any(g.tensors[i].dtype != "int8" for i in (*op.inputs[:2], op.outputs[0])):
        raise lay.Unfit("not int8")
    f = _portable_refusal(spatial.batch_matmul_fields, g, op)
    rec = lay.matmul_record(f["depth"], f["lhs_offset"], f["rhs_offset"], f["mult"], f["shift"],
                            f["out_offset"])
    return f, rec


def _matmul_scratch(g: Graph, op: Operator) -> int:
    """Arena bytes of kiln_dsp_matmul_s8: both operands of one batch as int16 rows."""
    f, _ = _matmul_check(g, op)
    return 2 * _depth4(f) * (f["rows"] + f["cols"])


def _depth4(f: dict) -> int:
    """kiln_dsp_matmul_s8's packed row length: the depth rounded up to a multiple of 4."""
    return (f["depth"] + 3) // 4 * 4


@_build
def _matmul_build(ctx: LayerContext) -> LayerCode:
    f, rec = _matmul_check(ctx.graph, ctx.op)
    ctx.decls.append(HEADER)
    base = ctx.ptr(ctx.t(1, outputs=True), const=False)
    lw_bytes = 2 * _depth4(f) * f["rows"]
    mm = "{" + ", ".join(f".{k} = {fmt(v)}" for k, v in f.items()) + "}"
    p = ctx.struct("kiln_dsp_matmul_params_t", dict(
        mm=mm, rq="{" + ", ".join(c_int(int(v)) for v in rec) + "}",
        lw=f"(int16_t *)(void *){base}", rw=f"(int16_t *)(void *)((int8_t *){base} + {lw_bytes})"))
    a, b, y = ctx.t(0), ctx.t(1), ctx.t(0, outputs=True)
    call = f"{ctx.func}({p}, {ctx.ptr(a)}, {ctx.ptr(b)}, {ctx.ptr(y, const=False)});"
    return LayerCode(ctx.decls, call, spatial.matmul_macs(f), ctx.weight_bytes)


def _register() -> None:
    """Register the dsp set; later registrations are tried first."""
    # Kernels whose weights are pre-widened to int16 in flash (twice the model's bytes):
    # the size layout (OPTIMIZE) passes them over.
    # (kiln_dsp_copy only finishes kiln_dsp_conv1_pool_s8's fused pool.)
    wide = {"kiln_dsp_conv_s8", "kiln_dsp_conv1_pool_s8", "kiln_dsp_copy", "kiln_dsp_dwconv_s8",
            "kiln_dsp_dw3x3_s8", "kiln_dsp_dw5_s8", "kiln_dsp_fc_s8", "kiln_dsp_pw8_s8",
            "kiln_dsp_wino_s8", "kiln_dsp_conv_narrow_s8"}
    for op, func, check, build, scratch in [
        # first, so tried last: the FC kernels take every layer with constant weights
        ("FULLY_CONNECTED", "kiln_dsp_matmul_s8", _matmul_check, _matmul_build, _matmul_scratch),
        ("FULLY_CONNECTED", "kiln_dsp_fc_w8_s8", _fc_check, _fc8_build, _fc8_scratch),
        ("FULLY_CONNECTED", "kiln_dsp_conv_w8_s8", _fc_rows_check, _fc_rows8_build, _conv8_scratch),
        ("CONV_2D", "kiln_dsp_conv_w8_s8", _conv_check, _conv8_build, _conv8_scratch),
        ("CONV_2D", "kiln_dsp_wino_w8_s8", _wino_check, _wino8_build, _wino8_scratch),
        ("DEPTHWISE_CONV_2D", "kiln_dsp_dwconv_w8_s8", _dw8_check, _dw8_build, _dw8_scratch),
        ("DEPTHWISE_CONV_2D", "kiln_dsp_dw3x3_w8_s8", _dw3_check, _dw3_8_build, _dw3_scratch),
        ("DEPTHWISE_CONV_2D", "kiln_dsp_conv_w8_s8", _dw_as_conv_check, _dw_as_conv8_build,
         _conv8_scratch),
        ("CONV_2D", "kiln_dsp_conv_s8", _conv_check, _conv_build, _conv_scratch),
        ("CONV_2D", "kiln_dsp_wino_s8", _wino_check, _wino_build, _wino_scratch),
        ("CONV_2D", "kiln_dsp_pw8_s8", _pw8_check, _pw8_build, None),
        ("CONV_2D", "kiln_dsp_conv1_pool_s8", _conv1_check, _conv1_build, None),
        ("CONV_2D", "kiln_dsp_conv_narrow_s8", _narrow_check, _narrow_build, _narrow_scratch),
        ("MAX_POOL_2D", "kiln_dsp_maxpool_s8", _pool_check, _pool_build, None),
        ("MAX_POOL_2D", "kiln_dsp_copy", _fused_copy_check, _fused_copy_build, None),
        ("AVERAGE_POOL_2D", "kiln_dsp_avgpool_s8", _pool_check, _pool_build, None),
        ("MEAN", "kiln_dsp_mean_s8", _mean_check, _mean_build, None),
        ("RESIZE_BILINEAR", "kiln_dsp_resize_bilinear_s8", _resize_check, _resize_build, None),
        ("REDUCE_MAX", "kiln_dsp_reduce_minmax_s8", _minmax_check, _minmax_build, None),
        ("REDUCE_MIN", "kiln_dsp_reduce_minmax_s8", _minmax_check, _minmax_build, None),
        ("MEAN", "kiln_dsp_reduce_sum_s8", _sum_check, _sum_build, None),
        ("SUM", "kiln_dsp_reduce_sum_s8", _sum_check, _sum_build, None),
        ("DEPTHWISE_CONV_2D", "kiln_dsp_dwconv_s8", _dw_check, _dw_build, _dw_scratch),
        ("DEPTHWISE_CONV_2D", "kiln_dsp_dw3x3_s8", _dw3_check, _dw3_build, _dw3_scratch),
        ("DEPTHWISE_CONV_2D", "kiln_dsp_dw5_s8", _dw5_check, _dw5_build, _dw5_scratch),
        ("DEPTHWISE_CONV_2D", "kiln_dsp_conv_s8", _dw_as_conv_check, _dw_as_conv_build,
         _conv_scratch),
        ("FULLY_CONNECTED", "kiln_dsp_fc_s8", _fc_check, _fc_build, None),
        ("FULLY_CONNECTED", "kiln_dsp_conv_s8", _fc_rows_check, _fc_rows_build, _conv_scratch),
        ("ADD", "kiln_dsp_add_s8", _binary_check, _binary_build, None),
        ("SUB", "kiln_dsp_add_s8", _binary_check, _binary_build, None),
        ("MUL", "kiln_dsp_mul_s8", _binary_check, _binary_build, None),
        ("SQUARED_DIFFERENCE", "kiln_dsp_sqdiff_s8", _binary_check, _binary_build, None),
        ("MAXIMUM", "kiln_dsp_maximum_s8", _minmax_ew_check, _build(_minmax_ew_build), None),
        ("MINIMUM", "kiln_dsp_minimum_s8", _minmax_ew_check, _build(_minmax_ew_build), None),
        ("BATCH_MATMUL", "kiln_dsp_matmul_s8", _matmul_check, _matmul_build, _matmul_scratch),
    ]:
        register(KernelImpl(op=op, dtype="int8", kernel_set="dsp", func=func, build=build,
                            accepts=_guard(check), header="kiln/dsp.h", scratch=scratch,
                            fuses_next=func == "kiln_dsp_conv1_pool_s8", wide_weights=func in wide,
                            scratch_choices=_wino8_choices if func == "kiln_dsp_wino_w8_s8" else None))


_register()

# The table kernels (LOGISTIC, TANH, SOFTMAX, QUANTIZE, DEQUANTIZE), the float32 ones for
# the FPU, TRANSPOSE and the block-sparse ones live in modules of their own.
from kiln import (  # noqa: E402
    kernels_dsp_float,  # noqa: F401 - registers them
    kernels_dsp_movement,  # noqa: F401 - registers them
    kernels_dsp_sparse,  # noqa: F401 - registers them (after the dense kernels: tried first)
    kernels_dsp_tables,  # noqa: F401 - registers them
)
