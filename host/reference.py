"""The host reference: the same .tflite on the oracle interpreter (kiln.oracle).

tflite-micro's reference kernels are the bit-exactness oracle for the board.
Its Python runtime does not import TensorFlow, so this module stays light;
only a hybrid (dynamic-range) model, which tflite-micro does not run, brings
in tf.lite.Interpreter.
The input quantization here produces the exact bytes sent to the device, so
the device and the reference always see the same input.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from kiln import quantmath
from kiln.errors import KilnError

#: Wire dtypes (little-endian) of the tensors Kiln models take and return.
_DTYPES = {"int8": np.dtype("i1"), "uint8": np.dtype("u1"), "float32": np.dtype("<f4"),
           "int16": np.dtype("<i2"), "int32": np.dtype("<i4"), "bool": np.dtype("?")}
#: The dtypes that carry a scale and zero point; int32 and bool tensors (ARG_MAX, comparisons) do not.
_QUANTIZED = ("int8", "uint8", "int16")


@dataclass(frozen=True)
class TensorSpec:
    """dtype, shape and (for int8 and uint8) the affine quantization of one tensor."""

    dtype: str
    shape: tuple[int, ...]
    scale: float
    zero_point: int
    name: str = ""

    @property
    def nbytes(self) -> int:
        """Bytes of the tensor on the wire."""
        return int(np.prod(self.shape)) * _DTYPES[self.dtype].itemsize

    @property
    def quantized(self) -> bool:
        """True for the affine-quantized dtypes (int8, uint8, int16)."""
        return self.dtype in _QUANTIZED

    def as_info(self) -> dict:
        """The fields INFO reports for a tensor (docs/protocol.md)."""
        return {"dtype": self.dtype, "shape": list(self.shape), "bytes": self.nbytes,
                "scale": self.scale, "zero_point": self.zero_point}


def _spec(details: dict, what: str, path: Path, name: str = "") -> TensorSpec:
    dtype = np.dtype(details["dtype"]).name
    if dtype not in _DTYPES:
        raise KilnError(f"{path}: {what} tensor has dtype {dtype}; Kiln's models take and return "
                        f"{', '.join(_DTYPES)}")
    q = details["quantization_parameters"]
    scales, zps = list(q["scales"]), list(q["zero_points"])
    if dtype in _QUANTIZED and len(scales) != 1:
        raise KilnError(f"{path}: {what} tensor is {dtype} without a single scale ({len(scales)} scales)")
    return TensorSpec(dtype, tuple(int(d) for d in details["shape"]),
                      float(scales[0]) if scales else 0.0, int(zps[0]) if zps else 0, name)


def quantize(x: np.ndarray, scale: float, zero_point: int, dtype: str = "int8") -> np.ndarray:
    """float -> int8 (or uint8) as TFLite's QUANTIZE does it: kiln.quantmath.quantize,
    the one input quantizer, so the host and the build never disagree."""
    return quantmath.quantize(x, scale, zero_point, dtype)


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """int8 or uint8 -> float: scale * (q - zero_point)."""
    return (q.astype(np.float32) - np.float32(zero_point)) * np.float32(scale)


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file (what INFO reports as tflite_sha256)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Reference:
    """One .tflite loaded in the oracle interpreter (`oracle` names which).

    A model may have several inputs and outputs: the wire carries them back to
    back in the model's order (docs/protocol.md). `label_output` is the output
    whose argmax is the prediction (the first unless chosen by name).
    """

    def __init__(self, tflite: str | Path, label_output: str = "") -> None:
        self.path = Path(tflite)
        if not self.path.is_file():
            raise KilnError(f"model {self.path} not found: build it with 'scons models'")
        from kiln import oracle

        try:
            self.interpreter, self.oracle = oracle.open_reference(self.path)
        except (RuntimeError, ValueError) as exc:
            raise KilnError(f"the reference interpreter cannot load {self.path}: {exc}") from exc
        from kiln.tflite_reader import read_tflite

        graph = read_tflite(self.path)
        self.inputs = [_spec(self.interpreter.get_input_details(i), f"input {i}", self.path,
                             graph.tensors[t].name) for i, t in enumerate(graph.inputs)]
        self.outputs = [_spec(self.interpreter.get_output_details(i), f"output {i}", self.path,
                              graph.tensors[t].name) for i, t in enumerate(graph.outputs)]
        self.label_index = self._output_index(label_output)
        self.sha256 = sha256_file(self.path)

    def _output_index(self, name: str) -> int:
        if not name:
            return 0
        names = [o.name for o in self.outputs]
        if name in names:
            return names.index(name)
        raise KilnError(f"{self.path.name} has no output named '{name}': its outputs are "
                        f"{', '.join(names)} (OUTPUT= or net.toml's [model] label_output)")

    @property
    def input(self) -> TensorSpec:
        """The first input (the only one of most models)."""
        return self.inputs[0]

    @property
    def output(self) -> TensorSpec:
        """The output read for predictions (`label_output`)."""
        return self.outputs[self.label_index]

    @property
    def input_bytes(self) -> int:
        """Bytes of all inputs on the wire."""
        return sum(t.nbytes for t in self.inputs)

    @property
    def output_bytes(self) -> int:
        """Bytes of all outputs on the wire."""
        return sum(t.nbytes for t in self.outputs)

    def _encode_one(self, x: np.ndarray, spec: TensorSpec) -> bytes:
        n = int(np.prod(spec.shape))
        if x.size != n:
            raise KilnError(f"a sample has {x.size} values ({x.shape}) but {self.path.name} "
                            f"takes {n} ({list(spec.shape)}): is DATASET= right for this model?")
        if spec.quantized:
            wire = _DTYPES[spec.dtype]
            if x.dtype.kind in "iu" and x.dtype != wire:
                raise KilnError(f"{x.dtype} inputs given but {self.path.name} takes {spec.dtype}: "
                                f"pass {spec.dtype} (already quantized) or float inputs")
            # Already-quantized inputs pass through unchanged; floats are quantized as the model says.
            q = x if x.dtype == wire else quantize(x, spec.scale, spec.zero_point, spec.dtype)
            return q.reshape(spec.shape).tobytes()
        if x.dtype.kind in "iu":
            raise KilnError(f"{x.dtype} inputs given but {self.path.name} takes float32")
        return x.astype("<f4").reshape(spec.shape).tobytes()

    def encode(self, x: np.ndarray | list[np.ndarray] | tuple[np.ndarray, ...]) -> bytes:
        """One sample, normalized float (or already quantized), as the bytes INFER carries: an
        array for a one-input model, a sequence of one array per input otherwise."""
        parts = list(x) if isinstance(x, list | tuple) else [x]
        if len(parts) != len(self.inputs):
            raise KilnError(f"a sample gives {len(parts)} inputs but {self.path.name} takes "
                            f"{len(self.inputs)}")
        return b"".join(self._encode_one(a, spec) for a, spec in zip(parts, self.inputs, strict=True))

    def split_outputs(self, data: bytes) -> list[np.ndarray]:
        """All outputs' bytes (from the device or the reference) as one flat array per output."""
        if len(data) != self.output_bytes:
            raise KilnError(f"outputs of {len(data)} bytes, the model's are {self.output_bytes}")
        arrays, at = [], 0
        for spec in self.outputs:
            arrays.append(np.frombuffer(data[at: at + spec.nbytes], dtype=_DTYPES[spec.dtype]))
            at += spec.nbytes
        return arrays

    def decode_output(self, data: bytes) -> np.ndarray:
        """The label output (flat) from all outputs' bytes."""
        return self.split_outputs(data)[self.label_index]

    def run(self, data: bytes) -> bytes:
        """Run the reference on all inputs' bytes; all outputs' bytes."""
        at = 0
        for i, spec in enumerate(self.inputs):
            x = np.frombuffer(data[at: at + spec.nbytes], dtype=_DTYPES[spec.dtype]).reshape(spec.shape)
            self.interpreter.set_input(x, i)
            at += spec.nbytes
        self.interpreter.invoke()
        return b"".join(np.asarray(self.interpreter.get_output(i)).astype(_DTYPES[spec.dtype]).tobytes()
                        for i, spec in enumerate(self.outputs))
