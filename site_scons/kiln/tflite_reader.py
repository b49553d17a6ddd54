"""Read a .tflite flatbuffer into Kiln's graph IR, without TensorFlow.

    graph = read_tflite(path)      # kiln.ir.Graph, constant shapes folded

Uses the pure-Python `tflite` flatbuffer bindings. After reading, operators
that only compute constants (SHAPE, STRIDED_SLICE, PACK, ... on constants)
are evaluated with NumPy and removed, and RESHAPE / SQUEEZE / EXPAND_DIMS of
activations become storage aliases of their input.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import tflite

from kiln.errors import FIX_CORRUPT, KilnError, corrupt, invalid
from kiln.ir import ALIGN, Graph, Operator, Tensor

# tflite.TensorType -> (IR name, NumPy dtype)
_TYPES = {
    0: ("float32", np.float32), 1: ("float16", np.float16), 2: ("int32", np.int32),
    3: ("uint8", np.uint8), 4: ("int64", np.int64), 6: ("bool", np.bool_),
    7: ("int16", np.int16), 9: ("int8", np.int8), 10: ("float64", np.float64),
}

_OP_NAMES = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
_OPTION_CLASSES = {v: k for k, v in vars(tflite.BuiltinOptions).items() if not k.startswith("_")}
_ACTIVATIONS = {v: k for k, v in vars(tflite.ActivationFunctionType).items() if not k.startswith("_")}
_PADDINGS = {v: k for k, v in vars(tflite.Padding).items() if not k.startswith("_")}

ALIAS_OPS = ("RESHAPE", "SQUEEZE", "EXPAND_DIMS")


#: Operators whose options table is not named after the operator.
_OPTIONS_OF = {
    "AVERAGE_POOL_2D": "Pool2DOptions", "MAX_POOL_2D": "Pool2DOptions", "L2_POOL_2D": "Pool2DOptions",
    "MAXIMUM": "MaximumMinimumOptions", "MINIMUM": "MaximumMinimumOptions",
    **dict.fromkeys(("MEAN", "SUM", "REDUCE_PROD", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_ANY"),
                    "ReducerOptions"),
}
#: Options table names by their normalized operator-style key ("conv2d" -> "Conv2DOptions").
_OPTIONS_BY_KEY = {k[: -len("Options")].lower(): k for k in _OPTION_CLASSES.values() if k != "NONE"}
#: An empty flatbuffer table: a 4-byte vtable listing no field, then the table
#: pointing back at it. Read through an options class, every field is its default.
_EMPTY_TABLE = bytearray(struct.pack("<HHi", 4, 4, 4))
#: What a corrupt file raises inside the flatbuffer bindings.
_DECODE_ERRORS = (struct.error, IndexError, ValueError, TypeError, OverflowError, AttributeError,
                  UnicodeDecodeError, RecursionError)


def expected_options(op_name: str) -> str | None:
    """The options table an operator carries, or None when it has none."""
    if op_name in _OPTIONS_OF:
        return _OPTIONS_OF[op_name]
    return _OPTIONS_BY_KEY.get(op_name.replace("_", "").lower())


@contextmanager
def _reading(name: str, what: str) -> Iterator[None]:
    """Report any decoding failure inside the block as corruption at `what`."""
    try:
        yield
    except KilnError:
        raise
    except _DECODE_ERRORS as exc:
        raise corrupt(name, what, f"{type(exc).__name__}: {exc}") from None


def _count(n: int, what: str, name: str, buf: bytes, item_bytes: int = 4) -> int:
    """A vector's length, checked against the bytes that could hold it: a
    corrupt length must not make the reader loop billions of times."""
    if n < 0 or n * item_bytes > len(buf):
        raise corrupt(name, what, f"a vector of {n} entries in a file of {len(buf)} bytes")
    return n


def read_tflite(path: str | Path) -> Graph:
    """Parse `path` into a Graph (first subgraph), check it (kiln.validate),
    then fold constants and aliases."""
    from kiln.validate import validate

    path = Path(path)
    try:
        buf = path.read_bytes()
    except OSError as exc:
        raise KilnError(f"cannot read the model '{path}': {exc.strerror}; check the path") from exc
    graph = parse_tflite(buf, path.name)
    validate(graph, path.name)
    simplify(graph)
    return graph


def parse_tflite(buf: bytes, name: str = "model") -> Graph:
    """Parse flatbuffer bytes into a Graph without any simplification.

    Every read is bounded by the buffer: a truncated or corrupt file raises a
    KilnError naming the part that could not be read."""
    if len(buf) < 8 or buf[4:8] != b"TFL3":
        raise KilnError(f"'{name}' is not a .tflite flatbuffer (no TFL3 identifier); "
                        "pass a file written by the TFLite converter")
    buf = bytes(buf)
    with _reading(name, "the model header"):
        if struct.unpack_from("<I", buf, 0)[0] >= len(buf):
            raise corrupt(name, "the model header", "the root table lies past the end of the file")
        model = tflite.Model.GetRootAs(buf, 0)
        n_sub = _count(model.SubgraphsLength(), "the subgraph list", name, buf)
        n_buffers = _count(model.BuffersLength(), "the buffer list", name, buf)
        n_codes = _count(model.OperatorCodesLength(), "the operator code list", name, buf)
    if n_sub < 1:
        raise KilnError(f"'{name}' holds no subgraph; {FIX_CORRUPT}")
    with _reading(name, "subgraph 0"):
        sub = model.Subgraphs(0)
        n_tensors = _count(sub.TensorsLength(), "the tensor list", name, buf)
        n_ops = _count(sub.OperatorsLength(), "the operator list", name, buf)
        inputs = [int(t) for t in sub.InputsAsNumpy()] if sub.InputsLength() else []
        outputs = [int(t) for t in sub.OutputsAsNumpy()] if sub.OutputsLength() else []
    tensors = []
    for i in range(n_tensors):
        with _reading(name, f"tensor {i}"):
            tensors.append(_read_tensor(model, sub, i, buf, n_buffers, name))
    ops = []
    for i in range(n_ops):
        with _reading(name, f"operator {i}"):
            op = sub.Operators(i)
            code_index = op.OpcodeIndex()
            if code_index >= n_codes:
                raise corrupt(name, f"operator {i}",
                              f"operator code {code_index} of {n_codes}")
            code = model.OperatorCodes(code_index)
            builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
            op_name = _OP_NAMES.get(builtin, f"BUILTIN_{builtin}")
            if op_name == "CUSTOM":
                custom = code.CustomCode()
                op_name = f"CUSTOM:{custom.decode(errors='replace') if custom else '?'}"
            ops.append(Operator(
                index=i, op=op_name,
                inputs=[int(t) for t in (op.InputsAsNumpy() if op.InputsLength() else [])],
                outputs=[int(t) for t in (op.OutputsAsNumpy() if op.OutputsLength() else [])],
                options=_read_options(op, op_name, name, i),
            ))
    with _reading(name, "the model description"):
        desc = model.Description()
    return Graph(name=name, tensors=tensors, ops=ops, inputs=inputs, outputs=outputs,
                 description=desc.decode(errors="replace") if desc else "")


def _read_tensor(model: tflite.Model, sub: tflite.SubGraph, i: int, buf: bytes, n_buffers: int,
                 name: str) -> Tensor:
    t = sub.Tensors(i)
    type_name, np_type = _TYPES.get(t.Type(), (f"type{t.Type()}", None))
    shape = tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()
    scale = zero_point = None
    qdim = 0
    q = t.Quantization()
    if q is not None and q.ScaleLength() > 0:
        scale = q.ScaleAsNumpy().astype(np.float32)
        zero_point = (q.ZeroPointAsNumpy().astype(np.int64) if q.ZeroPointLength()
                      else np.zeros(len(scale), np.int64))
        qdim = int(q.QuantizedDimension())
    data = None
    if t.Buffer() >= n_buffers:
        raise corrupt(name, f"tensor {i}", f"buffer {t.Buffer()} of {n_buffers}")
    b = model.Buffers(t.Buffer())
    if b is not None and np_type is not None:
        raw = None
        if b.DataLength() > 0:
            raw = b.DataAsNumpy().tobytes()
        elif b.Offset() > 1:  # models above 2 GB keep buffers after the flatbuffer
            if b.Offset() + b.Size() > len(buf):
                raise corrupt(name, f"tensor {i}", f"buffer {t.Buffer()} ends past the end of the file")
            raw = buf[b.Offset():b.Offset() + b.Size()]
        if raw is not None:
            if len(raw) % np.dtype(np_type).itemsize:
                raise invalid(name, f"tensor {i} '{_name_of(t)}'", f"{len(raw)} bytes of data are not a "
                              f"whole number of {type_name} values")
            data = np.frombuffer(raw, dtype=np_type).copy()
            data = data.reshape(shape) if data.size == _elements(shape) else data
    return Tensor(index=i, name=_name_of(t) or f"tensor_{i}", shape=shape, dtype=type_name, scale=scale,
                  zero_point=zero_point, quantized_dimension=qdim, data=data,
                  is_variable=bool(t.IsVariable()) and data is None)


def _name_of(t: tflite.Tensor) -> str:
    raw = t.Name()
    return raw.decode(errors="replace") if raw else ""


def _elements(shape: tuple[int, ...]) -> int:
    """Elements of a shape, or -1 for a shape with a negative dimension."""
    if any(d < 0 for d in shape):
        return -1
    return int(np.prod(shape, dtype=np.int64))


def _read_options(op: tflite.Operator, op_name: str, name: str, index: int) -> dict:
    """Builtin options as a plain dict {CamelCaseField: value}, enums as names.

    A table of another operator's type is corruption; a missing table reads
    as the schema's defaults."""
    kind = _OPTION_CLASSES.get(op.BuiltinOptionsType(), f"options type {op.BuiltinOptionsType()}")
    want = expected_options(op_name)
    if kind != "NONE" and want is not None and kind != want:
        raise invalid(name, f"operator {index} ({op_name})", f"its options table is {kind}, not {want}")
    table = op.BuiltinOptions() if kind != "NONE" else None
    if table is None:
        if want is None or not hasattr(tflite, want):
            return {}
        kind, table_bytes, table_pos = want, _EMPTY_TABLE, 4
    else:
        if not hasattr(tflite, kind):
            return {}
        table_bytes, table_pos = table.Bytes, table.Pos
    opts = getattr(tflite, kind)()
    opts.Init(table_bytes, table_pos)
    out: dict = {}
    for attr in dir(opts):
        if attr.startswith("_") or attr in ("Init",) or attr.startswith("GetRootAs"):
            continue
        if attr.endswith(("BufferHasIdentifier", "IsNone", "Length", "AsNumpy")):
            continue
        fn = getattr(opts, attr)
        if not callable(fn):
            continue
        try:
            if hasattr(opts, attr + "AsNumpy"):
                val = [int(v) for v in getattr(opts, attr + "AsNumpy")()] \
                    if getattr(opts, attr + "Length")() else []
            else:
                val = fn()
        except TypeError as exc:  # accessors that need an index argument
            if "argument" not in str(exc):
                raise
            continue
        enum = {"FusedActivationFunction": _ACTIVATIONS, "Padding": _PADDINGS}.get(attr)
        if enum is not None:
            if val not in enum:
                raise invalid(name, f"operator {index} ({op_name})", f"{attr} {val} is not one of "
                              f"{', '.join(enum.values())}")
            val = enum[val]
        out[attr] = val
    return out


# ---- simplification: constant folding and storage aliases -------------------

def simplify(graph: Graph) -> None:
    """Fold constant-only operators, turn reshapes into aliases and outer concatenations
    into slices, in place."""
    kept = []
    for op in graph.ops:
        if _try_fold(graph, op):
            continue
        if op.op in ALIAS_OPS and op.inputs and op.outputs:
            src, dst = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
            if not src.is_const and src.nbytes == dst.nbytes and dst.index not in graph.inputs:
                dst.alias_of = src.index
                continue
        kept.append(op)
    produced = {t for op in graph.ops for t in op.outputs}
    graph.ops = [op for op in kept if not _concat_into_slices(graph, op, produced)]


def _concat_into_slices(graph: Graph, op: Operator, produced: set[int]) -> bool:
    """Make a CONCATENATION's inputs slices of its output (alias_of with alias_offset),
    so that their producers write straight into place and the copy disappears. True
    when done: the concatenation runs along an axis with nothing but size-1 dimensions
    before it (so each input is one contiguous run of the output), needs no
    requantization and no activation, each input's storage (the tensor itself, or what
    it reshapes) is a distinct activation written by an operator of the graph (`produced`:
    every operator output, folded ones included), and each slice starts at a multiple of
    ALIGN bytes."""
    if op.op != "CONCATENATION" or len(op.outputs) != 1:
        return False
    out = graph.tensors[op.outputs[0]]
    axis = op.options.get("Axis", 0)
    axis = axis + len(out.shape) if axis < 0 else axis
    if op.options.get("FusedActivationFunction", "NONE") != "NONE" or out.index in graph.inputs \
            or not 0 <= axis < len(out.shape) or int(np.prod(out.shape[:axis])) != 1 \
            or any(i < 0 for i in op.inputs):
        return False
    ins = [graph.tensors[i] for i in op.inputs]
    roots = [graph.tensors[graph.storage(t.index)] for t in ins]
    if len({r.index for r in roots}) != len(roots) or graph.storage(out.index) in {r.index for r in roots}:
        return False
    for t, root in zip(ins, roots, strict=True):
        if graph.storage_offset(t.index) or root.is_const or root.is_variable or \
                root.index in graph.inputs or root.index not in produced or \
                root.nbytes != t.nbytes or t.dtype != out.dtype:
            return False
        if out.quantized or t.quantized:
            if not (out.quantized and t.quantized and np.array_equal(t.scale, out.scale)
                    and np.array_equal(t.zero_point, out.zero_point)):
                return False
    if sum(t.nbytes for t in ins) != out.nbytes or any(t.nbytes % ALIGN for t in ins[:-1]):
        return False   # (every slice must start aligned, as the planner places tensors)
    offset = 0
    for root in roots:
        root.alias_of, root.alias_offset = out.index, offset
        offset += root.nbytes
    return True


def _strided_slice(x: np.ndarray, begin, end, strides, o: dict) -> np.ndarray:
    if o.get("EllipsisMask") or o.get("NewAxisMask"):
        raise ValueError("ellipsis/new-axis masks")
    index = []
    for d in range(len(begin)):
        b = None if (o.get("BeginMask", 0) >> d) & 1 else int(begin[d])
        e = None if (o.get("EndMask", 0) >> d) & 1 else int(end[d])
        if (o.get("ShrinkAxisMask", 0) >> d) & 1:
            index.append(int(begin[d]))
        else:
            index.append(slice(b, e, int(strides[d])))
    return np.asarray(x[tuple(index)])


def _evaluate(graph: Graph, op: Operator) -> np.ndarray:
    """NumPy value of a constant-only operator; ValueError when not foldable."""
    t = graph.tensors
    ins = [t[i].data if i >= 0 else None for i in op.inputs]
    o = op.options
    name = op.op
    if name == "SHAPE":
        return np.array(t[op.inputs[0]].shape, dtype=np.int32)
    if any(v is None for v in ins[:1]) or any(
            i >= 0 and t[i].data is None for i in op.inputs):
        raise ValueError("non-constant input")
    if any(t[i].quantized for i in op.inputs if i >= 0) and name not in ("DEQUANTIZE", *ALIAS_OPS):
        raise ValueError("quantized constant arithmetic is left to the kernels")
    if name == "PACK":
        return np.stack(ins, axis=o.get("Axis", 0))
    if name == "STRIDED_SLICE":
        return _strided_slice(ins[0], ins[1], ins[2], ins[3], o)
    if name == "CONCATENATION":
        return np.concatenate(ins, axis=o.get("Axis", 0))
    if name in ALIAS_OPS:
        return ins[0].reshape(t[op.outputs[0]].shape)
    if name == "CAST":
        return ins[0]  # dtype fixed below from the output tensor
    if name == "GATHER":
        return np.take(ins[0], ins[1], axis=o.get("Axis", 0))
    if name in ("ADD", "SUB", "MUL") and o.get("FusedActivationFunction", "NONE") == "NONE":
        fn = {"ADD": np.add, "SUB": np.subtract, "MUL": np.multiply}[name]
        return fn(ins[0], ins[1])
    if name == "DEQUANTIZE":
        src = t[op.inputs[0]]
        if src.quantized:
            return ((ins[0].astype(np.float32) - src.zero_point[0]) * src.scale[0]).astype(np.float32)
        return ins[0].astype(np.float32)
    raise ValueError("not a foldable operator")


def _try_fold(graph: Graph, op: Operator) -> bool:
    if len(op.outputs) != 1:
        return False
    out = graph.tensors[op.outputs[0]]
    try:
        value = _evaluate(graph, op)
    except (ValueError, IndexError, TypeError):
        return False
    _, np_type = _TYPES.get({"float32": 0, "float16": 1, "int32": 2, "uint8": 3, "int64": 4,
                             "bool": 6, "int16": 7, "int8": 9}.get(out.dtype, 0))
    value = np.asarray(value).astype(np_type)
    if out.shape:
        if value.size != int(np.prod(out.shape)):
            # The constant must fill the tensor the model declares: the
            # kernels reading it go by the declared shape.
            raise invalid(graph.name, f"operator {op.index} ({op.op})", f"it computes {value.size} values "
                          f"but its output {out.describe()} holds {int(np.prod(out.shape))}")
        value = value.reshape(out.shape)
    out.data = value
    src = graph.tensors[op.inputs[0]] if op.inputs and op.inputs[0] >= 0 else None
    if op.op in ALIAS_OPS and src is not None and src.quantized and not out.quantized:
        out.scale, out.zero_point = src.scale, src.zero_point  # a reshaped constant keeps its scale
    if not out.shape and value.shape:
        out.shape = tuple(value.shape)
    return True
