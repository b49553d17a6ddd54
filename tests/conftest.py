"""Shared fixtures and markers.

Markers (registered in pyproject.toml):
- `slow`: builds firmware, converts with TensorFlow at length, or runs QEMU
  for many samples. `pytest -m "not slow"` is the fast loop (under 3 minutes
  on 2 cores); the whole suite runs in CI.
"""

from __future__ import annotations

import pytest
from support import have

_NEEDS = {
    "arm-none-eabi-gcc": "arm-none-eabi-gcc not installed (run toolchain/setup)",
    "qemu-system-arm": "qemu-system-arm not installed (run toolchain/setup)",
}


@pytest.fixture(scope="session")
def cross_compiler() -> None:
    """Skip when the Arm toolchain is missing (CI installs it: toolchain/setup)."""
    if not have("arm-none-eabi-gcc"):
        pytest.skip(_NEEDS["arm-none-eabi-gcc"])


@pytest.fixture(scope="session")
def emulator() -> None:
    """Skip when QEMU is missing."""
    if not have("qemu-system-arm"):
        pytest.skip(_NEEDS["qemu-system-arm"])
