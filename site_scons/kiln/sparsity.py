"""Block sparsity as Kiln's sparse kernels read it (kiln/dsp.h): a block is four
consecutive weights along K (a convolution's taps x input channels in the .tflite's
OHWI order, or a dense layer's inputs) for a pair of consecutive output channels.

`block_mask` chooses which blocks to keep by magnitude; the pqat recipe prunes with it
while fine-tuning (kiln.quantize.pruning), and the tests use it to make sparse models.
No TensorFlow here.
"""

from __future__ import annotations

import numpy as np

#: Block shape: (K elements, output channels).
BLOCK_K, BLOCK_OUT = 4, 2


def block_mask(kernel: np.ndarray, sparsity: float) -> np.ndarray:
    """A 0/1 mask of `kernel` ([K][O]: Keras' layout with the spatial axes and input
    channels flattened into K in that order) that zeroes the `sparsity` share of blocks
    with the smallest L1 norms (ties: the earlier block is kept)."""
    w = np.abs(np.asarray(kernel, dtype=np.float64))
    k, o = w.shape
    pk, po = (-k) % BLOCK_K, (-o) % BLOCK_OUT
    padded = np.pad(w, ((0, pk), (0, po)))
    norms = padded.reshape((k + pk) // BLOCK_K, BLOCK_K, (o + po) // BLOCK_OUT, BLOCK_OUT).sum(axis=(1, 3))
    drop = int(round(sparsity * norms.size))
    keep = np.ones(norms.size, dtype=bool)
    if drop:
        order = np.argsort(norms.ravel(), kind="stable")
        keep[order[:drop]] = False
    blocks = keep.reshape(norms.shape).astype(np.float32)
    full = np.repeat(np.repeat(blocks, BLOCK_K, axis=0), BLOCK_OUT, axis=1)
    return full[:k, :o]


def keras_kernel_2d(kernel: np.ndarray) -> np.ndarray:
    """A Conv2D ([kh][kw][in][out]) or Dense ([in][out]) kernel as [K][O]."""
    kernel = np.asarray(kernel)
    return kernel.reshape(-1, kernel.shape[-1])
