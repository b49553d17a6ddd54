"""The per-layer view the kernel builders use to emit C."""

from __future__ import annotations

import numpy as np

from kiln.codegen.cwriter import c_array, c_comment, c_float, c_int
from kiln.codegen.registry import UnsupportedLayer
from kiln.ir import Graph, Operator, Tensor
from kiln.planner import Plan

#: C types of the dtypes the runtime stores (kiln.codegen.registry.RUNTIME_DTYPES).
CTYPES = {"int8": "int8_t", "float32": "float", "int32": "int32_t", "uint8": "uint8_t",
          "int16": "int16_t", "bool": "uint8_t",  # TFLite's bool is one byte, 0 or 1
          "int64": "int64_t"}  # int64: constants only (16x8 biases)


class ModelConstants:
    """Constant tensors emitted once per model (weights, biases), in flash."""

    def __init__(self) -> None:
        self.decls: list[str] = []
        self.names: dict[tuple[int, str], str] = {}
        self.bytes = 0

    def get(self, t: Tensor, layout_name: str = "", data: np.ndarray | None = None) -> str:
        """The C name of tensor `t`'s constant data (re-laid-out data gets its own array)."""
        key = (t.index, layout_name)
        if key not in self.names:
            ctype = CTYPES.get(t.dtype)
            if ctype is None:
                raise UnsupportedLayer(f"constant {t.describe()} is {t.dtype}, which Kiln's runtime "
                                       "does not store")
            name = f"kiln_t{t.index}" + (f"_{layout_name}" if layout_name else "")
            values = t.data if data is None else data
            self.decls.append(f"/* {c_comment(t.name)} {list(t.shape)} */\n"
                              + c_array(name, ctype, values, align=8))
            self.names[key] = name
            self.bytes += int(np.asarray(values).size) * np.dtype(values.dtype).itemsize
        return self.names[key]


class LayerContext:
    """Everything a builder needs for one layer: tensors, arena offsets, declarations."""

    def __init__(self, graph: Graph, plan: Plan, step: int, op: Operator,
                 consts: ModelConstants, func: str) -> None:
        self.graph, self.plan, self.step, self.op = graph, plan, step, op
        self.consts, self.func = consts, func
        self.decls: list[str] = []
        self.prefix = f"kiln_l{step}"
        self.weight_bytes_before = consts.bytes

    def t(self, k: int, outputs: bool = False) -> Tensor | None:
        """Input k (or output k), None when the optional input is absent."""
        ids = self.op.outputs if outputs else self.op.inputs
        if k >= len(ids) or ids[k] < 0:
            return None
        return self.graph.tensors[ids[k]]

    def ptr(self, t: Tensor | None, const: bool = True, layout_name: str = "",
            data: np.ndarray | None = None) -> str:
        """A C expression pointing at tensor t's data (NULL when t is None)."""
        if t is None:
            return "NULL"
        if t.is_const:
            return self.consts.get(t, layout_name, data)
        ctype = CTYPES[t.dtype]
        q = "const " if const else ""
        return f"({q}{ctype} *)&kiln_arena[{self.plan.offset(t.index)}]"

    def array(self, suffix: str, ctype: str, values) -> str:
        """Declare a const parameter array for this layer; returns its name."""
        name = f"{self.prefix}_{suffix}"
        self.decls.append(c_array(name, ctype, values, align=4))
        return name

    def struct(self, ctype: str, fields: dict) -> str:
        """Declare this layer's const parameter struct; returns `&name`."""
        name = f"{self.prefix}_p"
        body = ",\n".join(f"    .{k} = {fmt(v)}" for k, v in fields.items())
        self.decls.append(f"static const {ctype} {name} = {{\n{body}\n}};")
        return f"&{name}"

    @property
    def weight_bytes(self) -> int:
        """Bytes of constant tensors this layer added."""
        return self.consts.bytes - self.weight_bytes_before


def fmt(v) -> str:
    """A struct field value: strings pass through, floats and ints become literals."""
    if isinstance(v, str):
        return v
    if isinstance(v, (list, tuple)):
        return "{" + ", ".join(fmt(x) for x in v) + "}"
    if isinstance(v, (float, np.floating)):
        return c_float(float(v))
    return c_int(int(v))
