"""pqat: pruning-preserving quantization-aware training, full integer.

Prune half the weights, in the blocks Kiln's sparse kernels skip (four
K elements by two output channels of every Conv2D and Dense kernel:
kiln.sparsity), then fine-tune with fake quantization under the
prune-preserving scheme, so the zeros survive into the int8 model. The
exercise pruned 50% unstructured with tfmot; blocks keep the same share of
zeros and let the board store and skip them (docs/runtime.md).
"""

import tensorflow_model_optimization as tfmot

from kiln.errors import KilnError
from kiln.quantize.context import Context
from kiln.quantize.convert import to_tflite
from kiln.quantize.pruning import block_prune_finetune


def build(ctx: Context) -> bytes:
    """50% block pruning for `prune_epochs`, then prune-preserving QAT for `qat_epochs`, int8."""
    epochs = int(ctx.hparams.get("prune_epochs", 2))
    pruned = block_prune_finetune(ctx, ctx.load_model("pqat"), epochs, 0.5)
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
