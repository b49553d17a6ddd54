"""float: the trained model as a float32 .tflite, the baseline."""

from kiln.quantize.context import Context
from kiln.quantize.convert import to_tflite


def build(ctx: Context) -> bytes:
    """The trained model converted without optimization."""
    return to_tflite(ctx.serving(), "float")
