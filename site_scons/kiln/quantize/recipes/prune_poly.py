"""prune_poly: polynomial-decay sparsity schedule (50% rising to 80%), float32."""

import tensorflow_model_optimization as tfmot

from kiln.quantize.context import Context
from kiln.quantize.convert import to_tflite
from kiln.quantize.pruning import prune_finetune, steps_per_epoch


def build(ctx: Context) -> bytes:
    """Raise sparsity from 50% to 80% over the first 70% of `prune_epochs`, convert to float32.

    The last 30% of the steps fine-tune at the final sparsity, so the
    network recovers from the last pruning step; at least eight pruning
    steps happen even when an epoch is short.
    """
    epochs = int(ctx.hparams.get("prune_epochs", 2))
    end_step = max(1, int(0.7 * steps_per_epoch(ctx) * epochs))
    frequency = max(1, min(int(ctx.hparams.get("prune_frequency", 100)), end_step // 8))
    schedule = tfmot.sparsity.keras.PolynomialDecay(
        initial_sparsity=0.50, final_sparsity=0.80, begin_step=0, end_step=end_step, frequency=frequency,
    )
    model = prune_finetune(ctx, ctx.load_model("prune_poly"), epochs, pruning_schedule=schedule)
    return to_tflite(model, "float")
