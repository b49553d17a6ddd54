"""Magnitude pruning with tfmot, shared by the pruned variants and PQAT."""

from __future__ import annotations

import math

import tensorflow_model_optimization as tfmot
import tf_keras

from kiln.errors import KilnError
from kiln.quantize.context import Context

#: Layers given pruning wrappers; the rest (pooling, batch norm, add...) are cloned as they are.
_PRUNABLE = (tf_keras.layers.Conv2D, tf_keras.layers.Dense, tf_keras.layers.DepthwiseConv2D)
#: 2:4 (m-by-n) sparsity in tfmot supports these kernels only.
_M_BY_N = (tf_keras.layers.Conv2D, tf_keras.layers.Dense)


def steps_per_epoch(ctx: Context) -> int:
    """Optimizer steps in one fine-tuning epoch."""
    return math.ceil(len(ctx.data[0]) / int(ctx.hparams.get("batch_size", 128)))


def pruning_frequency(ctx: Context, epochs: int, events: int = 4) -> int:
    """Steps between pruning updates: the configured `prune_frequency`, lowered so that at least
    `events` updates happen in `epochs` (a small training set has few steps; with too few
    updates the masks are never applied and the model stays dense)."""
    steps = steps_per_epoch(ctx) * epochs
    return max(1, min(int(ctx.hparams.get("prune_frequency", 100)), steps // events))


def prune_finetune(ctx: Context, model: tf_keras.Model, epochs: int, **pruning_params) -> tf_keras.Model:
    """Wrap the prunable layers of `model`, fine-tune it `epochs` epochs, and strip the wrappers.

    With sparsity_m_by_n only Conv2D and Dense are wrapped (tfmot's 2:4
    pruning does not handle depthwise kernels); otherwise Conv2D, Dense and
    DepthwiseConv2D (including the depthwise kernels of the nets) are.
    """
    kinds = _M_BY_N if "sparsity_m_by_n" in pruning_params else _PRUNABLE
    wrap = tfmot.sparsity.keras.prune_low_magnitude

    def clone(layer: tf_keras.layers.Layer) -> tf_keras.layers.Layer:
        # The original layers are reused (with their trained weights): `model` is a
        # fresh copy. type() rather than isinstance: DepthwiseConv2D subclasses Conv2D.
        return wrap(layer, **pruning_params) if type(layer) in kinds else layer

    try:
        pruned = tf_keras.models.clone_model(model, clone_function=clone)
    except (ValueError, TypeError) as exc:
        raise KilnError(f"tfmot pruning does not support this network: {exc}") from exc
    ctx.fit(pruned, epochs, callbacks=[tfmot.sparsity.keras.UpdatePruningStep()])
    return tfmot.sparsity.keras.strip_pruning(pruned)

