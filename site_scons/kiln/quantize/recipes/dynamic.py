"""dynamic: dynamic-range quantization (int8 weights, float activations and I/O)."""

from kiln.quantize.context import Context
from kiln.quantize.convert import to_tflite


def build(ctx: Context) -> bytes:
    """The trained model with its weights quantized to int8 at conversion; no calibration."""
    return to_tflite(ctx.serving(), "dynamic")
