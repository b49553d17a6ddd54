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
_DTYPES = {"int8": np.dtype("i1"), "uint8": np.dtype("u1"), "float32": np.dtype("<f4")}


@dataclass(frozen=True)
class TensorSpec:
    """dtype, shape and (for int8 and uint8) the affine quantization of one tensor."""

    dtype: str
    shape: tuple[int, ...]
    scale: float
    zero_point: int

    @property
    def nbytes(self) -> int:
        """Bytes of the tensor on the wire."""
        return int(np.prod(self.shape)) * _DTYPES[self.dtype].itemsize

    @property
    def quantized(self) -> bool:
        """True for int8 and uint8 tensors."""
        return self.dtype != "float32"

    def as_info(self) -> dict:
        """The fields INFO reports for a tensor (docs/protocol.md)."""
        return {"dtype": self.dtype, "shape": list(self.shape), "bytes": self.nbytes,
                "scale": self.scale, "zero_point": self.zero_point}


def _spec(details: dict, what: str, path: Path) -> TensorSpec:
    dtype = np.dtype(details["dtype"]).name
    if dtype not in _DTYPES:
        raise KilnError(f"{path}: {what} tensor has dtype {dtype}; Kiln runs int8, uint8 and float32 models")
    q = details["quantization_parameters"]
    scales, zps = list(q["scales"]), list(q["zero_points"])
    if dtype != "float32" and len(scales) != 1:
        raise KilnError(f"{path}: {what} tensor is {dtype} without a single scale ({len(scales)} scales)")
    return TensorSpec(dtype, tuple(int(d) for d in details["shape"]),
                      float(scales[0]) if scales else 0.0, int(zps[0]) if zps else 0)


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
    """One .tflite loaded in the oracle interpreter (`oracle` names which)."""

    def __init__(self, tflite: str | Path) -> None:
        self.path = Path(tflite)
        if not self.path.is_file():
            raise KilnError(f"model {self.path} not found: build it with 'scons models'")
        from kiln import oracle

        try:
            self.interpreter, self.oracle = oracle.open_reference(self.path)
        except (RuntimeError, ValueError) as exc:
            raise KilnError(f"the reference interpreter cannot load {self.path}: {exc}") from exc
        self.input = _spec(self.interpreter.get_input_details(0), "input", self.path)
        self.output = _spec(self.interpreter.get_output_details(0), "output", self.path)
        self.sha256 = sha256_file(self.path)

    def encode(self, x: np.ndarray) -> bytes:
        """One sample, normalized float (or already int8), as the input tensor's bytes."""
        n = int(np.prod(self.input.shape))
        if x.size != n:
            raise KilnError(f"a sample has {x.size} values ({x.shape}) but {self.path.name} "
                            f"takes {n} ({list(self.input.shape)}): is DATASET= right for this model?")
        if self.input.quantized:
            wire = _DTYPES[self.input.dtype]
            if x.dtype.kind in "iu" and x.dtype != wire:
                raise KilnError(f"{x.dtype} inputs given but {self.path.name} takes {self.input.dtype}: "
                                f"pass {self.input.dtype} (already quantized) or float inputs")
            # Already-quantized inputs pass through unchanged; floats are quantized as the model says.
            q = x if x.dtype == wire else quantize(x, self.input.scale, self.input.zero_point,
                                                   self.input.dtype)
            return q.reshape(self.input.shape).tobytes()
        if x.dtype.kind in "iu":
            raise KilnError(f"{x.dtype} inputs given but {self.path.name} takes float32")
        return x.astype("<f4").reshape(self.input.shape).tobytes()

    def decode_output(self, data: bytes) -> np.ndarray:
        """Output tensor bytes (from the device or the reference) as a flat array."""
        if len(data) != self.output.nbytes:
            raise KilnError(f"output of {len(data)} bytes, the model's is {self.output.nbytes}")
        return np.frombuffer(data, dtype=_DTYPES[self.output.dtype])

    def run(self, data: bytes) -> bytes:
        """Run the reference on input tensor bytes; the output tensor bytes."""
        x = np.frombuffer(data, dtype=_DTYPES[self.input.dtype]).reshape(self.input.shape)
        self.interpreter.set_input(x, 0)
        self.interpreter.invoke()
        out = np.asarray(self.interpreter.get_output(0))
        return out.astype(_DTYPES[self.output.dtype]).tobytes()
