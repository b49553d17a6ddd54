"""given: a .tflite source built as it is (it cannot be converted or quantized again)."""

from kiln.quantize.context import Context


def build(ctx: Context) -> bytes:
    """The network's model.tflite, unchanged; measuring it checks that it reads and runs."""
    return ctx.spec.source.read_bytes()
