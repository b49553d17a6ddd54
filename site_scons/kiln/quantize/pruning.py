"""Magnitude pruning with tfmot, shared by the pruned variants and PQAT."""

from __future__ import annotations

import math

import numpy as np
import tensorflow_model_optimization as tfmot
import tf_keras

from kiln import sparsity
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



#: Kernels smaller than this stay dense under block pruning: they hold no flash worth
#: saving, and a stem of a few filters loses whole output channels to 50% of its blocks
#: (fashion_mnist's 3x3 stem has 108 weights; its fused kernel then needs exact records).
MIN_BLOCK_PRUNED = 1024


class _BlockPruning(tf_keras.callbacks.Callback):
    """Keeps the `share` of Kiln's weight blocks with the smallest L1 norms at zero
    (kiln.sparsity.block_mask): the masks are chosen anew every `every` steps from the
    weights as training moves them, and applied after every step."""

    def __init__(self, layers: list, share: float, every: int) -> None:
        super().__init__()
        self.layers, self.share, self.every, self.step = layers, share, every, 0
        self.masks: list[np.ndarray] = []

    def _choose(self) -> None:
        self.masks = []
        for layer in self.layers:
            kernel = layer.kernel.numpy()
            mask = sparsity.block_mask(sparsity.keras_kernel_2d(kernel), self.share)
            self.masks.append(mask.reshape(kernel.shape))

    def _apply(self) -> None:
        for layer, mask in zip(self.layers, self.masks, strict=True):
            layer.kernel.assign(layer.kernel.numpy() * mask)

    def on_train_begin(self, logs: dict | None = None) -> None:  # noqa: D102 - Keras hook
        self._choose()
        self._apply()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:  # noqa: D102
        self.step += 1
        if self.step % self.every == 0:
            self._choose()
        self._apply()


def block_prune_finetune(ctx: Context, model: tf_keras.Model, epochs: int, share: float) -> tf_keras.Model:
    """Fine-tune `model` `epochs` epochs with `share` of the blocks of every Conv2D and
    Dense kernel of MIN_BLOCK_PRUNED weights or more held at zero (four K elements by two
    output channels: what Kiln's sparse kernels skip, see kiln.sparsity). tfmot's block
    sparsity covers 2-D kernels only, so this prunes with a callback of its own, as
    tfmot's ConstantSparsity would: from the first step, masks re-chosen by magnitude
    every `prune_frequency` steps."""
    layers = [layer for layer in model.layers
              if type(layer) in _M_BY_N and layer.kernel.shape.num_elements() >= MIN_BLOCK_PRUNED]
    if not layers:
        raise KilnError("block pruning found no Conv2D or Dense layer to prune")
    pruning = _BlockPruning(layers, share, pruning_frequency(ctx, epochs))
    ctx.fit(model, epochs, callbacks=[pruning])
    pruning._apply()   # the last step's update, masked
    return model
