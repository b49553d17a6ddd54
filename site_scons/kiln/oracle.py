"""The reference interpreter a Kiln build is compared with.

tflite-micro's reference kernels are the oracle: they define what the board
must output, bit for bit. tflite-micro does not run hybrid (dynamic-range)
models, float activations with int8 weights, nor float16 weights (TFLite's
float16 quantization, which Kiln folds into float32 constants), nor TILE, nor
GELU. A float GELU
runs on TensorFlow Lite's interpreter; an int8 GELU is a table lookup that
tflite-micro runs as other operators (kiln.oracle_gelu). A TILE of axes of size
1 only (Keras 3's UpSampling2D) is the BROADCAST_TO it has: the oracle runs
the model with it rewritten so. A CONCATENATION of more inputs than
tflite-micro takes (10; Keras' UpSampling1D makes one of every row) runs as
a tree of smaller ones. For hybrid models and other TILEs the oracle is
TensorFlow's tf.lite.Interpreter with its reference kernels
(OpResolverType.BUILTIN_REF: no XNNPACK, whose float convolutions sum in
another order). TensorFlow is imported only then, and to rewrite a TILE.

Both are used through tflite-micro's interface: get_input_details(i),
get_output_details(i), set_input(x, i), invoke(), get_output(i).

Every inference starts from zero state. A model with variable tensors (an
LSTM's hidden and cell state) would otherwise carry state from one invoke to
the next in the reused interpreter; Kiln's kernels reset their state on each
invoke, so the oracle resets the interpreter's variables before each one
(`Stateless`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from kiln.ir import Graph, is_hybrid
from kiln.tflite_reader import read_tflite

MICRO = "tflite-micro"
TFLITE = "tf.lite.Interpreter (tflite-micro does not run hybrid models, float16 weights, this TILE or GELU)"
#: Operators tflite-micro has no kernel for, which TensorFlow's reference resolver runs
#: (int8 GELU is rewritten instead: kiln.oracle_gelu).
_NOT_IN_MICRO = {"GELU"}


def _tile_is_broadcast(graph: Graph, op) -> bool:  # noqa: ANN001 - an ir.Operator
    """A TILE whose multiples are 1 except on axes of size 1 (Keras 3's UpSampling2D):
    the BROADCAST_TO to its output's shape."""
    x, m = graph.tensors[op.inputs[0]], graph.tensors[op.inputs[1]]
    if not m.is_const:
        return False
    multiples = np.asarray(m.data).ravel()
    return len(multiples) == len(x.shape) and all(
        int(k) == 1 or n == 1 for k, n in zip(multiples, x.shape, strict=True))


def needs_tflite(graph: Graph) -> bool:
    """True when the model has hybrid layers (float input, int8 weights), float16 weights,
    an operator tflite-micro lacks, or a TILE that it (having no TILE) cannot run as a
    BROADCAST_TO."""
    if any(t.dtype == "float16" for t in graph.tensors):
        return True  # float16 weights (TFLite's float16 quantization): tflite-micro has no DEQUANTIZE of them
    return any(is_hybrid(graph, op) or (op.op in _NOT_IN_MICRO and not _is_int8(graph, op))
               or (op.op == "TILE" and not _tile_is_broadcast(graph, op)) for op in graph.ops)


def _is_int8(graph: Graph, op) -> bool:  # noqa: ANN001 - an ir.Operator
    return graph.tensors[op.inputs[0]].dtype == "int8"


def builtin(code) -> int:  # noqa: ANN001 - a schema OperatorCodeT
    """An operator code's builtin operator (codes above 127 sit in builtinCode only)."""
    return max(code.builtinCode, code.deprecatedBuiltinCode)


def add_tensor(model, sub, name: str, ttype: int, shape: list[int], data: np.ndarray | None = None,
               quant=None) -> int:  # noqa: ANN001 - schema ModelT, SubGraphT, QuantizationParametersT
    """A new tensor of subgraph `sub` (a constant when `data` is given: a new buffer of
    its bytes, little-endian); returns its index. For the oracle's rewrites."""
    from tensorflow.lite.python import schema_py_generated as schema

    t = schema.TensorT()
    t.name, t.type, t.shape, t.buffer, t.quantization = name.encode(), ttype, shape, 0, quant
    if data is not None:
        buf = schema.BufferT()
        buf.data = np.frombuffer(np.ascontiguousarray(data).tobytes(), dtype=np.uint8)
        model.buffers.append(buf)
        t.buffer = len(model.buffers) - 1
    sub.tensors.append(t)
    return len(sub.tensors) - 1


#: tflite-micro's CONCATENATION refuses more inputs than this when it allocates.
MICRO_CONCAT_INPUTS = 10


def _concats_within_micro(blob: bytes) -> bytes:
    """The model with every CONCATENATION of more than MICRO_CONCAT_INPUTS inputs split
    into a tree of concatenations of at most that many, along the same axis. The partial
    results take the output's quantization and no activation, so each input is
    requantized once, to the output's parameters, then copied: the single operator's bits."""
    import copy

    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(blob))
    concat = {i for i, c in enumerate(model.operatorCodes)
              if builtin(c) == schema.BuiltinOperator.CONCATENATION}
    for sub in model.subgraphs:
        rewritten = []
        for op in sub.operators:
            while op.opcodeIndex in concat and len(op.inputs) > MICRO_CONCAT_INPUTS:
                out = sub.tensors[op.outputs[0]]
                axis = int(op.builtinOptions.axis) % len(out.shape)
                merged = []
                for c in range(0, len(op.inputs), MICRO_CONCAT_INPUTS):
                    chunk = [int(i) for i in op.inputs[c:c + MICRO_CONCAT_INPUTS]]
                    if len(chunk) == 1:
                        merged.append(chunk[0])
                        continue
                    shape = [int(d) for d in sub.tensors[chunk[0]].shape]
                    shape[axis] = sum(int(sub.tensors[i].shape[axis]) for i in chunk)
                    part = copy.deepcopy(op)
                    part.inputs = chunk
                    part.outputs = [add_tensor(model, sub, "kiln_oracle_concat", out.type, shape,
                                               quant=copy.deepcopy(out.quantization))]
                    part.builtinOptions.fusedActivationFunction = schema.ActivationFunctionType.NONE
                    rewritten.append(part)
                    merged.append(part.outputs[0])
                op.inputs = merged
            rewritten.append(op)
        sub.operators = rewritten
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def _tiles_as_broadcasts(blob: bytes) -> bytes:
    """The model with every TILE turned into a BROADCAST_TO to its output's shape (a new
    int32 constant); for tflite-micro, whose BROADCAST_TO copies the same elements as
    TILE does when only axes of size 1 are tiled (_tile_is_broadcast)."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    ops = schema.BuiltinOperator
    model = flatbuffer_utils.read_model_from_bytearray(bytearray(blob))
    codes = model.operatorCodes
    tiles = {i for i, c in enumerate(codes) if builtin(c) == ops.TILE}
    if not tiles:
        return blob
    code = schema.OperatorCodeT()
    code.builtinCode, code.deprecatedBuiltinCode, code.version = ops.BROADCAST_TO, 127, 2
    codes.append(code)
    for sub in model.subgraphs:
        for op in sub.operators:
            if op.opcodeIndex not in tiles:
                continue
            shape = np.asarray(sub.tensors[op.outputs[0]].shape, dtype="<i4")
            op.inputs[1] = add_tensor(model, sub, "kiln_oracle_broadcast_shape", schema.TensorType.INT32,
                                      [len(shape)], shape)
            op.opcodeIndex = len(codes) - 1
            op.builtinOptionsType, op.builtinOptions = schema.BuiltinOptions.NONE, None
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


#: The newest version of an operator TensorFlow's reference resolver registers, where
#: converters emit newer ones: TILE 3 (Keras 3's int8 UpSampling2D) runs the same
#: kernel, which is generic over the element type.
_REF_MAX_VERSION = {"TILE": 2}


def _for_reference_resolver(blob: bytes) -> bytes:
    """The model with each _REF_MAX_VERSION operator's version lowered to what the
    reference resolver registers (the same kernel code runs)."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    codes = {getattr(schema.BuiltinOperator, op): v for op, v in _REF_MAX_VERSION.items()}
    model = flatbuffer_utils.read_model_from_bytearray(bytearray(blob))
    changed = False
    for code in model.operatorCodes:
        top = codes.get(builtin(code))
        if top is not None and code.version > top:
            code.version, changed = top, True
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model)) if changed else blob


class TfliteReference:
    """tf.lite.Interpreter with TFLite's reference kernels, behind tflite-micro's interface."""

    def __init__(self, tflite: str | Path) -> None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import warnings

        import tensorflow as tf

        blob = _for_reference_resolver(Path(tflite).read_bytes())
        kinds = tf.lite.experimental.OpResolverType
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the interpreter's move-to-LiteRT notice
            try:
                self._interp = tf.lite.Interpreter(model_content=blob,
                                                   experimental_op_resolver_type=kinds.BUILTIN_REF)
            except ValueError as exc:
                if "Didn't find op" not in str(exc):
                    raise
                # The reference resolver lacks a few kernels (ELU): the builtin ones, still
                # without XNNPACK, run such a model (float outputs are compared within a
                # tolerance; its integer kernels are the reference arithmetic).
                self._interp = tf.lite.Interpreter(
                    model_content=blob, experimental_op_resolver_type=kinds.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        self._interp.allocate_tensors()
        self._inputs = self._interp.get_input_details()
        self._outputs = self._interp.get_output_details()

    def get_input_details(self, i: int) -> dict:
        """dtype, shape and quantization_parameters of input i."""
        return self._inputs[i]

    def get_output_details(self, i: int) -> dict:
        """dtype, shape and quantization_parameters of output i."""
        return self._outputs[i]

    def set_input(self, x: np.ndarray, i: int) -> None:
        """Copy x into input i."""
        d = self._inputs[i]
        self._interp.set_tensor(d["index"], np.ascontiguousarray(x.reshape(d["shape"]), dtype=d["dtype"]))

    def invoke(self) -> None:
        """Run the model once."""
        self._interp.invoke()

    def get_output(self, i: int) -> np.ndarray:
        """A copy of output i."""
        return np.array(self._interp.get_tensor(self._outputs[i]["index"]), copy=True)

    def reset(self) -> None:
        """Variable tensors back to their initial values (tflite-micro's reset())."""
        self._interp.reset_all_variables()


class Stateless:
    """An oracle interpreter that resets its variable tensors before every invoke, so
    each inference starts from zero state as on the board (docs/ops/recurrent.md)."""

    def __init__(self, interp: Any) -> None:
        self._interp = interp

    def __getattr__(self, name: str) -> Any:
        return getattr(self._interp, name)

    def invoke(self) -> None:
        """Reset the state, then run the model once."""
        self._interp.reset()
        self._interp.invoke()


def micro_arena_bytes(graph: Graph, model_bytes: int) -> int:
    """An arena large enough for tflite-micro to run `graph`: every activation tensor
    without reuse, plus its own default (ten times the model's bytes, which a small model
    over large images outgrows: a 3x3 convolution over 31x31x24 failed to allocate)."""
    activations = sum(max(t.nbytes, 0) for t in graph.tensors if not t.is_const)
    return 10 * model_bytes + 2 * activations + 512 * len(graph.tensors) + 65536


def open_reference(tflite: str | Path, graph: Graph | None = None) -> tuple[Any, str]:
    """The oracle interpreter for `tflite` and its name (MICRO or TFLITE); for a model with
    variable tensors, one that starts every invoke from zero state (Stateless)."""
    graph = graph if graph is not None else read_tflite(tflite)
    if needs_tflite(graph):
        interp, kind = TfliteReference(tflite), TFLITE
    else:
        from tflite_micro.python.tflite_micro import runtime

        blob = Path(tflite).read_bytes()
        if any(op.op == "TILE" for op in graph.ops):
            blob = _tiles_as_broadcasts(blob)
        if any(op.op == "CONCATENATION" and len(op.inputs) > MICRO_CONCAT_INPUTS for op in graph.ops):
            blob = _concats_within_micro(blob)
        if any(op.op == "GELU" for op in graph.ops):
            from kiln.oracle_gelu import gelus_as_gathers

            blob = gelus_as_gathers(blob)
        try:
            interp = runtime.Interpreter.from_bytes(blob, arena_size=micro_arena_bytes(graph, len(blob)))
        except RuntimeError as exc:
            # Only the comparison is impossible: say so, not "internal error".
            from kiln.errors import KilnError

            raise KilnError(f"tflite-micro, the oracle, cannot run {Path(tflite).name} ({exc}): one of its "
                            "operators is beyond tflite-micro's kernels, so there is no reference to compare "
                            "Kiln's build with (building and flashing need none)") from None
        kind = MICRO
    if any(t.is_variable for t in graph.tensors):
        return Stateless(interp), kind
    return interp, kind


def reference_outputs(tflite: str | Path, inputs: np.ndarray, graph: Graph | None = None) -> np.ndarray:
    """The oracle's output for each input, stacked."""
    interp, _ = open_reference(tflite, graph)
    shape = tuple(interp.get_input_details(0)["shape"])
    outs = []
    for x in inputs:
        interp.set_input(np.ascontiguousarray(x.reshape(shape)), 0)
        interp.invoke()
        outs.append(np.array(interp.get_output(0), copy=True))
    return np.stack(outs)
