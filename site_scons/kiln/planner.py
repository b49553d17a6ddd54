"""Static memory planning: every activation tensor gets an offset in one arena.

    p = plan(graph)                  # Plan
    print(p.table()); p.to_json()

Lifetimes are counted in operator steps: a tensor is live from the operator
that writes it (step 0 for the graph input, which kiln_model_invoke copies in
first) to the last operator that reads it (the last step for the graph
output, which is copied out after it). Storage aliases (RESHAPE & co) share
their root's buffer. Buffers are placed greedily, largest first, each at the
lowest aligned offset that does not overlap a buffer live at the same time.

In place. An operator may write its output over an input whose life ends at
that operator when the kernel never overwrites an input byte it has still to
read. Kiln's kernels write outputs in increasing address order (NHWC, channel
innermost) and read all of an output's inputs before writing it, so:

* elementwise operators (ADD, MUL, int8 requantize) are safe when the shared
  input has the output's shape and element size (no broadcasting on it):
  output element k is written after input element k is read, and later
  outputs read only elements > k;
* pooling is safe when, with output pixels p in order and m(p) the first
  input pixel p's window reads (clipped to the image), p <= m(p) and p < m(q)
  for every q > p: writing pixel p (bytes [p*C, (p+1)*C)) then never touches
  an input pixel any later output, or a later channel of p itself, reads.
  A 2x2 stride-2 VALID pool satisfies it (m(p) = 2*oy*W + 2*ox >= p); a
  3x3 stride-1 SAME pool does not (m(p) = p - W - 1). The planner checks the
  condition numerically for each pooling layer.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import numpy as np

from kiln.ir import ALIGN, Graph, Operator, Tensor

DEFAULT_ALIGN = ALIGN
_ELEMENTWISE = ("ADD", "MUL", "QUANTIZE")
_POOLS = ("MAX_POOL_2D", "AVERAGE_POOL_2D")


@dataclass
class Buffer:
    """One region of the arena, shared by the tensors in `tensors`."""

    id: int
    tensors: list[int]
    size: int
    first: int
    last: int
    offset: int = 0


@dataclass
class Plan:
    """The arena layout of a graph and its report."""

    graph: Graph = field(repr=False)
    buffers: list[Buffer]
    buffer_of: dict[int, int]           # tensor index -> buffer id
    arena_bytes: int
    min_bytes: int                      # theoretical minimum, with in-place sharing
    min_bytes_no_inplace: int           # ... and with every tensor separate
    inplace: list[tuple[int, int, int]]  # (op step, input tensor, output tensor)
    align: int

    def offset(self, tensor: int) -> int:
        """Arena offset of a tensor (aliases resolve to their root, slices add their offset)."""
        return (self.buffers[self.buffer_of[self.graph.storage(tensor)]].offset
                + self.graph.storage_offset(tensor))

    def layers(self) -> list[dict]:
        """Per operator: its activation tensors' bytes, offsets and lifetimes."""
        out = []
        for step, op in enumerate(self.graph.ops):
            rows = []
            for role, tids in (("in", op.inputs), ("out", op.outputs)):
                for t in tids:
                    if t < 0 or self.graph.tensors[t].is_const:
                        continue
                    b = self.buffers[self.buffer_of[self.graph.storage(t)]]
                    rows.append({"role": role, "tensor": self.graph.tensors[t].name,
                                 "bytes": self.graph.tensors[t].nbytes, "offset": b.offset,
                                 "first": b.first, "last": b.last})
            live = sum(b.size for b in self.buffers if b.first <= step <= b.last)
            out.append({"step": step, "op": op.op, "index": op.index, "live_bytes": live,
                        "tensors": rows})
        return out

    def to_dict(self) -> dict:
        """The report as plain data."""
        return {"arena_bytes": self.arena_bytes, "min_bytes": self.min_bytes,
                "min_bytes_no_inplace": self.min_bytes_no_inplace, "align": self.align,
                "inplace": [{"step": s, "input": self.graph.tensors[i].name,
                             "output": self.graph.tensors[o].name} for s, i, o in self.inplace],
                "buffers": [asdict(b) for b in self.buffers], "layers": self.layers()}

    def to_json(self) -> str:
        """The report as indented JSON."""
        return json.dumps(self.to_dict(), indent=1)

    def table(self) -> str:
        """The report as a text table."""
        lines = [f"{'step':>4} {'op':<18} {'tensor':<40} {'bytes':>7} {'offset':>7} {'life':>7}"]
        for layer in self.layers():
            for k, r in enumerate(layer["tensors"]):
                head = f"{layer['step']:>4} {layer['op']:<18}" if k == 0 else " " * 23
                name = r["tensor"] if len(r["tensor"]) <= 36 else "..." + r["tensor"][-33:]
                lines.append(f"{head} {r['role'] + ' ' + name:<40} {r['bytes']:>7} {r['offset']:>7} "
                             f"{str(r['first']) + '-' + str(r['last']):>7}")
        lines.append(f"arena {self.arena_bytes} bytes; theoretical minimum {self.min_bytes} "
                     f"(in place), {self.min_bytes_no_inplace} (no in-place); "
                     f"{len(self.inplace)} in-place layer(s)")
        return "\n".join(lines)


def _pool_inplace_safe(op: Operator, graph: Graph, pad_top: int, pad_left: int) -> bool:
    """The pooling condition of the module docstring, checked for every pixel."""
    _, h, w, _ = graph.tensors[op.inputs[0]].shape
    _, oh, ow, _ = graph.tensors[op.outputs[0]].shape
    sh, sw = op.options.get("StrideH", 1), op.options.get("StrideW", 1)
    oy, ox = np.meshgrid(np.arange(oh), np.arange(ow), indexing="ij")
    iy = np.clip(oy * sh - pad_top, 0, h - 1)
    ix = np.clip(ox * sw - pad_left, 0, w - 1)
    m = (iy * w + ix).ravel()
    p = np.arange(m.size)
    if np.any(p > m):
        return False
    later_min = np.minimum.accumulate(m[::-1])[::-1]  # min over q >= p
    return bool(np.all(p[:-1] < later_min[1:]))


def same_padding(in_size: int, k: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """(output size, padding before) for TFLite SAME padding."""
    out = (in_size + stride - 1) // stride
    eff = (k - 1) * dilation + 1
    total = max((out - 1) * stride + eff - in_size, 0)
    return out, total // 2


def pool_padding(op: Operator, graph: Graph) -> tuple[int, int]:
    """(pad_top, pad_left) of a pooling operator."""
    if op.options.get("Padding") != "SAME":
        return 0, 0
    _, h, w, _ = graph.tensors[op.inputs[0]].shape
    _, pt = same_padding(h, op.options["FilterHeight"], op.options["StrideH"])
    _, pl = same_padding(w, op.options["FilterWidth"], op.options["StrideW"])
    return pt, pl


def inplace_input(graph: Graph, op: Operator) -> int | None:
    """The input whose storage `op` may overwrite with its output, if any (not yet
    checking lifetimes)."""
    if len(op.outputs) != 1:
        return None
    out = graph.tensors[op.outputs[0]]
    if op.op in _POOLS:
        src = graph.tensors[op.inputs[0]]
        if len(src.shape) == 4 and src.dtype == out.dtype and \
                _pool_inplace_safe(op, graph, *pool_padding(op, graph)):
            return src.index
        return None
    if op.op in _ELEMENTWISE:
        for t in op.inputs:
            src = graph.tensors[t] if t >= 0 else None
            if src is not None and not src.is_const and src.shape == out.shape and \
                    src.nbytes == out.nbytes:
                return t
    return None


SCRATCH_PREFIX = "kiln_scratch_op"


def is_scratch(t: Tensor) -> bool:
    """True for a kernel's arena scratch (add_scratch), not a tensor of the model."""
    return t.name.startswith(SCRATCH_PREFIX)


def add_scratch(graph: Graph, op: Operator, nbytes: int) -> int:
    """Give `op` `nbytes` of arena scratch: an int8 tensor appended to its outputs.

    Written and read only by `op`, it lives for that one step, so the planner
    keeps it apart from the op's inputs and outputs like any other tensor.
    Calling it again for the same op returns the existing tensor."""
    name = f"{SCRATCH_PREFIX}{op.index}"
    for t in op.outputs[1:]:
        if t >= 0 and graph.tensors[t].name == name:
            return t
    idx = len(graph.tensors)
    graph.tensors.append(Tensor(index=idx, name=name, shape=(int(nbytes),), dtype="int8"))
    op.outputs.append(idx)
    return idx


def _align(x: int, a: int) -> int:
    return (x + a - 1) // a * a


def plan(graph: Graph, inplace: bool = True, align: int = DEFAULT_ALIGN) -> Plan:
    """Lifetimes, in-place sharing and greedy placement for `graph`'s activations."""
    n = len(graph.ops)
    first: dict[int, int] = {}
    last: dict[int, int] = {}

    def touch(t: int, step: int) -> None:
        root = graph.storage(t)
        if graph.tensors[root].is_const:
            return
        first[root] = min(first.get(root, step), step)
        last[root] = max(last.get(root, step), step)

    for t in graph.inputs:
        touch(t, 0)
    for step, op in enumerate(graph.ops):
        for t in op.inputs + op.outputs:
            if t >= 0:
                touch(t, step)
    for t in graph.outputs:
        touch(t, max(n - 1, 0))
    roots = sorted(first)
    sizes = {r: graph.tensors[r].nbytes for r in roots}

    def minimum(groups: dict[int, list[int]]) -> int:
        best = 0
        for step in range(max(n, 1)):
            live = 0
            for members in groups.values():
                if min(first[m] for m in members) <= step <= max(last[m] for m in members):
                    live += max(sizes[m] for m in members)
            best = max(best, live)
        return best

    groups: dict[int, list[int]] = {r: [r] for r in roots}
    min_plain = minimum(groups)
    group_of = {r: r for r in roots}
    shared: list[tuple[int, int, int]] = []
    protected = {graph.storage(t) for t in graph.outputs}
    # Concatenations whose inputs are slices of their output: an in-place layer reading
    # one slice and writing another (or the root's start) would not write where it reads.
    sliced = {graph.storage(t.index) for t in graph.tensors if t.alias_offset}
    if inplace:
        for step, op in enumerate(graph.ops):
            t = inplace_input(graph, op)
            if t is None:
                continue
            src, dst = graph.storage(t), graph.storage(op.outputs[0])
            g = group_of[src]
            # The input must die here, and no other input of this op may live in it.
            if max(last[m] for m in groups[g]) != step or src in protected or src == dst \
                    or src in sliced or dst in sliced:
                continue
            if any(i >= 0 and i != t and group_of.get(graph.storage(i)) == g for i in op.inputs):
                continue
            groups[g].append(dst)
            del groups[group_of[dst]]
            group_of[dst] = g
            shared.append((step, t, op.outputs[0]))
    min_shared = minimum(groups)

    buffers = []
    for bid, (_, members) in enumerate(sorted(groups.items())):
        buffers.append(Buffer(id=bid, tensors=sorted(members), size=max(sizes[m] for m in members),
                              first=min(first[m] for m in members), last=max(last[m] for m in members)))
    placed: list[Buffer] = []
    for b in sorted(buffers, key=lambda b: (-b.size, b.first, b.id)):
        busy = sorted((p.offset, p.offset + p.size) for p in placed
                      if p.first <= b.last and b.first <= p.last)
        offset = 0
        for lo, hi in busy:
            if offset + b.size <= lo:
                break
            offset = max(offset, _align(hi, align))
        b.offset = offset
        placed.append(b)
    arena = _align(max((b.offset + b.size for b in buffers), default=0), max(align, 8))
    buffer_of = {m: b.id for b in buffers for m in b.tensors}
    return Plan(graph=graph, buffers=buffers, buffer_of=buffer_of, arena_bytes=arena,
                min_bytes=min_shared, min_bytes_no_inplace=min_plain, inplace=shared, align=align)
