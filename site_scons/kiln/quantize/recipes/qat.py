"""qat: quantization-aware fine-tuning, then full-integer conversion."""

import tensorflow_model_optimization as tfmot

from kiln.errors import KilnError
from kiln.quantize.context import Context
from kiln.quantize.convert import to_tflite


def build(ctx: Context) -> bytes:
    """Fake-quantize the trained model, fine-tune it `qat_epochs`, convert to int8."""
    try:
        model = tfmot.quantization.keras.quantize_model(ctx.load_model("qat"))
    except (ValueError, RuntimeError, TypeError) as exc:
        raise KilnError(f"qat: tfmot quantization-aware training does not support this net: {exc}") from exc
    ctx.fit(model, int(ctx.hparams.get("qat_epochs", 1)))
    return to_tflite(model, "int8", ctx.calibration())
