"""Read a .tflite flatbuffer into Kiln's graph IR, without TensorFlow.

    graph = read_tflite(path)      # kiln.ir.Graph, constant shapes folded

Uses the pure-Python `tflite` flatbuffer bindings. After reading, operators
that only compute constants (SHAPE, STRIDED_SLICE, PACK, ... on constants)
are evaluated with NumPy and removed, and RESHAPE / SQUEEZE / EXPAND_DIMS of
activations become storage aliases of their input.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tflite

from kiln.errors import KilnError
from kiln.ir import Graph, Operator, Tensor

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


def read_tflite(path: str | Path) -> Graph:
    """Parse `path` into a Graph (first subgraph), then fold constants and aliases."""
    path = Path(path)
    try:
        buf = path.read_bytes()
    except OSError as exc:
        raise KilnError(f"cannot read the model '{path}': {exc.strerror}; check the path") from exc
    graph = parse_tflite(buf, path.stem)
    simplify(graph)
    return graph


def parse_tflite(buf: bytes, name: str = "model") -> Graph:
    """Parse flatbuffer bytes into a Graph without any simplification."""
    if len(buf) < 8 or buf[4:8] != b"TFL3":
        raise KilnError(f"'{name}' is not a .tflite flatbuffer (no TFL3 identifier); "
                        "pass a file written by the TFLite converter")
    model = tflite.Model.GetRootAs(buf, 0)
    if model.SubgraphsLength() < 1:
        raise KilnError(f"'{name}' holds no subgraph")
    sub = model.Subgraphs(0)
    tensors = [_read_tensor(model, sub, i, buf) for i in range(sub.TensorsLength())]
    ops = []
    for i in range(sub.OperatorsLength()):
        op = sub.Operators(i)
        code = model.OperatorCodes(op.OpcodeIndex())
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        op_name = _OP_NAMES.get(builtin, f"BUILTIN_{builtin}")
        if op_name == "CUSTOM":
            custom = code.CustomCode()
            op_name = f"CUSTOM:{custom.decode() if custom else '?'}"
        ops.append(Operator(
            index=i, op=op_name,
            inputs=[int(t) for t in (op.InputsAsNumpy() if op.InputsLength() else [])],
            outputs=[int(t) for t in (op.OutputsAsNumpy() if op.OutputsLength() else [])],
            options=_read_options(op),
        ))
    desc = model.Description()
    return Graph(
        name=name, tensors=tensors, ops=ops,
        inputs=[int(t) for t in sub.InputsAsNumpy()] if sub.InputsLength() else [],
        outputs=[int(t) for t in sub.OutputsAsNumpy()] if sub.OutputsLength() else [],
        description=desc.decode(errors="replace") if desc else "",
    )


def _read_tensor(model: tflite.Model, sub: tflite.SubGraph, i: int, buf: bytes) -> Tensor:
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
    b = model.Buffers(t.Buffer()) if t.Buffer() < model.BuffersLength() else None
    if b is not None and np_type is not None:
        raw = None
        if b.DataLength() > 0:
            raw = b.DataAsNumpy().tobytes()
        elif b.Offset() > 1:  # models above 2 GB keep buffers after the flatbuffer
            raw = buf[b.Offset():b.Offset() + b.Size()]
        if raw is not None:
            data = np.frombuffer(raw, dtype=np_type).copy()
            data = data.reshape(shape) if data.size == int(np.prod(shape)) else data
    name = t.Name().decode(errors="replace") if t.Name() else f"tensor_{i}"
    return Tensor(index=i, name=name, shape=shape, dtype=type_name, scale=scale,
                  zero_point=zero_point, quantized_dimension=qdim, data=data)


def _read_options(op: tflite.Operator) -> dict:
    """Builtin options as a plain dict {CamelCaseField: value}, enums as names."""
    kind = _OPTION_CLASSES.get(op.BuiltinOptionsType())
    table = op.BuiltinOptions()
    if not kind or kind == "NONE" or table is None or not hasattr(tflite, kind):
        return {}
    opts = getattr(tflite, kind)()
    opts.Init(table.Bytes, table.Pos)
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
        except TypeError:  # accessors that need an index argument
            continue
        if attr == "FusedActivationFunction":
            val = _ACTIVATIONS.get(val, str(val))
        elif attr == "Padding":
            val = _PADDINGS.get(val, str(val))
        out[attr] = val
    return out


# ---- simplification: constant folding and storage aliases -------------------

def simplify(graph: Graph) -> None:
    """Fold constant-only operators and turn reshapes into aliases, in place."""
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
    graph.ops = kept


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
    if out.shape and value.size == int(np.prod(out.shape)):
        value = value.reshape(out.shape)
    out.data = value
    src = graph.tensors[op.inputs[0]] if op.inputs and op.inputs[0] >= 0 else None
    if op.op in ALIAS_OPS and src is not None and src.quantized and not out.quantized:
        out.scale, out.zero_point = src.scale, src.zero_point  # a reshaped constant keeps its scale
    if not out.shape and value.shape:
        out.shape = tuple(value.shape)
    return True
