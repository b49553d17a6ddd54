"""prune_unstruct: constant 50% magnitude sparsity from the first step, float32."""

import tensorflow_model_optimization as tfmot

from kiln.quantize.context import Context
from kiln.quantize.convert import to_tflite
from kiln.quantize.pruning import prune_finetune, pruning_frequency


def build(ctx: Context) -> bytes:
    """Prune to 50% while fine-tuning `prune_epochs`, convert to float32."""
    epochs = int(ctx.hparams.get("prune_epochs", 2))
    schedule = tfmot.sparsity.keras.ConstantSparsity(
        0.5, begin_step=0, frequency=pruning_frequency(ctx, epochs))
    model = prune_finetune(ctx, ctx.load_model("prune_unstruct"), epochs, pruning_schedule=schedule)
    return to_tflite(model, "float")
