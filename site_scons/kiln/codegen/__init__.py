"""Kiln's ahead-of-time compiler: .tflite -> IR -> plan -> C.

Python API:

    from kiln import codegen
    paths = codegen.generate("build/models/fashion_mnist/ptq.tflite", "build/gen",
                             name="fashion_mnist/ptq", kernels="portable")
    # -> [build/gen/kiln_model.c, build/gen/kiln_model.h]

    model = codegen.compile_model(path, name=..., kernels=...)   # CompiledModel
    model.plan.table(); model.descriptor (dict: the INFO "model" object)

`kernels` is "portable", "dsp" or "auto" (optimized kernels where a layer has
one, portable otherwise). The generated files follow
firmware/runtime/include/kiln/model.h; the same .tflite always yields the
same bytes. Errors (unsupported operator, bad file) raise kiln.errors.KilnError.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from kiln import kernels_dsp  # noqa: F401 - registers the dsp kernels (kernels="dsp")
from kiln.atomic import write_atomic
from kiln.codegen import (
    hybrid,  # noqa: F401 - registers the hybrid (dynamic-range) kernels
    ops,  # noqa: F401 - registers the portable kernels of each operator family
    portable,  # noqa: F401 - registers the portable kernels
)
from kiln.codegen.context import LayerContext, ModelConstants
from kiln.codegen.cwriter import c_comment, c_float, c_string
from kiln.codegen.layout import Budget, LayerCost, choose
from kiln.codegen.registry import UnsupportedLayer, select, select_explained, unsupported
from kiln.errors import InternalError, InvalidScale, KilnError, invalid
from kiln.ir import Graph, Tensor
from kiln.lowering import PART_OF, lower
from kiln.paths import LAYERS_REPORT
from kiln.planner import Plan, add_scratch, plan
from kiln.prefix import DEFAULT_PREFIX, check_prefix
from kiln.tflite_reader import read_tflite

#: The largest arena the generated C addresses (its offsets are int literals).
MAX_ARENA_BYTES = 1 << 30

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
OUTPUT_FILES = ("kiln_model.c", "kiln_model.h")
_DTYPES = {"int8": ("KILN_DTYPE_INT8", 1), "float32": ("KILN_DTYPE_FLOAT32", 2),
           "uint8": ("KILN_DTYPE_UINT8", 3), "int16": ("KILN_DTYPE_INT16", 4),
           "int32": ("KILN_DTYPE_INT32", 5), "bool": ("KILN_DTYPE_BOOL", 6)}


@dataclass
class Layer:
    """One generated layer."""

    name: str
    op: str
    kernel: str
    macs: int
    decls: list[str]
    call: str
    #: The kernels passed over for this one, each with its reason ("" if none was).
    why: str = ""
    #: Bytes of constants (weights, records) this layer added.
    weight_bytes: int = 0
    #: Its kernel keeps the weights pre-widened to int16 (kiln.codegen.layout).
    wide: bool = False
    #: A sparse layout's layer: the bytes its dense layout would take (0: dense).
    dense_weight_bytes: int = 0


@dataclass
class CompiledModel:
    """Everything generated for one model, before it is written out."""

    name: str
    sha256: str
    graph: Graph
    plan: Plan
    layers: list[Layer]
    constants: list[str]
    weight_bytes: int
    inputs: list[dict]      # per graph input: its tensor_desc, arena offset, and place in the buffer
    outputs: list[dict]
    descriptor: dict = field(default_factory=dict)

    @property
    def input(self) -> dict:
        """The first input (all of it for the usual one-input model)."""
        return self.inputs[0]

    @property
    def output(self) -> dict:
        """The first output."""
        return self.outputs[0]

    @property
    def input_bytes(self) -> int:
        """Bytes of all inputs, concatenated in the model's order (what invoke takes)."""
        return sum(t["bytes"] for t in self.inputs)

    @property
    def inputs_in_arena(self) -> bool:
        """True when the inputs' arena bytes sit back to back in the model's order (always
        for one input): a caller can then receive them in place (kiln_model_input_buffer)."""
        first = self.inputs[0]["offset"]
        return all(t["offset"] == first + t["at"] for t in self.inputs)

    @property
    def output_bytes(self) -> int:
        """Bytes of all outputs, concatenated in the model's order (what invoke returns)."""
        return sum(t["bytes"] for t in self.outputs)

    def render(self, prefix: str = DEFAULT_PREFIX) -> dict[str, str]:
        """The generated files' text, by file name: <prefix>.c and <prefix>.h, whose
        public symbols all start with `prefix` (check_prefix)."""
        check_prefix(prefix)
        env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                                 keep_trailing_newline=True, undefined=jinja2.StrictUndefined,
                                 trim_blocks=True, lstrip_blocks=True)
        ctx = {"m": self, "c_string": c_string, "c_float": c_float, "c_comment": c_comment,
               "info_json": json.dumps(self.descriptor, separators=(",", ":")),
               "P": prefix, "PU": prefix.upper()}
        return {f.replace(DEFAULT_PREFIX, prefix): env.get_template(f + ".j2").render(**ctx)
                for f in OUTPUT_FILES}


def _tensor_desc(t: Tensor, which: str) -> dict:
    if t.dtype not in _DTYPES:
        raise KilnError(f"the model {which} {t.describe()} has dtype {t.dtype}; Kiln models take and "
                        f"return {', '.join(_DTYPES)}: convert with inference_input_type/"
                        "inference_output_type int8 or uint8 (or keep float32)")
    if len(t.shape) > 4:
        raise KilnError(f"the model {which} {t.describe()} has rank above 4")
    scale, zp = t.qparams()
    return {"name": t.name, "dtype": t.dtype, "shape": [int(d) for d in t.shape], "bytes": t.nbytes,
            "scale": float(scale), "zero_point": int(zp),
            "c_dtype": _DTYPES[t.dtype][0], "c_scale": c_float(scale)}


def _io_descs(graph: Graph, p: Plan, ids: list[int], which: str) -> list[dict]:
    """The descriptors of the graph inputs or outputs `ids`: each one's arena offset, and
    where it sits in the buffer that holds them all back to back (`at`)."""
    descs, at = [], 0
    for n, t in enumerate(ids):
        desc = _tensor_desc(graph.tensors[t], f"{which} {n}") | {"offset": p.offset(t), "at": at}
        at += desc["bytes"]
        descs.append(desc)
    return descs


def _grow_scratch(graph: Graph, p: Plan, elastic: list[tuple[int, list[int]]]) -> Plan:
    """Each elastic scratch tensor (planned at its smallest) grown to the largest, fastest
    of its sizes that leaves the arena no larger than `p`'s, one layer after another."""
    for t, sizes in elastic:
        for n in sizes[:-1]:
            graph.tensors[t].shape = (int(n),)
            trial = plan(graph)
            if trial.arena_bytes <= p.arena_bytes:
                p = trial
                break
        else:
            graph.tensors[t].shape = (int(sizes[-1]),)
    return p


def build_layers(graph: Graph, kernels: str = "portable",
                 narrow: set[int] | None = frozenset(),
                 dense: bool = False) -> tuple[Plan, ModelConstants, list[Layer]]:
    """Select a kernel for every operator of `graph`, plan the arena and build each layer's C.

    `narrow`: the operators (by index) kept to int8 weights (kiln.codegen.layout); None
    means all of them. `dense`: no sparse kernel (SPARSE=off). The graph may have any
    number of inputs and outputs (the tests build one-layer graphs with this); kernels'
    scratch tensors are added to `graph`."""
    def narrowed(o) -> bool:  # noqa: ANN001
        return narrow is None or o.index in narrow

    op = None
    try:
        if narrow:  # a narrowed kernel that would fuse its consumer leaves that consumer whole
            narrow = set(narrow)
            for op in graph.ops:
                if op.index in narrow and select(graph, op, kernels, dense=dense).fuses_next:
                    narrow.update(graph.ops[i].index for i in graph.consumers().get(op.outputs[0], []))
        elastic: list[tuple[int, list[int]]] = []
        for op in graph.ops:  # fail on the first unsupported layer before any planning
            impl = select(graph, op, kernels, narrowed(op), dense)
            if impl.scratch_choices is not None:
                sizes = impl.scratch_choices(graph, op)
                elastic.append((add_scratch(graph, op, sizes[-1]), sizes))
            elif impl.scratch is not None:  # the kernel's scratch is an arena tensor of its own
                add_scratch(graph, op, impl.scratch(graph, op))
        op = None
        p = _grow_scratch(graph, plan(graph), elastic)
        if p.arena_bytes > MAX_ARENA_BYTES:
            raise KilnError(f"'{graph.name}' needs an arena of {p.arena_bytes} bytes, more than "
                            f"{MAX_ARENA_BYTES >> 20} MiB; no microcontroller has that RAM: use a "
                            "smaller input or fewer channels")
        consts = ModelConstants()
        layers = []
        for step, op in enumerate(graph.ops):
            impl, why = select_explained(graph, op, kernels, narrowed(op), dense)
            ctx = LayerContext(graph, p, step, op, consts, impl.func)
            try:
                code = impl.build(ctx)
            except UnsupportedLayer as exc:
                raise unsupported(graph, op, str(exc)) from None
            out_name = graph.tensors[op.outputs[0]].name if op.outputs else f"op{op.index}"
            # A lowered operator's parts report as the model's operator (kiln.lowering).
            out_name, shown, macs = op.options.get(PART_OF, (out_name, op.op, code.macs))
            layers.append(Layer(out_name, shown, impl.func, macs, code.decls, code.call, why,
                                code.weight_bytes, impl.wide_weights, code.dense_weight_bytes))
    except InvalidScale as exc:
        where = f"operator {op.index} ({op.op})" if op is not None else "its quantization"
        raise invalid(graph.name, where, str(exc)) from None
    return p, consts, layers


def compile_model(tflite_path: str | Path, name: str | None = None,
                  kernels: str = "portable", budget: Budget | None = None) -> CompiledModel:
    """Read, check, plan and generate the layers of a .tflite (nothing is written).

    `budget` (kiln.codegen.layout): the OPTIMIZE goal and the board's flash, which
    decide each layer's weight layout; default: the fastest, with no flash limit.
    Every problem with the model is a KilnError that names it; anything else
    that escapes is a bug in Kiln, reported as one InternalError line."""
    try:
        return _compile_model(Path(tflite_path), name, kernels, budget or Budget())
    except KilnError:
        raise
    except Exception as exc:  # noqa: BLE001 - turned into one line that asks for a report
        raise InternalError(f"internal error compiling {tflite_path} ({type(exc).__name__}: {exc}); "
                            "please report it with the model (VERBOSE=1 shows the traceback)") from exc


def _compile_model(tflite_path: Path, name: str | None, kernels: str, budget: Budget) -> CompiledModel:
    graph = _read_checked(tflite_path, name, kernels)
    built: list = []

    def build(narrow: set[int] | None) -> tuple[int, list[LayerCost]]:
        g = graph if not built else _read_checked(tflite_path, name, kernels)  # a build adds scratch tensors
        p, consts, layers = build_layers(g, kernels, narrow, not budget.sparse)
        built[:] = [g, p, consts, layers]
        return consts.bytes, [LayerCost(op.index, la.weight_bytes, la.macs, la.wide, op.op)
                              for op, la in zip(g.ops, layers, strict=True)]

    fresh: list[Graph] = []   # one unbuilt graph for all the questions below

    def narrowed_set_of(index: int) -> str:
        if not fresh:
            fresh.append(_read_checked(tflite_path, name, kernels))
        op = next(o for o in fresh[0].ops if o.index == index)
        return select(fresh[0], op, kernels, narrow=True, dense=not budget.sparse).kernel_set

    choose(budget, build, narrowed_set_of, graph.name)
    graph, p, consts, layers = built
    sha = hashlib.sha256(tflite_path.read_bytes()).hexdigest()
    model = CompiledModel(name=graph.name, sha256=sha, graph=graph, plan=p, layers=layers,
                          constants=consts.decls, weight_bytes=consts.bytes,
                          inputs=_io_descs(graph, p, graph.inputs, "input"),
                          outputs=_io_descs(graph, p, graph.outputs, "output"))
    keys = ("name", "dtype", "shape", "bytes", "scale", "zero_point")
    model.descriptor = {
        "name": graph.name, "tflite_sha256": sha,
        "inputs": [{k: t[k] for k in keys} for t in model.inputs],
        "outputs": [{k: t[k] for k in keys} for t in model.outputs],
        "arena_bytes": p.arena_bytes, "weight_bytes": consts.bytes,
        "total_macs": sum(la.macs for la in layers),
        "layers": [{"name": la.name, "op": la.op, "kernel": la.kernel, "macs": la.macs} for la in layers],
    }
    return model


def _read_checked(tflite_path: Path, name: str | None, kernels: str) -> Graph:
    """The .tflite's graph, named, with the checks every model must pass, rewritten for
    the kernel set (kiln.lowering)."""
    graph = read_tflite(tflite_path)
    name = name or tflite_path.stem
    graph.name = name
    if not graph.inputs or not graph.outputs:
        raise KilnError(f"'{tflite_path}' has {len(graph.inputs)} inputs and {len(graph.outputs)} "
                        "outputs; a model needs at least one of each")
    if len(set(graph.inputs) | set(graph.outputs)) != len(graph.inputs) + len(graph.outputs):
        raise KilnError(f"'{tflite_path}' names one tensor twice among its inputs and outputs; "
                        "Kiln needs each input and output to be a tensor of its own")
    if not graph.ops:
        raise KilnError(f"'{tflite_path}' has no operator to run")
    lower(graph, kernels)
    return graph


def generate(tflite_path: str | Path, outdir: str | Path, name: str | None = None,
             kernels: str = "portable", budget: Budget | None = None) -> list[Path]:
    """Compile `tflite_path` into outdir/kiln_model.c and kiln_model.h (and the layer report
    kiln_layers.json); returns their paths. `budget`: as for compile_model."""
    model = compile_model(tflite_path, name=name, kernels=kernels, budget=budget)
    outdir = Path(outdir)
    paths = []
    for fname, text in model.render().items():
        write_atomic(outdir / fname, text)
        paths.append(outdir / fname)
    write_atomic(outdir / LAYERS_REPORT, json.dumps(layers_report(model), indent=1) + "\n")
    paths.append(outdir / LAYERS_REPORT)
    return paths


def layers_report(model: CompiledModel) -> dict:
    """Each layer's op, kernel, MACs, output name and the kernels passed over with
    their reasons, with the model's sha256 (to match what a board runs)."""
    return {"tflite_sha256": model.sha256,
            "weight_bytes": model.weight_bytes,
            "layers": [{"op": la.op, "kernel": la.kernel, "macs": la.macs, "name": la.name,
                        "weight_bytes": la.weight_bytes, "passed_over": la.why,
                        **({"dense_weight_bytes": la.dense_weight_bytes} if la.dense_weight_bytes else {})}
                       for la in model.layers]}
