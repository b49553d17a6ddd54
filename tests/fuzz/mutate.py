"""Seeded mutations of .tflite files, as an attacker or an unlucky download makes them.

    for kind, blob in mutants(seed_bytes, random.Random(0), count=100): ...

Two families:
- bytes: flips, overwrites, truncations, insertions and zeroed runs anywhere
  in the file;
- schema: the file unpacked with the TFLite schema's object API, one field
  edited (a shape, an index, a buffer, quantization, an options table or
  value, an opcode, a tensor type, the operator order), packed again. These
  reach the checks behind the flatbuffer layer.

The schema bindings are TFLite's generated Python, shipped inside the
tflite-micro package (our oracle), loaded from its file.
"""

from __future__ import annotations

import copy
import importlib.util
import random
import struct
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from types import ModuleType

import flatbuffers
import numpy as np

SEEDS = Path(__file__).resolve().parent / "seeds"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

#: Values that break assumptions: zero, negative, huge, off by one.
_INTS = [0, -1, -2, 1, 2, 3, 7, 255, 256, 3000, 65535, 65536, 100000, 1 << 20, (1 << 31) - 1, -(1 << 31)]
_FLOATS = [0.0, -1.0, float("nan"), float("inf"), -float("inf"), 1e-45, 1e30, 1e-12, 1.0]


def seed_files() -> list[Path]:
    """Every seed model: tests/fuzz/seeds/ and the trained fashion model fixture."""
    return sorted(SEEDS.glob("*.tflite")) + [FIXTURES / "fc_double_product" / "model.tflite"]


@cache
def schema() -> ModuleType:
    """TFLite's generated schema module (object API), from the tflite-micro package."""
    import tflite_micro

    path = Path(tflite_micro.__file__).parent / "tensorflow" / "lite" / "micro" / "python" / \
        "schema_py_generated.py"
    spec = importlib.util.spec_from_file_location("kiln_fuzz_tflite_schema", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pack(model: object) -> bytes:
    """Serialize a ModelT back into .tflite bytes."""
    builder = flatbuffers.Builder(4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


# ---- byte mutations --------------------------------------------------------------------

def _flip(buf: bytearray, r: random.Random) -> None:
    for _ in range(r.randint(1, 8)):
        buf[r.randrange(len(buf))] ^= 1 << r.randrange(8)


def _overwrite(buf: bytearray, r: random.Random) -> None:
    at = r.randrange(max(1, len(buf) - 4))
    value = r.choice(_INTS) & 0xFFFFFFFF
    buf[at:at + 4] = value.to_bytes(4, "little")


def _zero_run(buf: bytearray, r: random.Random) -> None:
    at = r.randrange(len(buf))
    buf[at:at + r.randint(1, 64)] = bytes(min(64, len(buf) - at))


def _truncate(buf: bytearray, r: random.Random) -> bytearray:
    return buf[: r.randrange(len(buf))]


def _insert(buf: bytearray, r: random.Random) -> bytearray:
    at = r.randrange(len(buf))
    return buf[:at] + bytes(r.randrange(256) for _ in range(r.randint(1, 16))) + buf[at:]


def byte_mutant(blob: bytes, r: random.Random) -> tuple[str, bytes]:
    """One byte-level mutant of `blob`: (class name, bytes)."""
    buf = bytearray(blob)
    kind = r.choice(["flip", "overwrite", "zero_run", "truncate", "insert"])
    if kind == "truncate":
        buf = _truncate(buf, r)
    elif kind == "insert":
        buf = _insert(buf, r)
    else:
        {"flip": _flip, "overwrite": _overwrite, "zero_run": _zero_run}[kind](buf, r)
    return f"bytes.{kind}", bytes(buf)


# ---- schema-aware mutations -------------------------------------------------------------

def _pick(items: list, r: random.Random):  # noqa: ANN202 - any schema object
    return r.choice(items) if items else None


def _shape(m: object, g: object, r: random.Random) -> None:
    t = _pick(g.tensors, r)
    if t is not None and t.shape is not None and len(t.shape):
        shape = list(t.shape)
        shape[r.randrange(len(shape))] = r.choice(_INTS)
        t.shape = np.array(shape, dtype=np.int32) if r.random() < 0.9 else np.array(shape * 3, np.int32)


def _index(m: object, g: object, r: random.Random) -> None:
    n = len(g.tensors)
    values = [-1, -2, n, n + 5, r.randrange(max(1, n)), 1 << 30]
    where = r.choice(["op_in", "op_out", "graph_in", "graph_out"])
    if where.startswith("op"):
        op = _pick(g.operators, r)
        if op is None:
            return
        vec = list(op.inputs if where == "op_in" else op.outputs)
        if vec:
            vec[r.randrange(len(vec))] = r.choice(values)
        setattr(op, "inputs" if where == "op_in" else "outputs", np.array(vec, np.int32))
    else:
        vec = list(g.inputs if where == "graph_in" else g.outputs)
        if vec:
            vec[r.randrange(len(vec))] = r.choice(values)
        setattr(g, "inputs" if where == "graph_in" else "outputs", np.array(vec, np.int32))


def _buffer(m: object, g: object, r: random.Random) -> None:
    t = _pick(g.tensors, r)
    if t is None:
        return
    if r.random() < 0.5:
        t.buffer = r.choice([0, len(m.buffers), len(m.buffers) + 9, r.randrange(len(m.buffers)), 1 << 30])
        return
    with_data = [b for b in m.buffers if b.data is not None and len(b.data)]
    b = _pick(with_data, r)
    if b is not None:
        b.data = b.data[: r.choice([0, 1, 3, len(b.data) // 2, len(b.data) - 1])]


def _quantization(m: object, g: object, r: random.Random) -> None:
    quantized = [t for t in g.tensors if t.quantization is not None and t.quantization.scale is not None]
    t = _pick(quantized, r)
    if t is None:
        return
    q = t.quantization
    kind = r.choice(["scale", "zero_point", "axis", "count"])
    if kind == "scale":
        scale = np.array(q.scale, np.float32)
        scale[r.randrange(len(scale))] = r.choice(_FLOATS)
        q.scale = scale
    elif kind == "zero_point" and q.zeroPoint is not None and len(q.zeroPoint):
        zp = np.array(q.zeroPoint, np.int64)
        zp[r.randrange(len(zp))] = r.choice([128, -129, 300, -300, 1 << 40, 255, -128])
        q.zeroPoint = zp
    elif kind == "axis":
        q.quantizedDimension = r.choice([-1, 4, 7, 1 << 20, 0, 1, 2, 3])
    else:
        q.scale = np.array(list(q.scale) * r.choice([2, 3]) or [1.0], np.float32)


def _options(m: object, g: object, r: random.Random) -> None:
    op = _pick(g.operators, r)
    if op is None:
        return
    if r.random() < 0.4 or op.builtinOptions is None:
        # the table stays, tagged as another operator's options (or dropped)
        op.builtinOptionsType = r.randrange(0, 120)
        if r.random() < 0.2:
            op.builtinOptions = None
        return
    fields = [k for k, v in vars(op.builtinOptions).items() if isinstance(v, int | float)]
    if fields:
        name = r.choice(fields)
        setattr(op.builtinOptions, name, r.choice(_INTS))


def _opcode(m: object, g: object, r: random.Random) -> None:
    op = _pick(g.operators, r)
    if op is None:
        return
    if r.random() < 0.5:
        op.opcodeIndex = r.choice([len(m.operatorCodes), len(m.operatorCodes) + 3, 1 << 20, 0])
    else:
        code = _pick(m.operatorCodes, r)
        code.builtinCode = r.randrange(0, 210)
        code.deprecatedBuiltinCode = min(code.builtinCode, 127)


def _dtype(m: object, g: object, r: random.Random) -> None:
    t = _pick(g.tensors, r)
    if t is not None:
        t.type = r.randrange(0, 20)


def _order(m: object, g: object, r: random.Random) -> None:
    if len(g.operators) > 1:
        i, j = r.sample(range(len(g.operators)), 2)
        g.operators[i], g.operators[j] = g.operators[j], g.operators[i]


SCHEMA_MUTATIONS: dict[str, Callable[[object, object, random.Random], None]] = {
    "shape": _shape, "index": _index, "buffer": _buffer, "quantization": _quantization,
    "options": _options, "opcode": _opcode, "dtype": _dtype, "order": _order,
}


@cache
def _unpacked(blob: bytes) -> object:
    return schema().ModelT.InitFromPackedBuf(blob, 0)


def schema_mutant(blob: bytes, r: random.Random) -> tuple[str, bytes]:
    """One schema-aware mutant of `blob`: (class name, bytes)."""
    for _ in range(20):
        model = copy.deepcopy(_unpacked(blob))
        kind = r.choice(sorted(SCHEMA_MUTATIONS))
        for _ in range(1 if r.random() < 0.8 else r.randint(2, 4)):
            SCHEMA_MUTATIONS[kind](model, model.subgraphs[0], r)
        try:
            return f"schema.{kind}", pack(model)
        except (TypeError, ValueError, struct.error):
            continue  # a value the field's type cannot hold: the writer refuses it; draw again
    return byte_mutant(blob, r)


def mutants(blob: bytes, r: random.Random, count: int) -> Iterator[tuple[str, bytes]]:
    """`count` mutants of `blob`, byte and schema mutations in equal share."""
    for _ in range(count):
        yield byte_mutant(blob, r) if r.random() < 0.5 else schema_mutant(blob, r)
