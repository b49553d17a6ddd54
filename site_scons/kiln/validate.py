"""The model checker: what a parsed .tflite must satisfy before any other stage reads it.

A corrupt download or a hostile file parses into a Graph whose indices,
shapes and quantization can be anything. Everything after this module
(folding, kernel choice, planning, C generation) may assume:
- every tensor index is in range, and -1 appears only where an operator's
  input is optional;
- ranks and dimensions are positive and within the runtime's limits, and no
  tensor is larger than a microcontroller model could hold;
- constant data has exactly the elements its shape needs;
- quantization parameters are finite, scales non-negative (positive for
  activations), zero points inside the dtype, per-channel counts matching the
  quantized axis;
- graph inputs are not constants, each tensor has at most one producer, every
  operator's inputs exist before it runs (so the graph is acyclic), and the
  graph outputs are produced;
- the operators Kiln knows have the arity and the shapes their options imply.

Errors say "invalid" and name the file, the tensor or operator (index and
name) and the value at fault; they never say "unsupported".
"""

from __future__ import annotations

import math

import numpy as np

from kiln.errors import invalid
from kiln.ir import DTYPE_BYTES, Graph, Operator, Tensor

#: Highest rank the runtime handles (TFLite's own kernels stop at 6 for most operators).
MAX_RANK = 6
#: Largest dimension: the runtime's shape fields are 16-bit.
MAX_DIM = 65535
#: Largest tensor: far beyond any microcontroller's memory, small enough that
#: planning and code generation stay cheap. A larger one is a corrupt shape.
MAX_TENSOR_BYTES = 64 << 20

#: Integer ranges of the quantized dtypes' zero points.
_ZP_RANGE = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767),
             "int32": (-(1 << 31), (1 << 31) - 1), "int64": (-(1 << 31), (1 << 31) - 1)}

#: Input positions that may be -1 (absent), per operator.
OPTIONAL_INPUTS = {
    "CONV_2D": {2}, "DEPTHWISE_CONV_2D": {2}, "FULLY_CONNECTED": {2}, "TRANSPOSE_CONV": {3},
    "UNIDIRECTIONAL_SEQUENCE_LSTM": {1, 5, 9, 10, 11, 16, 17, 20, 21, 22, 23},
}

#: (fewest inputs, most inputs, outputs) of the operators whose arity is checked.
_ARITY = {
    "CONV_2D": (2, 3, 1), "DEPTHWISE_CONV_2D": (2, 3, 1), "FULLY_CONNECTED": (2, 3, 1),
    "AVERAGE_POOL_2D": (1, 1, 1), "MAX_POOL_2D": (1, 1, 1), "SOFTMAX": (1, 1, 1),
    "RESHAPE": (1, 2, 1), "SQUEEZE": (1, 1, 1), "EXPAND_DIMS": (2, 2, 1),
    "PAD": (2, 2, 1), "PADV2": (2, 3, 1), "MEAN": (2, 2, 1), "QUANTIZE": (1, 1, 1),
    "DEQUANTIZE": (1, 1, 1), "CONCATENATION": (1, 1 << 16, 1),
    # The operators whose kernels read inputs by position (TFLite's schema): a model
    # with one missing is invalid here, not an index error in a kernel's builder.
    **{op: (1, 1, 1) for op in (
        "ABS", "CAST", "ELU", "EXP", "FLOOR", "GELU", "HARD_SWISH", "L2_NORMALIZATION", "LEAKY_RELU",
        "LOG", "LOGICAL_NOT", "LOGISTIC", "LOG_SOFTMAX", "NEG", "RELU", "RELU6", "ROUND", "RSQRT",
        "SQRT", "SQUARE", "TANH", "ZEROS_LIKE", "DEPTH_TO_SPACE", "SPACE_TO_DEPTH", "L2_POOL_2D")},
    **{op: (2, 2, 1) for op in (
        "ADD", "SUB", "MUL", "DIV", "MAXIMUM", "MINIMUM", "EQUAL", "NOT_EQUAL", "GREATER",
        "GREATER_EQUAL", "LESS", "LESS_EQUAL", "LOGICAL_AND", "LOGICAL_OR", "SQUARED_DIFFERENCE",
        "PRELU", "BATCH_MATMUL", "ARG_MAX", "ARG_MIN", "BROADCAST_TO", "FILL", "GATHER",
        "GATHER_ND", "MIRROR_PAD", "REDUCE_MAX", "REDUCE_MIN", "SUM", "RESIZE_BILINEAR",
        "RESIZE_NEAREST_NEIGHBOR", "REVERSE_V2", "TILE", "TRANSPOSE")},
    **{op: (3, 3, 1) for op in ("SELECT_V2", "SLICE", "SPACE_TO_BATCH_ND", "BATCH_TO_SPACE_ND")},
    "STRIDED_SLICE": (4, 4, 1), "TRANSPOSE_CONV": (3, 4, 1),
}
#: Operators whose data inputs and output share one dtype (TFLite's kernels
#: refuse a mismatch in their preparation).
_ONE_DTYPE = {"CONCATENATION", "AVERAGE_POOL_2D", "MAX_POOL_2D", "PAD", "PADV2", "RESHAPE", "SQUEEZE",
              "EXPAND_DIMS", "MEAN", "ADD", "SUB", "MUL", "DIV", "SQUARED_DIFFERENCE", "MAXIMUM",
              "MINIMUM"}
#: Inputs of those operators that are shapes, paddings or axes, not data.
_PARAMETER_INPUTS = {"RESHAPE": {1}, "EXPAND_DIMS": {1}, "PAD": {1}, "PADV2": {1}, "MEAN": {1}}
_ELEMENTWISE = {"ADD", "SUB", "MUL", "DIV", "SQUARED_DIFFERENCE", "MAXIMUM", "MINIMUM"}
_SAME_SHAPE = {"SOFTMAX", "QUANTIZE", "DEQUANTIZE", "LOGISTIC", "TANH", "RELU", "RELU6",
               "RELU_N1_TO_1", "LEAKY_RELU", "HARD_SWISH", "GELU", "ELU", "ABS", "NEG"}


def validate(graph: Graph, name: str) -> None:
    """Raise KilnError ("invalid") at the first rule `graph` breaks; `name` is the file's."""
    _check_edges(graph, name)
    used = set(graph.inputs) | set(graph.outputs)
    for op in graph.ops:
        used.update(i for i in op.inputs + op.outputs if i >= 0)
    for i in sorted(used):  # a tensor nothing reads or writes is never emitted
        _check_tensor(graph.tensors[i], name)
    for op in graph.ops:
        _check_operator(graph, op, name)


def _tensor(t: Tensor) -> str:
    return f"tensor {t.index} '{t.name}'"


def _op(op: Operator) -> str:
    return f"operator {op.index} ({op.op})"


def _check_tensor(t: Tensor, name: str) -> None:
    where = _tensor(t)
    if t.dtype.startswith("type"):
        raise invalid(name, where, f"unknown tensor type {t.dtype[4:]}")
    if len(t.shape) > MAX_RANK:
        raise invalid(name, where, f"rank {len(t.shape)} is above {MAX_RANK}")
    for d in t.shape:
        if d < 1 or d > MAX_DIM:
            raise invalid(name, where, f"dimension {d} in shape {list(t.shape)} is not in 1..{MAX_DIM}")
    nbytes = math.prod(t.shape) * DTYPE_BYTES.get(t.dtype, 4)
    if nbytes > MAX_TENSOR_BYTES:
        raise invalid(name, where, f"shape {list(t.shape)} {t.dtype} is {nbytes} bytes, above the "
                      f"{MAX_TENSOR_BYTES >> 20} MiB any microcontroller model could use")
    if t.data is not None and t.data.size != math.prod(t.shape):
        raise invalid(name, where, f"its constant data has {t.data.size} {t.dtype} values; "
                      f"shape {list(t.shape)} needs {math.prod(t.shape)}")
    if t.scale is not None and len(t.scale):
        _check_quantization(t, where, name)


def _check_quantization(t: Tensor, where: str, name: str) -> None:
    scale, zp = [float(v) for v in t.scale], [int(v) for v in t.zero_point]
    if len(zp) != len(scale):
        raise invalid(name, where, f"{len(scale)} scales but {len(zp)} zero points")
    bad = [s for s in scale if not math.isfinite(s) or s < 0 or (s == 0 and t.data is None)]
    if bad:
        need = "positive" if t.data is None else "non-negative"
        raise invalid(name, where, f"quantization scale {bad[0]} is not a finite {need} number")
    lo, hi = _ZP_RANGE.get(t.dtype, (-(1 << 31), (1 << 31) - 1))
    out = [z for z in zp if not lo <= z <= hi]
    if out:
        raise invalid(name, where, f"zero point {out[0]} is outside {t.dtype}'s {lo}..{hi}")
    if len(scale) > 1:
        axis = t.quantized_dimension
        if not 0 <= axis < len(t.shape):
            raise invalid(name, where, f"quantized dimension {axis} is not an axis of shape {list(t.shape)}")
        if t.shape[axis] != len(scale):
            raise invalid(name, where, f"{len(scale)} per-channel scales for {t.shape[axis]} channels "
                          f"on axis {axis}")


def _check_edges(graph: Graph, name: str) -> None:
    n = len(graph.tensors)
    for kind, indices in (("input", graph.inputs), ("output", graph.outputs)):
        for i in indices:
            if not 0 <= i < n:
                raise invalid(name, f"graph {kind} {i}", f"no such tensor (the model has {n})")
    for i in graph.inputs:
        if graph.tensors[i].is_const:
            raise invalid(name, f"graph input {_tensor(graph.tensors[i])}", "it is a constant")
    # Variable tensors (recurrent state) are read before any operator writes them: they start at zero.
    available = set(graph.inputs) | {t.index for t in graph.tensors if t.is_const or t.is_variable}
    produced: set[int] = set()
    for op in graph.ops:
        optional = OPTIONAL_INPUTS.get(op.op, set())
        for pos, i in enumerate(op.inputs):
            if i == -1 and pos in optional:
                continue
            if not 0 <= i < n:
                raise invalid(name, _op(op), f"input {pos} names tensor {i}; the model has {n}"
                              + ("" if i != -1 else f" and input {pos} of {op.op} is not optional"))
            if i not in available:
                raise invalid(name, _op(op), f"input {pos}, {_tensor(graph.tensors[i])}, is not "
                              "computed before it (the graph has a cycle or is out of order)")
        if not op.outputs:
            raise invalid(name, _op(op), "it has no output")
        for pos, i in enumerate(op.outputs):
            if not 0 <= i < n:
                raise invalid(name, _op(op), f"output {pos} names tensor {i}; the model has {n}")
            t = graph.tensors[i]
            if t.is_const or i in graph.inputs or i in produced:
                what = "a constant" if t.is_const else "a graph input" if i in graph.inputs else \
                    "already written by another operator"
                raise invalid(name, _op(op), f"output {pos}, {_tensor(t)}, is {what}")
            produced.add(i)
        available.update(op.outputs)
    for i in graph.outputs:
        if i not in produced and i not in graph.inputs:
            raise invalid(name, f"graph output {_tensor(graph.tensors[i])}", "no operator computes it")


# ---- operator shapes ------------------------------------------------------------------

def _check_operator(graph: Graph, op: Operator, name: str) -> None:
    arity = _ARITY.get(op.op)
    if arity is not None:
        lo, hi, n_out = arity
        if not lo <= len(op.inputs) <= hi or len(op.outputs) != n_out:
            raise invalid(name, _op(op), f"{len(op.inputs)} inputs and {len(op.outputs)} outputs; "
                          f"{op.op} takes {lo}" + (f"..{hi}" if hi != lo else "")
                          + f" inputs and {n_out} output")
    if op.op in _ONE_DTYPE:
        params = _PARAMETER_INPUTS.get(op.op, set())
        data = [graph.tensors[i] for pos, i in enumerate(op.inputs) if i >= 0 and pos not in params]
        y = _out(graph, op)
        odd = next((t for t in data if t.dtype != y.dtype), None)
        if odd is not None:
            raise invalid(name, _op(op), f"{_tensor(odd)} is {odd.dtype} but the output is {y.dtype}")
    check = _SHAPE_RULES.get(op.op)
    if op.op in _ELEMENTWISE:
        check = _elementwise
    elif op.op in _SAME_SHAPE and check is None:
        check = _same_shape
    if check is None:
        return
    problem = check(graph, op)
    if problem:
        raise invalid(name, _op(op), problem)


def _t(graph: Graph, op: Operator, pos: int) -> Tensor | None:
    return graph.tensors[op.inputs[pos]] if pos < len(op.inputs) and op.inputs[pos] >= 0 else None


def _out(graph: Graph, op: Operator) -> Tensor:
    return graph.tensors[op.outputs[0]]


def _window_out(size: int, k: int, stride: int, dilation: int, padding: str) -> int:
    """Output length of a sliding window, as TFLite computes it."""
    if padding == "SAME":
        return (size + stride - 1) // stride
    return (size - (k - 1) * dilation - 1) // stride + 1


def _spatial(x: Tensor, y: Tensor, kh: int, kw: int, o: dict, dilated: bool) -> str | None:
    """The checks every window operator shares: strides, dilations, output size."""
    sh, sw = o.get("StrideH", 0), o.get("StrideW", 0)
    dh, dw = (o.get("DilationHFactor", 1), o.get("DilationWFactor", 1)) if dilated else (1, 1)
    if sh < 1 or sw < 1:
        return f"stride {sh}x{sw} must be at least 1"
    if dh < 1 or dw < 1:
        return f"dilation {dh}x{dw} must be at least 1"
    if kh < 1 or kw < 1:
        return f"window {kh}x{kw} must be at least 1x1"
    padding = o.get("Padding", "SAME")
    if padding not in ("SAME", "VALID"):
        return f"padding {padding} is neither SAME nor VALID"
    want = (_window_out(x.shape[1], kh, sh, dh, padding), _window_out(x.shape[2], kw, sw, dw, padding))
    if want[0] < 1 or want[1] < 1 or tuple(y.shape[1:3]) != want:
        return (f"output {list(y.shape)} does not follow from input {list(x.shape)}, window {kh}x{kw}, "
                f"stride {sh}x{sw}, dilation {dh}x{dw}, {padding} padding (expected {want[0]}x{want[1]})")
    return None


def _rank4(*tensors: Tensor) -> str | None:
    for t in tensors:
        if len(t.shape) != 4:
            return f"{_tensor(t)} has shape {list(t.shape)}; this operator works on rank-4 tensors"
    return None


def _conv(graph: Graph, op: Operator) -> str | None:
    """CONV_2D and DEPTHWISE_CONV_2D: filter, bias and output agree with the input."""
    x, w, b, y = _t(graph, op, 0), _t(graph, op, 1), _t(graph, op, 2), _out(graph, op)
    if x is None or w is None:
        return "its input and filter must be present"
    problem = _rank4(x, w, y)
    if problem:
        return problem
    if op.op == "DEPTHWISE_CONV_2D":
        _, kh, kw, out_c = w.shape
        if w.shape[0] != 1 or out_c % x.shape[3]:
            return f"filter {list(w.shape)} does not make a depthwise convolution of input {list(x.shape)}"
    else:
        out_c, kh, kw, in_c = w.shape
        if x.shape[3] % in_c:
            return f"input has {x.shape[3]} channels; the filter {list(w.shape)} takes groups of {in_c}"
    if y.shape[3] != out_c or y.shape[0] != x.shape[0]:
        return f"output {list(y.shape)} does not match input {list(x.shape)} and filter {list(w.shape)}"
    if b is not None and b.size != out_c:
        return f"bias {_tensor(b)} has {b.size} values for {out_c} output channels"
    return _spatial(x, y, kh, kw, op.options, dilated=True)


def _pool(graph: Graph, op: Operator) -> str | None:
    x, y = _t(graph, op, 0), _out(graph, op)
    problem = _rank4(x, y)
    if problem:
        return problem
    if x.shape[0] != y.shape[0] or x.shape[3] != y.shape[3]:
        return f"output {list(y.shape)} does not keep the batch and channels of input {list(x.shape)}"
    o = op.options
    return _spatial(x, y, o.get("FilterHeight", 0), o.get("FilterWidth", 0), o, dilated=False)


def _fully_connected(graph: Graph, op: Operator) -> str | None:
    x, w, b, y = _t(graph, op, 0), _t(graph, op, 1), _t(graph, op, 2), _out(graph, op)
    if x is None or w is None:
        return "its input and weights must be present"
    if len(w.shape) != 2:
        return f"weights {_tensor(w)} have shape {list(w.shape)}; they must be [units, depth]"
    units, depth = w.shape
    if x.size % depth:
        return f"input {list(x.shape)} has {x.size} values, not a multiple of the weights' depth {depth}"
    if not y.shape or y.shape[-1] != units or y.size != x.size // depth * units:
        return f"output {list(y.shape)} does not match {x.size // depth} rows of {units} units"
    if b is not None and b.size != units:
        return f"bias {_tensor(b)} has {b.size} values for {units} units"
    return None


def _same_size(graph: Graph, op: Operator) -> str | None:
    x, y = _t(graph, op, 0), _out(graph, op)
    if x is not None and x.size != y.size:
        return f"output {list(y.shape)} has {y.size} values; input {list(x.shape)} has {x.size}"
    return None


def _same_shape(graph: Graph, op: Operator) -> str | None:
    x, y = _t(graph, op, 0), _out(graph, op)
    if x is not None and tuple(x.shape) != tuple(y.shape):
        return f"output {list(y.shape)} differs from input {list(x.shape)}"
    return None


def _elementwise(graph: Graph, op: Operator) -> str | None:
    if len(op.inputs) != 2 or len(op.outputs) != 1:
        return f"{len(op.inputs)} inputs and {len(op.outputs)} outputs; {op.op} takes 2 and 1"
    a, b, y = _t(graph, op, 0), _t(graph, op, 1), _out(graph, op)
    if a is None or b is None:
        return "both inputs must be present"
    try:
        want = np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        return f"inputs {list(a.shape)} and {list(b.shape)} do not broadcast"
    if tuple(want) != tuple(y.shape):
        return (f"output {list(y.shape)} is not the broadcast {list(want)} of {list(a.shape)} "
                f"and {list(b.shape)}")
    return None


def _concatenation(graph: Graph, op: Operator) -> str | None:
    y = _out(graph, op)
    parts = [_t(graph, op, i) for i in range(len(op.inputs))]
    if any(p is None for p in parts):
        return "every input must be present"
    rank = len(y.shape)
    axis = op.options.get("Axis", 0)
    axis = axis + rank if axis < 0 else axis
    if not 0 <= axis < rank:
        return f"axis {op.options.get('Axis')} is not an axis of output {list(y.shape)}"
    total = 0
    for p in parts:
        if len(p.shape) != rank or any(p.shape[d] != y.shape[d] for d in range(rank) if d != axis):
            return f"input {list(p.shape)} does not fit output {list(y.shape)} along axis {axis}"
        total += p.shape[axis]
    if total != y.shape[axis]:
        return f"inputs add up to {total} along axis {axis}; the output has {y.shape[axis]}"
    return None


def _pad(graph: Graph, op: Operator) -> str | None:
    x, pads, y = _t(graph, op, 0), _t(graph, op, 1), _out(graph, op)
    if x is None or pads is None or pads.data is None:
        return None  # run-time paddings: the kernel choice refuses them
    p = [int(v) for v in np.asarray(pads.data).reshape(-1)]  # Python ints: no overflow
    if len(p) != 2 * len(x.shape) or any(v < 0 for v in p):
        return f"paddings {p} are not two non-negative amounts per axis of {list(x.shape)}"
    want = [d + p[2 * i] + p[2 * i + 1] for i, d in enumerate(x.shape)]
    if want != list(y.shape):
        return f"output {list(y.shape)} is not the padded input {want}"
    return None


def _softmax(graph: Graph, op: Operator) -> str | None:
    beta = op.options.get("Beta", 1.0)
    if not math.isfinite(beta) or beta <= 0:
        return f"beta {beta} is not a finite positive number"
    return _same_shape(graph, op)


def _mean(graph: Graph, op: Operator) -> str | None:
    x, axes = _t(graph, op, 0), _t(graph, op, 1)
    if x is None or axes is None or axes.data is None:
        return None
    rank = len(x.shape)
    bad = [int(a) for a in np.asarray(axes.data).reshape(-1) if not -rank <= int(a) < rank]
    if bad:
        return f"axis {bad[0]} is not an axis of input {list(x.shape)}"
    return None


_SHAPE_RULES = {
    "CONV_2D": _conv, "DEPTHWISE_CONV_2D": _conv, "FULLY_CONNECTED": _fully_connected,
    "AVERAGE_POOL_2D": _pool, "MAX_POOL_2D": _pool, "RESHAPE": _same_size, "SQUEEZE": _same_size,
    "EXPAND_DIMS": _same_size, "CONCATENATION": _concatenation, "PAD": _pad, "PADV2": _pad,
    "MEAN": _mean, "SOFTMAX": _softmax,
}
