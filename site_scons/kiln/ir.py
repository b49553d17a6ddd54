"""Kiln's graph IR: tensors, operators and the graph that holds them.

The IR is deliberately small: what the planner and the code generator need,
nothing the .tflite format carries for other runtimes. Storage aliases
(RESHAPE, SQUEEZE, EXPAND_DIMS) are recorded on the tensor (`alias_of`), so an
operator keeps its own view of the shape while sharing its input's bytes. A
concatenation's inputs may be aliases too, each at its byte offset into the
output (`alias_offset`): their producers then write straight into their slice.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Every activation tensor starts at a multiple of this many bytes of the arena (kernels
#: load words, some with LDRD/LDM, which fault on unaligned addresses): the planner's
#: alignment, and the one a concatenation's slices must keep.
ALIGN = 4

#: Bytes per element of the dtypes Kiln knows.
DTYPE_BYTES = {"int8": 1, "uint8": 1, "int16": 2, "int32": 4, "int64": 8,
               "float32": 4, "float16": 2, "bool": 1}


@dataclass
class Tensor:
    """One tensor of the graph: an activation (data None) or a constant."""

    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    scale: np.ndarray | None = None        # float32, one entry or one per channel
    zero_point: np.ndarray | None = None   # int64, same length as scale
    quantized_dimension: int = 0
    data: np.ndarray | None = None         # constants only, already shaped
    alias_of: int | None = None            # storage shared with this tensor
    alias_offset: int = 0                  # ... from this byte of it (a concatenation's slice)
    is_variable: bool = False              # state kept between invocations (an LSTM's), zeros at start

    @property
    def is_const(self) -> bool:
        """True for tensors whose values are known at build time."""
        return self.data is not None

    @property
    def size(self) -> int:
        """Number of elements."""
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    @property
    def nbytes(self) -> int:
        """Bytes of storage."""
        return self.size * DTYPE_BYTES.get(self.dtype, 4)

    @property
    def quantized(self) -> bool:
        """True when the tensor carries a scale (int8 activations, weights)."""
        return self.scale is not None and len(self.scale) > 0

    def qparams(self) -> tuple[float, int]:
        """Per-tensor (scale, zero_point); (0.0, 0) for float tensors."""
        if not self.quantized:
            return 0.0, 0
        return float(self.scale[0]), int(self.zero_point[0])

    def describe(self) -> str:
        """A one-line description for error messages."""
        return f"'{self.name}' {self.dtype}{list(self.shape)}"


@dataclass
class Operator:
    """One operator: builtin name, tensor indices (-1: optional, absent), options."""

    index: int
    op: str
    inputs: list[int]
    outputs: list[int]
    options: dict = field(default_factory=dict)


@dataclass
class Graph:
    """A whole model: tensors, operators in execution order, graph edges."""

    name: str
    tensors: list[Tensor]
    ops: list[Operator]
    inputs: list[int]
    outputs: list[int]
    description: str = ""

    def storage(self, index: int) -> int:
        """The tensor that owns `index`'s bytes (following RESHAPE aliases)."""
        seen = 0
        while self.tensors[index].alias_of is not None:
            index = self.tensors[index].alias_of
            seen += 1
            if seen > len(self.tensors):  # a cycle can only come from a bug
                raise RuntimeError("alias cycle in graph")
        return index

    def storage_offset(self, index: int) -> int:
        """The byte offset of `index`'s bytes in its storage root's (0 but for slices)."""
        offset = 0
        while self.tensors[index].alias_of is not None:
            offset += self.tensors[index].alias_offset
            index = self.tensors[index].alias_of
        return offset

    def producers(self) -> dict[int, int]:
        """Tensor index -> index (in self.ops) of the operator writing it."""
        return {t: i for i, op in enumerate(self.ops) for t in op.outputs}

    def consumers(self) -> dict[int, list[int]]:
        """Tensor index -> indices (in self.ops) of the operators reading it."""
        out: dict[int, list[int]] = {}
        for i, op in enumerate(self.ops):
            for t in op.inputs:
                if t >= 0:
                    out.setdefault(t, []).append(i)
        return out


def is_hybrid(graph: Graph, op: Operator) -> bool:
    """True for a layer with a float32 input and constant int8 weights (input 1).

    TFLite calls these dynamic-range ("hybrid") layers. The predicate lives in
    the IR because both the code generator (which kernel runs the layer) and
    the oracle (which interpreter is the reference) ask it, and the oracle must
    not import the generator."""
    if len(op.inputs) < 2 or op.inputs[0] < 0 or op.inputs[1] < 0:
        return False
    x, w = graph.tensors[op.inputs[0]], graph.tensors[op.inputs[1]]
    return x.dtype == "float32" and w.dtype == "int8" and w.is_const
