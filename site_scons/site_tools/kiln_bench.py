"""SCons tool: env.KilnBench() -> the always-built `bench` target.

Builds the emulated board's firmware (BOARD mps2_an505) of each benchmark
network (kiln.bench.NETS, those present under models/) twice, with
KERNELS=portable and KERNELS=cm33 (build/mps2_an505/<net>/<variant>-<kernels>/),
then runs `python -m kiln.bench`: QEMU under -icount shift=0, per-layer
instructions side by side, written to build/bench.json.
"""

from __future__ import annotations

import subprocess
import sys

from kiln import ROOT, bench, child_env, registry
from SCons.Script import Action

BOARD = "mps2_an505"


def _bench_action(target, source, env) -> int:  # noqa: ANN001 - SCons action signature
    cmd = [sys.executable, "-m", "kiln.bench", "--out", str(ROOT / "build" / "bench.json"),
           *env["KILN_BENCH_PAIRS"]]
    return subprocess.call(cmd, env=child_env())


def kiln_bench(env) -> list:  # noqa: ANN001
    """Declare the four (or two) firmware images and the benchmark run."""
    pairs, elfs = [], []
    for net, variant in bench.NETS:
        if net not in registry.nets():
            continue
        tflite = env.KilnModels(net, variants=[variant])[variant][0]
        images = [env.KilnFirmware(BOARD, net, variant, tflite, kernels=k)["elf"]
                  for k in ("portable", "cm33")]
        elfs += images
        pairs.append(f"{net}:{variant}=" + ",".join(str(i[0] if isinstance(i, list) else i)
                                                     for i in images))
    node = env.Alias("kiln-bench-run", elfs,
                     Action(_bench_action, "  BENCH build/bench.json"), KILN_BENCH_PAIRS=pairs)
    env.AlwaysBuild(node)
    return node


def generate(env) -> None:  # noqa: ANN001
    """Add KilnBench to env."""
    env.AddMethod(kiln_bench, "KilnBench")


def exists(env) -> bool:  # noqa: ANN001
    """Always loadable."""
    return True
