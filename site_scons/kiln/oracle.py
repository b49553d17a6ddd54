"""The reference interpreter a Kiln build is compared with.

tflite-micro's reference kernels are the oracle: they define what the board
must output, bit for bit. tflite-micro does not run hybrid (dynamic-range)
models, float activations with int8 weights; for those the oracle is
TensorFlow's tf.lite.Interpreter with its reference kernels
(OpResolverType.BUILTIN_REF: no XNNPACK, whose float convolutions sum in
another order). TensorFlow is imported only then.

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
TFLITE = "tf.lite.Interpreter (tflite-micro does not run hybrid models)"


def needs_tflite(graph: Graph) -> bool:
    """True when the model has hybrid layers (float input, int8 weights)."""
    return any(is_hybrid(graph, op) for op in graph.ops)


class TfliteReference:
    """tf.lite.Interpreter with TFLite's reference kernels, behind tflite-micro's interface."""

    def __init__(self, tflite: str | Path) -> None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import warnings

        import tensorflow as tf

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the interpreter's move-to-LiteRT notice
            self._interp = tf.lite.Interpreter(
                model_path=str(tflite),
                experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_REF)
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

        interp, kind = runtime.Interpreter.from_file(str(tflite), arena_size=micro_arena_bytes(
            graph, Path(tflite).stat().st_size)), MICRO
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
