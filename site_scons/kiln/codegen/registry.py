"""The kernel registry: which C function runs a layer, and how its data is laid out.

Each entry says, for an operator and an activation dtype, which C function
runs it, in which kernel set ("portable" or an optimized set such as
"dsp"), under which constraint (a predicate on the graph and operator), how
to re-lay out its weights at build time (`weight_layout`), and how to build
its parameters (`build`, returning a LayerCode). Optimized sets are searched
first when asked for, and every layer falls back to "portable".

    register(KernelImpl(op="CONV_2D", dtype="int8", kernel_set="dsp",
                        func="kiln_dsp_conv2d_s8", build=..., accepts=...))
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from kiln.errors import KilnError
from kiln.fixedpoint import INT32_MAX
from kiln.ir import Graph, Operator, Tensor
from kiln.planner import is_scratch
from kiln.quantmath import FUSED_ACTIVATIONS

#: Modules that register an optimized kernel set, imported on first use.
KERNEL_MODULES = {"dsp": "kiln.kernels_dsp"}
#: Every kernel set: portable, the fallback of every layer, then the optimized
#: ones (each also a folder of C under firmware/runtime/, checked by the tests).
KERNEL_SETS = ("portable", *KERNEL_MODULES)


@dataclass
class LayerCode:
    """What one layer contributes to the generated C."""

    decls: list[str]                  # const parameter structs and arrays
    call: str                         # the C statement running the layer
    macs: int = 0
    weight_bytes: int = 0
    #: A sparse layout's layer: the bytes the dense layout would take (0: not sparse).
    dense_weight_bytes: int = 0


@dataclass
class KernelImpl:
    """One kernel: the operator and dtype it runs, under which constraint."""

    op: str
    dtype: str
    func: str
    build: Callable[..., LayerCode]
    kernel_set: str = "portable"
    accepts: Callable[[Graph, Operator], bool] = lambda g, o: True
    weight_layout: Callable[[np.ndarray], np.ndarray] | None = None
    header: str = "kiln/kernels.h"
    sources: list[str] = field(default_factory=list)
    #: Bytes of arena scratch the kernel needs for a layer (planned, see
    #: kiln.planner.add_scratch); None for kernels that need none.
    scratch: Callable[[Graph, Operator], int] | None = None
    #: Scratch sizes the kernel can run with, fastest first and each smaller than the one
    #: before (the first is `scratch`'s): build_layers gives the layer the fastest that
    #: leaves the arena no larger than the smallest would. None: `scratch` alone.
    scratch_choices: Callable[[Graph, Operator], list[int]] | None = None
    #: The kernel also computes the one consumer of its output (for example a max
    #: pool): it leaves that consumer's result at the start of its own output,
    #: and the consumer's kernel only moves it. Tests compare after both steps.
    fuses_next: bool = False
    #: The output dtype when it differs from `dtype` (ARG_MAX: int32, comparisons: bool);
    #: None: every output has the input's dtype.
    out_dtype: str | None = None
    #: The kernel keeps the weights pre-widened to int16 in flash (twice their bytes), or
    #: only completes such a kernel (the copy after a fused max pool); a layer kept to int8
    #: weights (the size layout, kiln.codegen.layout) passes it over.
    wide_weights: bool = False
    #: The kernel reads a sparse weight layout; SPARSE=off (Budget.sparse) passes it over,
    #: so that a pruned model's dense image can be measured beside it.
    sparse: bool = False


_REGISTRY: list[KernelImpl] = []


def register(impl: KernelImpl) -> KernelImpl:
    """Add a kernel to the registry (later registrations win ties)."""
    if impl.kernel_set not in KERNEL_SETS:
        raise ValueError(f"unknown kernel set {impl.kernel_set}")
    _REGISTRY.insert(0, impl)
    return impl


#: Operators whose deciding input is not the first (the others are shapes or indices).
DATA_INPUT = {"TRANSPOSE_CONV": 2, "SPLIT": 1}  # SPLIT: the axis comes first
DATA_INPUT["FILL"] = 1  # FILL: dims first, then the value


def op_dtype(graph: Graph, op: Operator) -> str:
    """The dtype a kernel is chosen by: the data input's (the first, or DATA_INPUT's), and
    both ends' for QUANTIZE and DEQUANTIZE."""
    pos = DATA_INPUT.get(op.op, 0)
    first = graph.tensors[op.inputs[pos]] if len(op.inputs) > pos and op.inputs[pos] >= 0 else None
    if op.op in ("QUANTIZE", "DEQUANTIZE") and first is not None:
        return f"{first.dtype}->{graph.tensors[op.outputs[0]].dtype}"
    return first.dtype if first is not None else "none"


#: The dtypes the runtime stores activations in (the C type of each: codegen.context.CTYPES).
RUNTIME_DTYPES = ("int8", "uint8", "int16", "int32", "float32", "bool")
#: Layers with weights: (weights, bias) dtypes by activation dtype. Float
#: activations with int8 weights are the dynamic-range (hybrid) layers.
_WEIGHTED = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"}
#: Products an int8 layer's int32 accumulator always holds: (x - zp) is at most
#: 255 in size and a weight 128, so 65,793 of them stay below 2^31.
MAX_INT8_DEPTH = ((1 << 31) - 1) // (255 * 128)
_PARAMETER_DTYPES = {"int8": (("int8",), ("int32",)), "float32": (("float32", "int8"), ("float32",)),
                     # 16x8: int16 activations, int8 weights, int64 bias (int32 also runs)
                     "int16": (("int8",), ("int64", "int32"))}


#: Recurrent operators (added by their family module): their kernels reset the variable
#: (state) tensors they read before each invoke, so every inference starts from zero state,
#: and their fused activation is an internal nonlinearity their `accepts` checks.
RESETS_STATE: set[str] = set()


def _accepts_quietly(impl: KernelImpl, graph: Graph, op: Operator) -> bool:
    """Whether `impl` would take `op` (its refusal reason is not needed)."""
    try:
        return bool(impl.accepts(graph, op))
    except UnsupportedLayer:
        return False


def _out_dtypes(op: Operator) -> set[str | None]:
    """The output dtypes registered kernels of `op` declare (None: the input's)."""
    return {k.out_dtype for k in _REGISTRY if k.op == op.op}


def _weight_spans(w: Tensor, op: Operator, depth: int) -> np.ndarray:
    """Per output channel, the largest size of an int8 layer's bias-free accumulator:
    255 times the absolute sum of its constant weights (one entry of 255 * 128 * depth
    when the weights are computed at run time)."""
    if not w.is_const or w.data is None or w.dtype != "int8":
        return np.array([255 * 128 * depth], np.int64)
    a = np.abs(np.asarray(w.data, dtype=np.int64))
    rows = a.reshape(-1, a.shape[-1]).T if op.op == "DEPTHWISE_CONV_2D" else a.reshape(a.shape[0], -1)
    return 255 * rows.sum(axis=1)


def _contract_problem(graph: Graph, op: Operator, dtype: str) -> str | None:
    """Why no kernel can take `op`'s tensor dtypes or fused activation, or None.
    Every kernel relies on these: it reads and writes each array as the C type
    of its dtype."""
    act = op.options.get("FusedActivationFunction", "NONE")
    if act not in FUSED_ACTIVATIONS and op.op not in RESETS_STATE:
        return f"fused activation {act}"
    state = next((graph.tensors[i] for i in op.inputs if i >= 0 and graph.tensors[i].is_variable), None)
    if state is not None and op.op not in RESETS_STATE:
        return (f"{state.describe()} is a variable tensor (recurrent state), which Kiln's runtime "
                "does not keep")
    for i in op.inputs + op.outputs:
        t = graph.tensors[i] if i >= 0 else None
        if t is not None and not t.is_const and t.dtype not in RUNTIME_DTYPES:
            return f"{t.describe()} is {t.dtype}, which Kiln's runtime does not store"
    if "->" not in dtype:  # QUANTIZE and DEQUANTIZE name both ends in their dtype
        outs = [graph.tensors[i] for i in op.outputs if not is_scratch(graph.tensors[i])]
        allowed = {dtype if d is None else d for d in _out_dtypes(op)} or {dtype}
        odd = next((t for t in outs if t.dtype not in allowed), None)
        if odd is not None:
            return f"the input is {dtype} but output {odd.describe()} is {odd.dtype}"
    if op.op in _WEIGHTED and dtype == "int8" and len(op.inputs) > 1 and op.inputs[1] >= 0:
        w = graph.tensors[op.inputs[1]]
        depth = math.prod(w.shape[1:3] if op.op == "DEPTHWISE_CONV_2D" else w.shape[1:])
        b = graph.tensors[op.inputs[2]] if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
        int32_bias = b is not None and b.is_const and b.dtype == "int32"  # other dtypes are refused below
        bias = np.abs(b.data.astype(np.int64)).ravel() if int32_bias else np.zeros(1, np.int64)
        # Each product's input term (x - zp) is at most 255 in size: a channel's sum is
        # bounded by 255 times its weights' absolute sum (a weight 128 when they are not
        # constant), and the kernels add the bias to it.
        span = _weight_spans(w, op, depth)
        if span.max(initial=0) > INT32_MAX:
            return (f"each output sums {depth} products; their int32 accumulator can overflow "
                    "for some inputs")
        total = span + bias if span.size == bias.size else span.max(initial=0) + bias.max(initial=0)
        if np.max(total, initial=0) > INT32_MAX:
            return (f"bias {b.describe()} holds {int(bias.max(initial=0))}; with {depth} products per "
                    "output the int32 accumulator could overflow")
    if op.op in _WEIGHTED and dtype in _PARAMETER_DTYPES:
        for pos, allowed in zip((1, 2), _PARAMETER_DTYPES[dtype], strict=True):
            t = graph.tensors[op.inputs[pos]] if pos < len(op.inputs) and op.inputs[pos] >= 0 else None
            if t is not None and t.dtype not in allowed:
                what = "weights" if pos == 1 else "bias"
                return f"{what} {t.describe()} are {t.dtype}; {dtype} layers take {' or '.join(allowed)}"
    return None


def select(graph: Graph, op: Operator, kernels: str = "portable", narrow: bool = False,
           dense: bool = False) -> KernelImpl:
    """The kernel for `op`: the requested set first, then portable (`dense`: no sparse kernel).

    Raises KilnError naming the operator, its index and its tensors when
    nothing can run it."""
    return select_explained(graph, op, kernels, narrow, dense)[0]


#: Why a layer kept to int8 weights passes over a kernel with pre-widened ones.
NARROW_REASON = "weights kept int8 for flash (OPTIMIZE)"


def select_explained(graph: Graph, op: Operator, kernels: str = "portable",
                     narrow: bool = False, dense: bool = False) -> tuple[KernelImpl, str]:
    """The kernel for `op` and, when it is not of the requested set (an optimized
    set fell back to portable) or the layer is kept to int8 weights (`narrow`), the
    kernels passed over with their reasons."""
    if kernels not in KERNEL_SETS and kernels != "auto":
        raise KilnError(f"unknown kernel set '{kernels}': use one of auto, {', '.join(KERNEL_SETS)}")
    order = ["dsp", "portable"] if kernels in ("dsp", "auto") else ["portable"]
    for kset in order:
        _load(kset)
    dtype = op_dtype(graph, op)
    if not any(k.op == op.op for k in _REGISTRY):  # before the contract: its options may be odd
        raise unsupported(graph, op, f"no kernel for {op.op} with {dtype} data")
    problem = _contract_problem(graph, op, dtype)
    if problem:
        raise unsupported(graph, op, problem)
    reasons = []
    explained = False
    for kset in order:
        for impl in _REGISTRY:
            if impl.kernel_set != kset or impl.op != op.op or impl.dtype != dtype:
                continue
            out = graph.tensors[op.outputs[0]].dtype if op.outputs and op.outputs[0] >= 0 else None
            if "->" not in dtype and out != (impl.out_dtype or dtype):
                continue
            if dense and impl.sparse:
                continue
            if narrow and impl.wide_weights:
                if impl.kernel_set == order[0] and _accepts_quietly(impl, graph, op):
                    reasons.append(f"{impl.func}: {NARROW_REASON}")
                continue
            try:
                if impl.accepts(graph, op):
                    # Passing over a more specialized kernel of the same set is routine;
                    # ending on a slower set, or on int8 weights, is what a user wants explained.
                    shown = kset != order[0] or explained or any(NARROW_REASON in r for r in reasons)
                    return impl, "; ".join(reasons) if shown else ""
                reasons.append(f"{impl.func} does not accept this configuration")
            except UnsupportedLayer as exc:
                reasons.append(f"{impl.func}: {exc}" if kset != "portable" else str(exc))
                explained = explained or isinstance(exc, Explained)
    raise unsupported(graph, op, "; ".join(reasons) or f"no kernel for {op.op} with {dtype} data")


def _load(kernel_set: str) -> None:
    """Import the module registering `kernel_set` (once; absent modules are skipped)."""
    module = KERNEL_MODULES.get(kernel_set)
    if module and module not in _LOADED:
        _LOADED.add(module)
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


_LOADED: set[str] = set()


class UnsupportedLayer(Exception):
    """Raised by `accepts` or `build` with the reason a layer cannot run."""


class Explained(UnsupportedLayer):
    """A kernel's refusal reported even when another kernel of the same set runs the layer
    (a sparse kernel refusing a partly pruned layer: whoever pruned it wants to know why)."""


def per_tensor_qparams(t: Tensor) -> tuple[float, int]:
    """Per-tensor (scale, zero point) of `t`; UnsupportedLayer for a float or per-channel tensor."""
    if not t.quantized:
        raise UnsupportedLayer(f"tensor {t.describe()} has no quantization parameters")
    if len(t.scale) != 1:
        raise UnsupportedLayer(f"tensor {t.describe()} is per-channel where per-tensor is needed")
    return t.qparams()


def unsupported(graph: Graph, op: Operator, reason: str) -> KilnError:
    """The user-facing error for a layer Kiln cannot compile."""
    def names(ids: list[int]) -> str:
        return ", ".join(graph.tensors[t].describe() for t in ids if t >= 0) or "none"

    dtypes = sorted({k.dtype for k in _REGISTRY if k.op == op.op})
    offer = (f"Kiln runs {op.op} on {', '.join(dtypes)} data" if dtypes else
             f"Kiln has no kernel for {op.op} (docs/compiler.md lists the operators it compiles)")
    return KilnError(
        f"unsupported operator {op.op} at index {op.index} of '{graph.name}': {reason}.\n"
        f"  inputs:  {names(op.inputs)}\n  outputs: {names(op.outputs)}\n"
        f"  {offer}.\n"
        "  Fix: change the model to use supported operators (full-int8 or float32), "
        "or add a kernel to kiln.codegen.")


def entries(kernel_set: str | None = None) -> list[KernelImpl]:
    """Every registered kernel (of `kernel_set` only, when given), its set's module loaded.

    The tests enumerate operators and kernel sets from here, so a new entry is
    checked against the oracle without editing them."""
    for kset in KERNEL_SETS:
        _load(kset)
    return [k for k in _REGISTRY if kernel_set is None or k.kernel_set == kernel_set]
