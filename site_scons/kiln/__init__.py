"""Kiln's build-time library: quantization recipes, .tflite reading, memory
planning, C generation and size reports. Importable without SCons."""

from pathlib import Path

#: The repository root (site_scons/kiln/ -> two levels up).
ROOT = Path(__file__).resolve().parents[2]
