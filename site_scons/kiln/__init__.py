"""Kiln's build-time library: quantization recipes, .tflite reading, memory
planning, C generation and size reports. Importable without SCons."""

import os
from pathlib import Path

#: The repository root (site_scons/kiln/ -> two levels up).
ROOT = Path(__file__).resolve().parents[2]

#: Where every build output goes: the one place the build folder is named.
BUILD = ROOT / "build"


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a Python child (`python -m kiln.x` or `host.x`) run by a build step.

    The build runs TensorFlow, QEMU and the serial link in children so that
    SCons itself stays light; they must import this same kiln and host.
    """
    env = dict(os.environ, **extra)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ROOT / "site_scons"), str(ROOT), env.get("PYTHONPATH", "")]))
    return env
