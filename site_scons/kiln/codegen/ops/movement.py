"""Data movement and reduction kernels (kiln/ops/movement.h, docs/ops/movement.md).

Every pure movement operator (TRANSPOSE, SLICE, STRIDED_SLICE, SPLIT, SPLIT_V,
UNPACK, REVERSE_V2, BROADCAST_TO, DEPTH_TO_SPACE, SPACE_TO_DEPTH) is described
by its source index map: NumPy computes, for every output element, the input
element it copies, and `affine_map` turns that map into the start and
per-dimension strides of one kiln_strided_copy call (checking that the map
really is affine, so a wrong derivation fails at build time, not on the
board). PACK reuses kiln_concat; GATHER, ARG_MAX/ARG_MIN and the reductions
have their own kernels.
"""

from __future__ import annotations

import numpy as np

import kiln.codegen.portable  # noqa: F401 - registered first, so this module's entries are tried before it
from kiln import quantmath as qm
from kiln.codegen.context import LayerContext
from kiln.codegen.registry import KernelImpl, LayerCode, UnsupportedLayer, per_tensor_qparams, register
from kiln.ir import Graph, Operator, Tensor

#: The kernels' loop depth (KILN_COPY_MAX_RANK in kiln/ops/movement.h).
MAX_RANK = 6
_ELEM_BYTES = {"int8": 1, "float32": 4, "int32": 4}
_INT32_MAX = (1 << 31) - 1


def _const_ints(t: Tensor | None, what: str) -> np.ndarray:
    """The integer values of a constant operand (axes, begin/end, sizes...)."""
    if t is None or not t.is_const:
        raise UnsupportedLayer(f"the {what} must be constant")
    return np.asarray(t.data).astype(np.int64).ravel()


def _axis(axis: int, rank: int) -> int:
    if not -rank <= axis < max(rank, 1):
        raise UnsupportedLayer(f"axis {axis} is outside rank {rank}")
    return axis % rank if rank else 0


def _equal_qparams(x: Tensor, y: Tensor) -> bool:
    (sx, zx), (sy, zy) = per_tensor_qparams(x), per_tensor_qparams(y)
    return qm.f32(sx) == qm.f32(sy) and zx == zy


def _same_quant(x: Tensor, y: Tensor) -> None:
    """Movement copies bytes, so an int8 output must mean what its input meant (the
    converter always gives both the same parameters; tflite-micro copies them too)."""
    if x.dtype == "int8" and not _equal_qparams(x, y):
        raise UnsupportedLayer("input and output quantization differ")


def affine_map(idx: np.ndarray) -> tuple[list[int], list[int], int]:
    """(out_shape, in_stride, start) of a source index map, right-aligned into
    MAX_RANK dimensions for kiln_strided_copy.

    `idx[o]` is the input element output element `o` copies. Dimensions of size 1
    are dropped and contiguous neighbours merged; UnsupportedLayer when more than
    MAX_RANK dimensions remain. The map is checked element by element."""
    idx = np.asarray(idx, dtype=np.int64)
    if idx.size == 0:
        return [1] * (MAX_RANK - 1) + [0], [0] * MAX_RANK, 0
    start = int(idx.flat[0])
    dims: list[tuple[int, int]] = []
    for d, n in enumerate(idx.shape):
        if n == 1:
            continue
        one = [0] * idx.ndim
        one[d] = 1
        dims.append((int(n), int(idx[tuple(one)]) - start))
    merged: list[tuple[int, int]] = []
    for n, s in dims:
        if merged and merged[-1][1] == s * n:
            merged[-1] = (merged[-1][0] * n, s)
        else:
            merged.append((n, s))
    if len(merged) > MAX_RANK:
        raise UnsupportedLayer(f"the copy needs {len(merged)} dimensions; the kernel loops over "
                               f"{MAX_RANK}")
    shape = [n for n, _ in merged]
    strides = [s for _, s in merged]
    check = np.full(shape, start, dtype=np.int64)
    for d, s in enumerate(strides):
        view = [1] * len(shape)
        view[d] = shape[d]
        check = check + np.arange(shape[d], dtype=np.int64).reshape(view) * s
    if not np.array_equal(check.ravel(), idx.ravel()):
        raise UnsupportedLayer("the operator's index map is not a strided copy")
    pad = MAX_RANK - len(shape)
    return [1] * pad + shape, [0] * pad + strides, start


def copy_plan(x: Tensor, y: Tensor, idx: np.ndarray) -> tuple[list[int], list[int], int]:
    """(out_shape, in_stride, start) of the strided copy of `x` into `y` by the source
    index map `idx` (affine_map), after checking that it fills `y`, stays inside `x` and
    copies values that mean the same in both."""
    if int(np.prod(y.shape, dtype=np.int64)) != idx.size:
        raise UnsupportedLayer(f"output {y.describe()} does not hold the {idx.size} elements the "
                               "operator computes")
    if idx.size and (idx.min() < 0 or idx.max() >= x.size or x.size > _INT32_MAX):
        raise UnsupportedLayer("the index map leaves the input")
    _same_quant(x, y)
    return affine_map(idx)


def _copy_call(ctx: LayerContext, x: Tensor, y: Tensor, idx: np.ndarray, k: int = 0) -> str:
    """Declare one kiln_strided_copy parameter struct (suffix k) and return its call."""
    shape, strides, start = copy_plan(x, y, idx)
    name = f"{ctx.prefix}_p{k}"
    body = (f"    .out_shape = {{{', '.join(map(str, shape))}}},\n"
            f"    .in_stride = {{{', '.join(map(str, strides))}}},\n"
            f"    .start = {start},\n    .elem_bytes = {_ELEM_BYTES[x.dtype]}")
    ctx.decls.append(f"static const kiln_strided_copy_params_t {name} = {{\n{body}\n}};")
    return f"{ctx.func}(&{name}, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});"


def _source_index(x: Tensor) -> np.ndarray:
    return np.arange(x.size, dtype=np.int64).reshape(x.shape)


# ---- one-output movement operators ---------------------------------------------------

def _transpose_map(g: Graph, op: Operator) -> np.ndarray:
    x = g.tensors[op.inputs[0]]
    perm = _const_ints(g.tensors[op.inputs[1]], "permutation")
    if sorted(int(p) % max(len(x.shape), 1) for p in perm) != list(range(len(x.shape))):
        raise UnsupportedLayer(f"permutation {list(perm)} does not match rank {len(x.shape)}")
    return np.transpose(_source_index(x), [int(p) % len(x.shape) for p in perm])


def _slice_map(g: Graph, op: Operator) -> np.ndarray:
    x = g.tensors[op.inputs[0]]
    begin = _const_ints(g.tensors[op.inputs[1]], "begin")
    size = _const_ints(g.tensors[op.inputs[2]], "size")
    if len(begin) != len(x.shape) or len(size) != len(x.shape):
        raise UnsupportedLayer("begin and size must have one entry per dimension")
    index = []
    for b, n, dim in zip(begin, size, x.shape, strict=True):
        end = dim if n == -1 else b + n
        if not 0 <= b <= end <= dim:
            raise UnsupportedLayer(f"slice [{b}, {end}) is outside a dimension of {dim}")
        index.append(slice(int(b), int(end)))
    return _source_index(x)[tuple(index)]


def _strided_slice_map(g: Graph, op: Operator) -> np.ndarray:
    x = g.tensors[op.inputs[0]]
    begin = _const_ints(g.tensors[op.inputs[1]], "begin")
    end = _const_ints(g.tensors[op.inputs[2]], "end")
    strides = _const_ints(g.tensors[op.inputs[3]], "strides")
    o = op.options
    if o.get("EllipsisMask") or o.get("NewAxisMask") or o.get("Offset"):
        raise UnsupportedLayer("ellipsis or new-axis masks, or offset STRIDED_SLICE")
    if len(begin) > len(x.shape) or not (len(begin) == len(end) == len(strides)):
        raise UnsupportedLayer("begin, end and strides do not match the input's rank")
    if np.any(strides == 0):
        raise UnsupportedLayer("a stride is 0")
    index: list = []
    for d in range(len(begin)):
        # TFLite's masks and clamping are NumPy's slice semantics (None = whole range in
        # the stride's direction); a shrunk axis takes the single element at begin.
        if (o.get("ShrinkAxisMask", 0) >> d) & 1:
            b = int(begin[d])
            if not -x.shape[d] <= b < x.shape[d]:
                raise UnsupportedLayer(f"shrunk axis {d} index {b} is outside the input")
            index.append(b)
            continue
        b = None if (o.get("BeginMask", 0) >> d) & 1 else int(begin[d])
        e = None if (o.get("EndMask", 0) >> d) & 1 else int(end[d])
        index.append(slice(b, e, int(strides[d])))
    return _source_index(x)[tuple(index)]


def _reverse_map(g: Graph, op: Operator) -> np.ndarray:
    x = g.tensors[op.inputs[0]]
    axes = [_axis(int(a), len(x.shape)) for a in _const_ints(g.tensors[op.inputs[1]], "axes")]
    return np.flip(_source_index(x), axis=tuple(axes)) if axes else _source_index(x)


def _broadcast_map(g: Graph, op: Operator) -> np.ndarray:
    x, y = g.tensors[op.inputs[0]], g.tensors[op.outputs[0]]
    try:
        return np.broadcast_to(_source_index(x), y.shape)
    except ValueError:
        raise UnsupportedLayer(f"{list(x.shape)} does not broadcast to {list(y.shape)}") from None


def _depth_space_map(g: Graph, op: Operator) -> np.ndarray:
    x = g.tensors[op.inputs[0]]
    b = int(op.options.get("BlockSize", 0))
    if len(x.shape) != 4 or b < 1:
        raise UnsupportedLayer("needs a 4-D NHWC input and a positive block size")
    n, h, w, c = x.shape
    idx = _source_index(x)
    if op.op == "DEPTH_TO_SPACE":  # DCR order: depth splits as (block row, block col, c)
        if c % (b * b):
            raise UnsupportedLayer(f"depth {c} is not a multiple of {b * b}")
        cc = c // (b * b)
        # [n][h][i][w][j][c]: the output's row-major order (its shape merges h,i and w,j)
        return idx.reshape(n, h, w, b, b, cc).transpose(0, 1, 3, 2, 4, 5)
    if h % b or w % b:
        raise UnsupportedLayer(f"height and width must be multiples of {b}")
    # [n][h][w][i][j][c]: the output's row-major order (its depth merges i, j and c)
    return idx.reshape(n, h // b, b, w // b, b, c).transpose(0, 1, 3, 2, 4, 5)


_MAPS = {"TRANSPOSE": _transpose_map, "SLICE": _slice_map, "STRIDED_SLICE": _strided_slice_map,
         "REVERSE_V2": _reverse_map, "BROADCAST_TO": _broadcast_map,
         "DEPTH_TO_SPACE": _depth_space_map, "SPACE_TO_DEPTH": _depth_space_map}


def _copy(ctx: LayerContext) -> LayerCode:
    idx = _MAPS[ctx.op.op](ctx.graph, ctx.op)
    return LayerCode(ctx.decls, _copy_call(ctx, ctx.t(0), ctx.t(0, outputs=True), idx))


#: Input ranks tflite-micro's kernels take (above them its interpreter refuses the model,
#: so there is nothing to match).
_MAX_IN_RANK = {"TRANSPOSE": 5, "STRIDED_SLICE": 4, "SLICE": 5, "REVERSE_V2": 8, "BROADCAST_TO": 8}


def input_rank_ok(g: Graph, op: Operator) -> None:
    """Refuse an input rank above what tflite-micro's kernel of `op` takes."""
    rank = len(g.tensors[op.inputs[0]].shape)
    if rank > _MAX_IN_RANK.get(op.op, 4):
        raise UnsupportedLayer(f"input rank {rank}: tflite-micro's {op.op} takes at most "
                               f"{_MAX_IN_RANK.get(op.op, 4)}")


def _map_accepts(g: Graph, op: Operator) -> bool:
    """The map can be built and is a strided copy of at most MAX_RANK dimensions."""
    input_rank_ok(g, op)
    affine_map(_MAPS[op.op](g, op))
    return True


# ---- MIRROR_PAD: per-dimension offset tables -----------------------------------------

def separable_map(idx: np.ndarray) -> tuple[list[int], list[int]]:
    """(out_shape, offsets) of kiln_table_copy for a source index map that is a sum of
    one term per dimension, right-aligned into MAX_RANK dimensions; checked."""
    idx = np.asarray(idx, dtype=np.int64)
    if idx.ndim > MAX_RANK:
        raise UnsupportedLayer(f"rank {idx.ndim} above {MAX_RANK}")
    base = int(idx.flat[0]) if idx.size else 0
    tables, total = [], np.zeros((1,) * idx.ndim, dtype=np.int64)
    for d in range(idx.ndim):
        line = [0] * idx.ndim
        line[d] = slice(None)
        tab = idx[tuple(line)] - base + (base if d == 0 else 0)
        tables.append([int(v) for v in tab])
        view = [1] * idx.ndim
        view[d] = idx.shape[d]
        total = total + tab.reshape(view)
    if not np.array_equal(np.broadcast_to(total, idx.shape), idx):
        raise UnsupportedLayer("the operator's index map is not separable")
    pad = MAX_RANK - idx.ndim
    return [1] * pad + list(idx.shape), [0] * pad + [v for t in tables for v in t]


def _mirror_map(g: Graph, op: Operator) -> np.ndarray:
    x = g.tensors[op.inputs[0]]
    pads = _const_ints(g.tensors[op.inputs[1]], "paddings").reshape(-1, 2)
    if len(pads) != len(x.shape) or np.any(pads < 0):
        raise UnsupportedLayer("paddings must be [rank, 2] and non-negative")
    mode = int(op.options.get("Mode", 0))  # MirrorPadMode: 0 REFLECT, 1 SYMMETRIC
    limit = [d - 1 if mode == 0 else d for d in x.shape]  # TensorFlow's bounds
    if any(max(p) > lim for p, lim in zip(pads.tolist(), limit, strict=True)):
        raise UnsupportedLayer("a padding is larger than the mirrored dimension allows")
    return np.pad(_source_index(x), [tuple(p) for p in pads.tolist()],
                  mode="reflect" if mode == 0 else "symmetric")


def _table_copy(source_map, what: str):  # noqa: ANN001, ANN202
    """(build, accepts) of an operator that is a kiln_table_copy: every output element
    copied from the input element `source_map(graph, op)` names, in a separable map;
    `what` names the output in the size-mismatch refusal ("padded", "cropped")."""
    def build(ctx: LayerContext) -> LayerCode:
        x, y = ctx.t(0), ctx.t(0, outputs=True)
        idx = source_map(ctx.graph, ctx.op)
        if idx.size != y.size:
            raise UnsupportedLayer(f"output {y.describe()} does not match the {what} size")
        _same_quant(x, y)
        shape, offsets = separable_map(idx)
        p = ctx.struct("kiln_table_copy_params_t", dict(
            out_shape=shape, offsets=ctx.array("offs", "int32_t", offsets), elem_bytes=_ELEM_BYTES[x.dtype]))
        return LayerCode(ctx.decls, f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});")

    def accepts(g: Graph, op: Operator) -> bool:
        separable_map(source_map(g, op))
        return True

    return build, accepts


_mirror_pad, _mirror_accepts = _table_copy(_mirror_map, "padded")


def _tile_map(g: Graph, op: Operator) -> np.ndarray:
    """TILE (Keras 3's UpSampling2D, among others): output element o copies input element
    o mod the input's shape in every dimension, a separable map."""
    x = g.tensors[op.inputs[0]]
    multiples = _const_ints(g.tensors[op.inputs[1]], "multiples")
    if len(multiples) != len(x.shape) or np.any(multiples < 0):
        raise UnsupportedLayer(f"multiples {multiples.tolist()} do not match rank {len(x.shape)}")
    return np.tile(_source_index(x), [int(m) for m in multiples])


_tile, _tile_accepts = _table_copy(_tile_map, "tiled")


# ---- CAST ---------------------------------------------------------------------------

def _cast(ctx: LayerContext) -> LayerCode:
    x, y = ctx.t(0), ctx.t(0, outputs=True)
    if x.size != y.size:
        raise UnsupportedLayer("input and output sizes differ")
    return LayerCode(ctx.decls, f"{ctx.func}({x.size}u, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});")


# ---- several outputs: SPLIT, SPLIT_V, UNPACK --------------------------------------

def _split_parts(g: Graph, op: Operator) -> tuple[Tensor, list[np.ndarray]]:
    """The data input and each output's source index map."""
    if op.op == "SPLIT":
        x = g.tensors[op.inputs[1]]
        axis = _axis(int(_const_ints(g.tensors[op.inputs[0]], "axis")[0]), len(x.shape))
        n = int(op.options.get("NumSplits", len(op.outputs)))
        if x.shape[axis] % n:
            raise UnsupportedLayer(f"dimension {x.shape[axis]} does not split into {n} parts")
        sizes = [x.shape[axis] // n] * n
    elif op.op == "SPLIT_V":
        x = g.tensors[op.inputs[0]]
        axis = _axis(int(_const_ints(g.tensors[op.inputs[2]], "axis")[0]), len(x.shape))
        sizes = [int(s) for s in _const_ints(g.tensors[op.inputs[1]], "split sizes")]
        if sizes.count(-1) == 1:
            sizes[sizes.index(-1)] = x.shape[axis] - (sum(sizes) + 1)
        if any(s < 0 for s in sizes) or sum(sizes) != x.shape[axis]:
            raise UnsupportedLayer(f"split sizes {sizes} do not cover dimension {x.shape[axis]}")
    else:  # UNPACK
        x = g.tensors[op.inputs[0]]
        axis = _axis(int(op.options.get("Axis", 0)), len(x.shape))
        parts = [np.take(_source_index(x), k, axis=axis) for k in range(x.shape[axis])]
        return x, parts
    cuts = np.cumsum(sizes)[:-1]
    return x, np.split(_source_index(x), cuts, axis=axis)


def _split(ctx: LayerContext) -> LayerCode:
    x, parts = _split_parts(ctx.graph, ctx.op)
    outs = [ctx.t(k, outputs=True) for k in range(len(ctx.op.outputs))]
    if len(outs) != len(parts) or any(t is None for t in outs):
        raise UnsupportedLayer(f"{len(parts)} parts for {len(outs)} outputs")
    calls = [_copy_call(ctx, x, y, idx, k) for k, (y, idx) in enumerate(zip(outs, parts, strict=True))]
    return LayerCode(ctx.decls, "\n    ".join(calls))


def _split_accepts(g: Graph, op: Operator) -> bool:
    _, parts = _split_parts(g, op)
    for idx in parts:
        affine_map(idx)
    return True


# ---- PACK: kiln_concat along the new axis ------------------------------------------

def _check_rows(ins: list[Tensor], outer: int, inner: list[int], y: Tensor) -> None:
    """kiln_concat reads outer * inner[i] elements of input i and writes their sum."""
    if any(t.size != outer * n for t, n in zip(ins, inner, strict=True)) or outer * sum(inner) != y.size:
        raise UnsupportedLayer("the inputs' shapes do not fill the output along the axis")


def _pack(ctx: LayerContext) -> LayerCode:
    y = ctx.t(0, outputs=True)
    ins = [ctx.graph.tensors[i] for i in ctx.op.inputs]
    axis = _axis(int(ctx.op.options.get("Axis", 0)), len(y.shape))
    for t in ins:
        if tuple(t.shape) != tuple(ins[0].shape) or t.dtype != y.dtype:
            raise UnsupportedLayer("PACK inputs differ in shape or dtype")
        _same_quant(t, y)
    # Stacking along `axis` is concatenating rows of prod(in.shape[axis:]) elements.
    outer = int(np.prod(y.shape[:axis], dtype=np.int64))
    inner = [int(np.prod(t.shape[axis:], dtype=np.int64)) for t in ins]
    _check_rows(ins, outer, inner, y)
    ptrs = ", ".join(f"(const void *){ctx.ptr(t)}" for t in ins)
    ctx.decls.append(f"static const void *const {ctx.prefix}_in[{len(ins)}] = {{{ptrs}}};")
    p = ctx.struct("kiln_concat_params_t", dict(
        outer=outer, n_inputs=len(ins), inner=ctx.array("inner", "uint32_t", inner),
        in_offset="NULL", mult="NULL", shift="NULL", out_offset=0, elem_bytes=_ELEM_BYTES[y.dtype]))
    return LayerCode(ctx.decls, f"{ctx.func}({p}, {ctx.prefix}_in, {ctx.ptr(y, const=False)});",
                     0, ctx.weight_bytes)


def _concat_i32(ctx: LayerContext) -> LayerCode:
    """int32 CONCATENATION (codegen/portable.py has int8 and float32): a byte copy."""
    y = ctx.t(0, outputs=True)
    if ctx.op.options.get("FusedActivationFunction", "NONE") != "NONE":
        raise UnsupportedLayer("fused activation on CONCATENATION")
    ins = [ctx.graph.tensors[i] for i in ctx.op.inputs]
    axis = _axis(int(ctx.op.options.get("Axis", 0)), len(y.shape))
    outer = int(np.prod(y.shape[:axis], dtype=np.int64))
    inner = [int(np.prod(t.shape[axis:], dtype=np.int64)) for t in ins]
    _check_rows(ins, outer, inner, y)
    ptrs = ", ".join(f"(const void *){ctx.ptr(t)}" for t in ins)
    ctx.decls.append(f"static const void *const {ctx.prefix}_in[{len(ins)}] = {{{ptrs}}};")
    p = ctx.struct("kiln_concat_params_t", dict(
        outer=outer, n_inputs=len(ins), inner=ctx.array("inner", "uint32_t", inner),
        in_offset="NULL", mult="NULL", shift="NULL", out_offset=0, elem_bytes=4))
    return LayerCode(ctx.decls, f"{ctx.func}({p}, {ctx.prefix}_in, {ctx.ptr(y, const=False)});",
                     0, ctx.weight_bytes)


# ---- GATHER ---------------------------------------------------------------------

def _gather_dims(g: Graph, op: Operator) -> tuple[int, int, int, int]:
    x, ind = g.tensors[op.inputs[0]], g.tensors[op.inputs[1]]
    if int(op.options.get("BatchDims", 0)) != 0:
        raise UnsupportedLayer("GATHER with batch_dims")
    if not ind.is_const and ind.dtype != "int32":
        raise UnsupportedLayer(f"runtime indices {ind.describe()} must be int32")
    axis = _axis(int(op.options.get("Axis", 0)), len(x.shape))
    outer = int(np.prod(x.shape[:axis], dtype=np.int64))
    inner = int(np.prod(x.shape[axis + 1:], dtype=np.int64))
    return outer, int(x.shape[axis]), inner, int(np.prod(ind.shape, dtype=np.int64))


def _gather(ctx: LayerContext) -> LayerCode:
    x, ind, y = ctx.t(0), ctx.t(1), ctx.t(0, outputs=True)
    outer, axis_n, inner, n_idx = _gather_dims(ctx.graph, ctx.op)
    if y.size != outer * n_idx * inner:
        raise UnsupportedLayer(f"output {y.describe()} does not match the gathered size")
    _same_quant(x, y)
    if ind.is_const:
        vals = _const_ints(ind, "indices")
        if np.any((vals < 0) | (vals >= axis_n)):
            raise UnsupportedLayer(f"constant indices outside [0, {axis_n})")
        idx_ptr = ctx.array("idx", "int32_t", vals.astype(np.int32))
    else:
        idx_ptr = ctx.ptr(ind)
    p = ctx.struct("kiln_gather_params_t", dict(outer=outer, axis_n=axis_n, inner=inner, n_idx=n_idx,
                                                elem_bytes=_ELEM_BYTES[x.dtype]))
    return LayerCode(ctx.decls, f"{ctx.func}({p}, {ctx.ptr(x)}, {idx_ptr}, {ctx.ptr(y, const=False)});")


def _gather_accepts(g: Graph, op: Operator) -> bool:
    _gather_dims(g, op)
    return True


# ---- GATHER_ND --------------------------------------------------------------------

def _gather_nd_dims(g: Graph, op: Operator) -> tuple[int, int, int, list[int]]:
    """(n_slices, nd, slice, strides) of a GATHER_ND."""
    x, ind = g.tensors[op.inputs[0]], g.tensors[op.inputs[1]]
    if not ind.is_const and ind.dtype != "int32":
        raise UnsupportedLayer(f"runtime indices {ind.describe()} must be int32")
    if not ind.shape or not x.shape:
        raise UnsupportedLayer("params and indices must have rank 1 or more")
    nd = int(ind.shape[-1])
    if not 1 <= nd <= min(len(x.shape), 5):  # 5: tflite-micro's MAX_INDICES_ND
        raise UnsupportedLayer(f"index depth {nd} for params of rank {len(x.shape)} (at most 5)")
    if x.size > _INT32_MAX:
        raise UnsupportedLayer("params above 2^31 elements")
    n_slices = int(np.prod(ind.shape[:-1], dtype=np.int64))
    strides = [int(np.prod(x.shape[j + 1:], dtype=np.int64)) for j in range(nd)]
    return n_slices, nd, strides[nd - 1], strides


def _gather_nd(ctx: LayerContext) -> LayerCode:
    x, ind, y = ctx.t(0), ctx.t(1), ctx.t(0, outputs=True)
    n_slices, nd, slice_n, strides = _gather_nd_dims(ctx.graph, ctx.op)
    if y.size != n_slices * slice_n:
        raise UnsupportedLayer(f"output {y.describe()} does not match the gathered size")
    _same_quant(x, y)
    if ind.is_const:
        vals = _const_ints(ind, "indices").reshape(-1, nd)
        if np.any((vals < 0) | (vals >= np.array(x.shape[:nd]))):
            raise UnsupportedLayer("constant indices outside the params")
        idx_ptr = ctx.array("idx", "int32_t", vals.ravel().astype(np.int32))
    else:
        idx_ptr = ctx.ptr(ind)
    p = ctx.struct("kiln_gather_nd_params_t", dict(
        n_slices=n_slices, nd=nd, slice=slice_n, total=x.size,
        stride=strides + [0] * (5 - nd), elem_bytes=_ELEM_BYTES[x.dtype]))
    return LayerCode(ctx.decls, f"{ctx.func}({p}, {ctx.ptr(x)}, {idx_ptr}, {ctx.ptr(y, const=False)});")


def _gather_nd_accepts(g: Graph, op: Operator) -> bool:
    _gather_nd_dims(g, op)
    return True


# ---- SPACE_TO_BATCH_ND / BATCH_TO_SPACE_ND ----------------------------------------

def _space_batch_args(g: Graph, op: Operator) -> tuple[list[int], list[int], np.ndarray]:
    """(input shape as [b, h, w, c], block [bh, bw], pads or crops [[top, bottom], [left, right]]):
    a 3-D input (one spatial dimension) gets w = 1, block and pads of 1 and 0."""
    x = g.tensors[op.inputs[0]]
    block = [int(v) for v in _const_ints(g.tensors[op.inputs[1]], "block shape")]
    pads = _const_ints(g.tensors[op.inputs[2]], "paddings or crops").reshape(-1, 2)
    if len(x.shape) not in (3, 4) or len(block) != len(x.shape) - 2 or len(pads) != len(block):
        raise UnsupportedLayer("needs a 3-D or 4-D input with one block size and one "
                               "padding pair per spatial dimension (tflite-micro's limit)")
    if min(block) < 1 or np.any(pads < 0):
        raise UnsupportedLayer("block sizes must be positive and paddings non-negative")
    shape = [int(d) for d in x.shape]
    if len(shape) == 3:
        shape, block = [shape[0], shape[1], 1, shape[2]], block + [1]
        pads = np.vstack([pads, [[0, 0]]])
    return shape, block, pads


def _batch_to_space_map(g: Graph, op: Operator) -> np.ndarray:
    (b, h, w, c), (bh, bw), crops = _space_batch_args(g, op)
    if b % (bh * bw):
        raise UnsupportedLayer(f"batch {b} is not a multiple of the block's {bh * bw}")
    ob = b // (bh * bw)
    idx = np.arange(b * h * w * c, dtype=np.int64).reshape(bh, bw, ob, h, w, c)
    # out[n][y * bh + i][x * bw + j][:] = in[(i * bw + j) * ob + n][y][x][:], then cropped
    full = idx.transpose(2, 3, 0, 4, 1, 5).reshape(ob, h * bh, w * bw, c)
    (ct, cb), (cl, cr) = crops.tolist()
    if ct + cb > h * bh or cl + cr > w * bw:
        raise UnsupportedLayer("the crops are larger than the output")
    out = full[:, ct:h * bh - cb, cl:w * bw - cr, :]
    y = g.tensors[op.outputs[0]]
    return out.reshape(y.shape) if out.size == y.size else out


_batch_to_space, _batch_to_space_accepts = _table_copy(_batch_to_space_map, "cropped")


def _space_to_batch_dims(g: Graph, op: Operator) -> dict:
    (b, h, w, c), (bh, bw), pads = _space_batch_args(g, op)
    (pt, pb), (pl, pr) = pads.tolist()
    if (h + pt + pb) % bh or (w + pl + pr) % bw:
        raise UnsupportedLayer("the padded height and width must be multiples of the block")
    dims = dict(in_b=b, in_h=h, in_w=w, c=c, block_h=bh, block_w=bw, pad_top=pt, pad_left=pl,
                out_h=(h + pt + pb) // bh, out_w=(w + pl + pr) // bw)
    if max(dims.values()) > _INT32_MAX // 4:
        raise UnsupportedLayer("a dimension is too large")
    return dims


def _space_to_batch(ctx: LayerContext) -> LayerCode:
    x, y = ctx.t(0), ctx.t(0, outputs=True)
    f = _space_to_batch_dims(ctx.graph, ctx.op)
    if y.size != f["block_h"] * f["block_w"] * f["in_b"] * f["out_h"] * f["out_w"] * f["c"]:
        raise UnsupportedLayer(f"output {y.describe()} does not match the padded size")
    _same_quant(x, y)
    # The reference pads with the output's zero point (int8) or 0.0 (float32, all bytes 0).
    pad = per_tensor_qparams(y)[1] & 0xFF if x.dtype == "int8" else 0
    p = ctx.struct("kiln_space_to_batch_params_t", dict(**f, elem_bytes=_ELEM_BYTES[x.dtype],
                                                        pad_byte=pad))
    return LayerCode(ctx.decls, f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});")


def _space_to_batch_accepts(g: Graph, op: Operator) -> bool:
    _space_to_batch_dims(g, op)
    return True


# ---- FILL, ZEROS_LIKE: a copy with every stride 0 -------------------------------------

def _fill(ctx: LayerContext) -> LayerCode:
    """FILL (inputs: dims, value) copies the value, ZEROS_LIKE a constant zero, to every
    output element: kiln_strided_copy over the output with all strides 0."""
    y = ctx.t(0, outputs=True)
    if ctx.op.op == "FILL":
        value = ctx.t(1)
        if value is None or value.size != 1:
            raise UnsupportedLayer("FILL's value must be one element")
        _same_quant(value, y)
        src = ctx.ptr(value)
    else:
        # tflite-micro writes zero bytes whatever the quantization (an int8 zero is the raw 0)
        src = ctx.array("zero", "int32_t", [0])
    shape = [1] * (MAX_RANK - 1) + [int(y.size)]
    name = f"{ctx.prefix}_p"
    ctx.decls.append(f"static const kiln_strided_copy_params_t {name} = {{\n"
                     f"    .out_shape = {{{', '.join(map(str, shape))}}},\n"
                     f"    .in_stride = {{{', '.join(['0'] * MAX_RANK)}}},\n"
                     f"    .start = 0,\n    .elem_bytes = {_ELEM_BYTES[y.dtype]}\n}};")
    return LayerCode(ctx.decls, f"{ctx.func}(&{name}, {src}, {ctx.ptr(y, const=False)});")


def _fill_accepts(g: Graph, op: Operator) -> bool:
    if op.op == "FILL" and not g.tensors[op.inputs[0]].is_const:
        raise UnsupportedLayer("FILL's dims must be constant (tflite-micro's FILL needs them so)")
    return True


# ---- ARG_MAX / ARG_MIN ------------------------------------------------------------

def _arg(ctx: LayerContext) -> LayerCode:
    x, y = ctx.t(0), ctx.t(0, outputs=True)
    axis = _axis(int(_const_ints(ctx.t(1), "axis")[0]), len(x.shape))
    outer = int(np.prod(x.shape[:axis], dtype=np.int64))
    inner = int(np.prod(x.shape[axis + 1:], dtype=np.int64))
    if y.size != outer * inner or x.shape[axis] < 1:
        raise UnsupportedLayer(f"output {y.describe()} does not match the reduced input")
    p = ctx.struct("kiln_arg_params_t", dict(outer=outer, axis_n=int(x.shape[axis]), inner=inner))
    return LayerCode(ctx.decls, f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});")


def _arg_accepts(g: Graph, op: Operator) -> bool:
    _const_ints(g.tensors[op.inputs[1]], "axis")
    return True


# ---- reductions -------------------------------------------------------------------

_REDUCE_KIND = {"MEAN": 0, "SUM": 1, "REDUCE_MAX": 2, "REDUCE_MIN": 3}


def _reduce_axes(g: Graph, op: Operator) -> list[int]:
    x = g.tensors[op.inputs[0]]
    axes = {_axis(int(a), len(x.shape)) for a in _const_ints(g.tensors[op.inputs[1]], "reduction axes")}
    return sorted(axes)


def _loops(shape: tuple[int, ...], dims: list[int]) -> tuple[list[int], list[int]]:
    """Right-aligned (sizes, input element strides) of `dims`, in order, size-1 dims dropped."""
    strides = [int(np.prod(shape[d + 1:], dtype=np.int64)) for d in range(len(shape))]
    kept = [(int(shape[d]), strides[d]) for d in dims if shape[d] != 1]
    if len(kept) > MAX_RANK:
        raise UnsupportedLayer(f"more than {MAX_RANK} loop dimensions")
    pad = MAX_RANK - len(kept)
    return [1] * pad + [n for n, _ in kept], [0] * pad + [s for _, s in kept]


def mean_multiplier(mult: int, shift: int, count: int) -> tuple[int, int]:
    """Fold 1/count into the (mult, shift) of in_scale / out_scale, as tflite-micro's
    general int8 MEAN does (even when both scales are equal: there is no plain
    division on this path): k = min(floor(log2(count)), 32, 31 + shift),
    mult' = (mult << k) // count (int64, both positive), shift' = shift - k."""
    k = min(count.bit_length() - 1, 32, 31 + shift)
    return int((mult << k) // count), shift - k


def _reduce(ctx: LayerContext) -> LayerCode:
    x, y = ctx.t(0), ctx.t(0, outputs=True)
    axes = _reduce_axes(ctx.graph, ctx.op)
    rank = len(x.shape)
    out_shape, out_stride = _loops(x.shape, [d for d in range(rank) if d not in axes])
    red_shape, red_stride = _loops(x.shape, axes)
    count = int(np.prod(red_shape, dtype=np.int64))
    if y.size != int(np.prod(out_shape, dtype=np.int64)):
        raise UnsupportedLayer(f"output {y.describe()} does not match the reduced size")
    kind = _REDUCE_KIND[ctx.op.op]
    f = dict(out_shape=out_shape, out_stride=out_stride, red_shape=red_shape, red_stride=red_stride,
             count=count, kind=kind, in_offset=0, out_offset=0, mult=0, shift=0)
    if x.dtype == "int8":
        (si, zi), (so, zo) = per_tensor_qparams(x), per_tensor_qparams(y)
        if kind >= 2:
            _same_quant(x, y)
        else:
            m, s = qm.requantize_params(si, so)
            if kind == 0:
                m, s = mean_multiplier(m, s, count)
            f.update(mult=m, shift=s, in_offset=-zi, out_offset=zo)
        if count * 256 > _INT32_MAX:  # |q| <= 128 plus |in_offset| <= 128, per element
            raise UnsupportedLayer("too many elements for the int32 sum")
    p = ctx.struct("kiln_reduce_params_t", f)
    return LayerCode(ctx.decls, f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});")


def _reduce_accepts(g: Graph, op: Operator) -> bool:
    x = g.tensors[op.inputs[0]]
    axes = _reduce_axes(g, op)
    if op.op == "MEAN" and len(x.shape) == 4 and axes == [1, 2] and x.shape[0] == 1 and \
            not (x.dtype == "int8" and _equal_qparams(x, g.tensors[op.outputs[0]])):
        # kiln_mean_s8 / kiln_mean_f32 (codegen/portable.py) run the spatial mean, except
        # int8 with equal parameters: kiln_mean_s8 then divides by the count (truncating),
        # where tflite-micro still applies the folded multiplier (checked by the tests).
        raise UnsupportedLayer("the spatial mean is kiln_mean's")
    rank = len(x.shape)
    _loops(x.shape, [d for d in range(rank) if d not in axes])
    _loops(x.shape, axes)
    return True


def _register() -> None:
    s8, f32 = "int8", "float32"
    entries = []
    for dt in (s8, f32):
        for op in _MAPS:
            entries.append((op, dt, "kiln_strided_copy", _copy, _map_accepts, None))
        for op in ("SPLIT", "SPLIT_V", "UNPACK"):
            entries.append((op, dt, "kiln_strided_copy", _split, _split_accepts, None))
        entries.append(("PACK", dt, "kiln_concat", _pack, None, None))
        entries.append(("GATHER", dt, "kiln_gather", _gather, _gather_accepts, None))
        entries.append(("GATHER_ND", dt, "kiln_gather_nd", _gather_nd, _gather_nd_accepts, None))
        entries.append(("SPACE_TO_BATCH_ND", dt, "kiln_space_to_batch", _space_to_batch,
                        _space_to_batch_accepts, None))
        entries.append(("BATCH_TO_SPACE_ND", dt, "kiln_table_copy", _batch_to_space,
                        _batch_to_space_accepts, None))
        entries.append(("FILL", dt, "kiln_strided_copy", _fill, _fill_accepts, None))
        sfx = "s8" if dt == s8 else "f32"
        entries.append(("ARG_MAX", dt, f"kiln_argmax_{sfx}", _arg, _arg_accepts, "int32"))
        entries.append(("ARG_MIN", dt, f"kiln_argmin_{sfx}", _arg, _arg_accepts, "int32"))
        for op in _REDUCE_KIND:
            entries.append((op, dt, f"kiln_reduce_{sfx}", _reduce, _reduce_accepts, None))
    # int32 (ARG_MAX results and the like): byte-moving kernels tflite-micro also runs
    # on int32 (its GATHER and TRANSPOSE refuse int32).
    entries.append(("STRIDED_SLICE", "int32", "kiln_strided_copy", _copy, _map_accepts, None))
    entries.append(("PACK", "int32", "kiln_concat", _pack, None, None))
    entries.append(("CONCATENATION", "int32", "kiln_concat", _concat_i32, None, None))
    entries.append(("FILL", "int32", "kiln_strided_copy", _fill, _fill_accepts, None))
    # ZEROS_LIKE survives conversion only on a dynamic-shape tensor (the converter folds it
    # otherwise): float32 (kept float32 even in int8 models) or int32 (of ARG_MAX results).
    entries.append(("ZEROS_LIKE", f32, "kiln_strided_copy", _fill, None, None))
    entries.append(("ZEROS_LIKE", "int32", "kiln_strided_copy", _fill, None, None))
    for dt in (s8, f32):
        entries.append(("MIRROR_PAD", dt, "kiln_table_copy", _mirror_pad, _mirror_accepts, None))
        entries.append(("TILE", dt, "kiln_table_copy", _tile, _tile_accepts, None))
    # CAST of int8 data: the converter dequantizes first, so only these two occur.
    for src, dst, sfx in (("float32", "int32", "f32_s32"), ("int32", "float32", "s32_f32")):
        entries.append(("CAST", src, f"kiln_cast_{sfx}", _cast, None, dst))
    for op, dt, func, build, acc, out in entries:
        # kiln_concat is declared in kiln/kernels.h, the others in this family's header
        header = "kiln/kernels.h" if func == "kiln_concat" else "kiln/ops/movement.h"
        register(KernelImpl(op=op, dtype=dt, func=func, build=build, out_dtype=out, header=header,
                            **({"accepts": acc} if acc else {})))


_register()
