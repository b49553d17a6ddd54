"""Time a no-op `scons models` and check that it imports no TensorFlow.

Run after a build: `.venv/bin/python tests/bench/noop_build.py [NET]`.
Prints the best wall time of a few runs (the whole SConstruct, with every
tool, is read each time) and the heavy modules the SCons process imported,
measured with `python -X importtime`.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCONS = ROOT / ".venv" / "bin" / "scons"
PYTHON = ROOT / ".venv" / "bin" / "python"
HEAVY = ("tensorflow", "tf_keras", "tensorflow_model_optimization", "matplotlib", "tflite_micro")


def time_noop(net: str, runs: int = 5) -> tuple[float, str]:
    """Best wall time in seconds of `scons -Q models NET=net`, and its last output."""
    best, out = float("inf"), ""
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run([str(SCONS), "-Q", "models", f"NET={net}"],
                              cwd=ROOT, capture_output=True, text=True)
        best = min(best, time.perf_counter() - start)
        out = done.stdout + done.stderr
        if done.returncode:
            sys.exit(f"scons failed:\n{out}")
    return best, out


def heavy_imports(net: str) -> list[str]:
    """Top-level heavy packages the no-op SCons process imports (from -X importtime)."""
    done = subprocess.run([str(PYTHON), "-X", "importtime", str(SCONS), "-Q", "models", f"NET={net}"],
                          cwd=ROOT, capture_output=True, text=True)
    found = set()
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name.split(".")[0] in HEAVY:
                found.add(name.split(".")[0])
    return sorted(found)


def main() -> int:
    """Print the no-op time and the heavy imports; fail if the build was not a no-op."""
    net = sys.argv[1] if len(sys.argv) > 1 else "fashion_mnist"
    best, out = time_noop(net)
    if "QUANT" in out:
        print(f"not a no-op: run `.venv/bin/scons models NET={net}` first\n{out}")
        return 1
    heavy = heavy_imports(net)
    print(f"no-op `scons models NET={net}`: {best:.3f} s (best of 5)")
    print(f"heavy modules imported: {', '.join(heavy) if heavy else 'none'}")
    return 0 if not heavy else 1


if __name__ == "__main__":
    sys.exit(main())
