"""pqat: pruning-preserving quantization-aware training, full integer.

Prune to a constant 50%, then fine-tune with fake quantization under the
prune-preserving scheme, so the zeros survive into the int8 model.
"""

import tensorflow_model_optimization as tfmot

from kiln.errors import KilnError
from kiln.quantize.context import Context
from kiln.quantize.convert import to_tflite
from kiln.quantize.pruning import prune_finetune, pruning_frequency


def build(ctx: Context) -> bytes:
    """50% pruning for `prune_epochs`, then prune-preserving QAT for `qat_epochs`, int8."""
    epochs = int(ctx.hparams.get("prune_epochs", 2))
    schedule = tfmot.sparsity.keras.ConstantSparsity(
        0.5, begin_step=0, frequency=pruning_frequency(ctx, epochs))
    pruned = prune_finetune(ctx, ctx.load_model("pqat"), epochs, pruning_schedule=schedule)
    qk = tfmot.quantization.keras
    try:
        model = qk.quantize_apply(
            qk.quantize_annotate_model(pruned),
            tfmot.experimental.combine.Default8BitPrunePreserveQuantizeScheme(),
        )
    except (ValueError, RuntimeError, TypeError) as exc:
        raise KilnError(f"pqat: tfmot prune-preserving QAT does not support this network: {exc}") from exc
    ctx.fit(model, int(ctx.hparams.get("qat_epochs", 1)))
    return to_tflite(model, "int8", ctx.calibration())
