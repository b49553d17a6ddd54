"""prune_struct: 2:4 structured sparsity (two zeros in every four weights), float32."""

from kiln.quantize.context import Context
from kiln.quantize.convert import to_tflite
from kiln.quantize.pruning import prune_finetune


def build(ctx: Context) -> bytes:
    """Prune conv and dense kernels 2:4 while fine-tuning `prune_epochs`, convert to float32."""
    epochs = int(ctx.hparams.get("prune_epochs", 2))
    model = prune_finetune(ctx, ctx.load_model("prune_struct"), epochs, sparsity_m_by_n=(2, 4))
    return to_tflite(model, "float")
