"""ptq: full-integer post-training quantization (int8 weights, activations, input, output)."""

from kiln.quantize.context import Context
from kiln.quantize.convert import to_tflite


def build(ctx: Context) -> bytes:
    """The trained model calibrated on a seeded sample of training data."""
    return to_tflite(ctx.serving(), "int8", ctx.calibration())
