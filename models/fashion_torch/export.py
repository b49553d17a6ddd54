"""Train the Fashion-MNIST CNN in PyTorch and export it to `model.onnx` beside this file.

This is Kiln's example of a network that comes from PyTorch: Kiln itself never
imports torch, it reads the exported ONNX file (kiln.quantize.onnx_source).
The committed `model.onnx` was made by this script; to make it again, in a
throwaway virtualenv outside the repository (CI never needs torch):

    python3 -m venv /work/torchenv
    /work/torchenv/bin/pip install torch onnx onnxscript numpy
    PYTHONPATH=site_scons /work/torchenv/bin/python models/fashion_torch/export.py

run from the repository root. A CPU-only torch wheel is enough (PyPI's plain
`torch` also pulls CUDA libraries, gigabytes of them); the committed file was
made with torch 2.13.0+cpu, onnxscript 0.7.2 and onnx 1.23.2. Training is
seeded, deterministic and single-threaded (two epochs, about 20 s on 2
cores); the script prints the test accuracy (0.8251). The export uses
PyTorch's default exporter (torch.export-based, which needs onnxscript) at
opset 18 with a static batch of 1: input `input` of shape (1, 1, 28, 28),
NCHW float in [0, 1]; output `logits` of shape (1, 10).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from kiln.datasets import load_fashion_mnist
from torch import nn

HERE = Path(__file__).resolve().parent
SEED = 1234
EPOCHS = 2
BATCH = 64
OPSET = 18


class FashionCNN(nn.Module):
    """Conv(1->8) ReLU MaxPool, Conv(8->16) ReLU MaxPool, Flatten, Linear(400->10) logits."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Linear(16 * 5 * 5, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for a batch of (N, 1, 28, 28) images in [0, 1]."""
        return self.classifier(torch.flatten(self.features(x), 1))


def as_nchw(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, 28, 28, 1) images as float (N, 1, 28, 28) in [0, 1]."""
    return torch.from_numpy(images.transpose(0, 3, 1, 2).astype(np.float32) / 255.0)


def train(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> None:
    """EPOCHS of Adam over (x, y) in seeded shuffled batches."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(SEED)
    model.train()
    for epoch in range(EPOCHS):
        order = torch.randperm(len(x), generator=gen)
        total = 0.0
        for i in range(0, len(x), BATCH):
            idx = order[i:i + BATCH]
            opt.zero_grad()
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        print(f"epoch {epoch + 1}/{EPOCHS}: loss {total / len(x):.4f}")


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Share of `x` whose largest logit is the label."""
    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(x[i:i + 1000]).argmax(1) for i in range(0, len(x), 1000)])
    return float((pred == y).float().mean())


def main() -> int:
    """Train, report the test accuracy, export model.onnx."""
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    train_x, train_y = load_fashion_mnist("train")
    test_x, test_y = load_fashion_mnist("test")
    model = FashionCNN()
    train(model, as_nchw(train_x), torch.from_numpy(train_y.astype(np.int64)))
    acc = accuracy(model, as_nchw(test_x), torch.from_numpy(test_y.astype(np.int64)))
    print(f"test accuracy: {acc:.4f}")
    out = HERE / "model.onnx"
    tmp = out.with_suffix(".onnx.tmp")
    model.eval()
    # The default (torch.export-based) exporter; no dynamic shapes, so the batch stays 1.
    torch.onnx.export(model, (torch.zeros(1, 1, 28, 28),), str(tmp), input_names=["input"],
                      output_names=["logits"], opset_version=OPSET, external_data=False)
    tmp.replace(out)
    print(f"wrote {out} ({out.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
