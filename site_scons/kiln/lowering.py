"""Graph rewrites that let optimized kernels run an operator they have no kernel of.

An int8 TRANSPOSE_CONV becomes a CONV_2D, then (at stride s > 1) a
DEPTH_TO_SPACE and a crop (SLICE), so that it runs on the optimized
convolution kernels instead of the portable scatter loop (about 7
instructions per MAC).

Why it is exact: output y of a transposed convolution sums, over the taps
k with (y + pad - k) divisible by s, input (y + pad - k) / s times tap k.
Writing y + pad = s q + r, the taps of output phase r are k = r + s m and
their inputs q - m: a stride-1 convolution over the input whose kernel is
that phase's taps, reversed. All s * s phases share one window of
Kc = ceil(K / s) rows and columns (a phase with fewer taps has zeros), so
one CONV_2D with s * s * O filters computes every phase at every q, and
DEPTH_TO_SPACE(s) lays phase (ry, rx) of q at output position
(s qy + ry, s qx + rx); the crop drops what lies outside the output. The
sums are the same integers the reference adds (an input outside the
picture is the zero point, which contributes nothing), and the bias, the
per-channel multipliers and the activation are the transposed
convolution's, channel for channel: the outputs are bit-identical.

The window costs Kc^2 s^2 / K^2 of the useful MACs: 1 for K = 2 or 4 at
stride 2 and any K at stride 1, 16/9 for K = 3 at stride 2.
"""

from __future__ import annotations

import numpy as np

from kiln.codegen.geometry import PAD_LEFT, PAD_TOP
from kiln.codegen.ops.spatial import transpose_conv_macs, transpose_conv_padding
from kiln.ir import Graph, Operator, Tensor

#: The option naming what a rewritten operator's parts stand for: (the model operator's
#: output name, its operator, the part's share of its MACs), as the layer report and the
#: board's INFO show them.
PART_OF = "KilnPartOf"
#: (operator, dtype) -> what the optimized kernel sets run it as (kiln.optable lists it).
LOWERED = {("TRANSPOSE_CONV", "int8"): "CONV_2D"}


def lower(graph: Graph, kernels: str) -> None:
    """Rewrite, in place, what the kernel set `kernels` runs better in another form."""
    if kernels == "portable":
        return   # the portable convolution is no faster than the portable scatter
    ops: list[Operator] = []
    for op in graph.ops:
        ops += _transpose_conv_as_conv(graph, op) or [op]
    graph.ops = ops


def _add(graph: Graph, name: str, shape: tuple[int, ...], dtype: str, like: Tensor | None = None,
         data: np.ndarray | None = None) -> int:
    """A new tensor (quantized as `like`, when given); its index."""
    t = Tensor(len(graph.tensors), name, tuple(int(d) for d in shape), dtype, data=data)
    if like is not None:
        t.scale, t.zero_point, t.quantized_dimension = like.scale, like.zero_point, like.quantized_dimension
    graph.tensors.append(t)
    return t.index


def _quantized(scale: np.ndarray) -> Tensor:
    """A stand-in carrying per-channel (axis 0) symmetric quantization."""
    return Tensor(-1, "", (), "int8", scale=np.asarray(scale, np.float32),
                  zero_point=np.zeros(len(scale), np.int64))


def _fits(graph: Graph, op: Operator) -> bool:
    """An int8 TRANSPOSE_CONV the rewrite covers: batch 1, equal strides, constant
    symmetric weights (per tensor or per output channel), a constant int32 bias or none."""
    if op.op != "TRANSPOSE_CONV" or len(op.inputs) < 3 or min(op.inputs[:3]) < 0:
        return False
    w, x, y = graph.tensors[op.inputs[1]], graph.tensors[op.inputs[2]], graph.tensors[op.outputs[0]]
    b = graph.tensors[op.inputs[3]] if len(op.inputs) > 3 and op.inputs[3] >= 0 else None
    o = op.options
    if x.dtype != "int8" or y.dtype != "int8" or w.dtype != "int8" or not w.is_const:
        return False
    if len(x.shape) != 4 or len(w.shape) != 4 or len(y.shape) != 4 or x.shape[0] != 1:
        return False
    if o.get("StrideH", 1) != o.get("StrideW", 1) or o.get("StrideH", 1) < 1:
        return False
    if not w.quantized or np.any(np.asarray(w.zero_point) != 0) or \
            len(w.scale) not in (1, w.shape[0]) or (len(w.scale) > 1 and w.quantized_dimension != 0):
        return False
    if not x.quantized or not y.quantized or len(x.scale) != 1 or len(y.scale) != 1:
        return False
    return b is None or (b.is_const and b.dtype == "int32" and b.size == w.shape[0])


def _transpose_conv_as_conv(graph: Graph, op: Operator) -> list[Operator] | None:
    """The CONV_2D [, DEPTH_TO_SPACE, SLICE] standing for `op`, or None to keep it."""
    if not _fits(graph, op):
        return None
    w, x, y = graph.tensors[op.inputs[1]], graph.tensors[op.inputs[2]], graph.tensors[op.outputs[0]]
    b = graph.tensors[op.inputs[3]] if len(op.inputs) > 3 and op.inputs[3] >= 0 else None
    s = int(op.options.get("StrideH", 1))
    padding = op.options.get("Padding", "SAME")
    oc, kh, kw, ic = (int(d) for d in w.shape)
    _, oh, ow, _ = (int(d) for d in y.shape)
    pt, pl = transpose_conv_padding(oh, kh, s, padding), transpose_conv_padding(ow, kw, s, padding)
    ch, cw = -(-kh // s), -(-kw // s)              # the shared window
    qy0, qx0 = pt // s, pl // s                     # the first q of each axis
    oy0, ox0 = pt % s, pl % s                       # output 0 in the interleaved grid
    hq, wq = -(-(oh + oy0) // s), -(-(ow + ox0) // s)

    # Filter (ry, rx, o) at window (j, i) is tap (ry + s (ch-1-j), rx + s (cw-1-i)) of o.
    k = np.asarray(w.data).reshape(oc, kh, kw, ic)
    filt = np.zeros((s, s, oc, ch, cw, ic), np.int8)
    for ry in range(s):
        for rx in range(s):
            for j in range(ch):
                for i in range(cw):
                    ty, tx = ry + s * (ch - 1 - j), rx + s * (cw - 1 - i)
                    if ty < kh and tx < kw:
                        filt[ry, rx, :, j, i, :] = k[:, ty, tx, :]
    n = s * s * oc

    def tiled(v: np.ndarray) -> np.ndarray:
        v = np.asarray(v).ravel()
        return np.tile(v, s * s) if len(v) > 1 else v

    wi = _add(graph, f"{w.name}/as_conv", (n, ch, cw, ic), "int8", _quantized(tiled(w.scale)),
              filt.reshape(n, ch, cw, ic))
    if b is not None:
        bias, bscale = tiled(np.asarray(b.data, np.int32)), tiled(b.scale) if b.quantized else None
    else:
        bias, bscale = np.zeros(n, np.int32), np.float32(x.scale[0]) * tiled(w.scale)
    bi = _add(graph, f"{y.name}/as_conv_bias", (n,), "int32",
              _quantized(bscale) if bscale is not None else None, bias)
    conv_out = y.index if s == 1 else _add(graph, f"{y.name}/phases", (1, hq, wq, n), "int8", y)
    conv = Operator(op.index, "CONV_2D", [x.index, wi, bi], [conv_out], {
        "Padding": "VALID", "StrideH": 1, "StrideW": 1, "DilationHFactor": 1, "DilationWFactor": 1,
        "FusedActivationFunction": op.options.get("FusedActivationFunction", "NONE"),
        PAD_TOP: ch - 1 - qy0, PAD_LEFT: cw - 1 - qx0})
    # The report counts the model's MACs (the window's zero taps are not the model's).
    conv.options[PART_OF] = (y.name, op.op, transpose_conv_macs(oh, ow, oc, ic, kh, kw, s, s))
    part = {PART_OF: (y.name, op.op, 0)}
    if s == 1:
        return [conv]
    whole = (oy0, ox0, s * hq, s * wq) == (0, 0, oh, ow)
    spread = y.index if whole else _add(graph, f"{y.name}/interleaved", (1, s * hq, s * wq, oc), "int8", y)
    ops = [conv, Operator(op.index, "DEPTH_TO_SPACE", [conv_out], [spread], {"BlockSize": s, **part})]
    if not whole:
        begin = _add(graph, f"{y.name}/crop_begin", (4,), "int32", data=np.array([0, oy0, ox0, 0], np.int32))
        size = _add(graph, f"{y.name}/crop_size", (4,), "int32", data=np.array([1, oh, ow, oc], np.int32))
        ops.append(Operator(op.index, "SLICE", [spread, begin, size], [y.index], dict(part)))
    return ops
