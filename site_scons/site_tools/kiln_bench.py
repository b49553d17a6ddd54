"""SCons tool: env.KilnBench() -> the always-built `bench` target.

Runs on an emulated board (kiln.bench.board_for: BOARD= when it is emulated,
else the first board with an [emulator] section). Builds that board's firmware
of each benchmark network (kiln.bench.NETS, those present under models/) twice,
with KERNELS=portable and the board's optimized set, each in its own
kiln.paths.firmware_dir, then runs `python -m host.bench`: QEMU under
-icount, per-layer instructions side by side, written to kiln.paths.bench_json().
"""

from __future__ import annotations

import subprocess
import sys

import kiln_scons
from kiln import ROOT, bench, child_env, paths, registry
from kiln import firmware as fw
from kiln.errors import KilnError
from SCons.Script import COMMAND_LINE_TARGETS


def _bench_action(target, source, env) -> None:  # noqa: ANN001 - SCons action signature
    cmd = [sys.executable, "-m", "host.bench", "--board", env["KILN_BENCH_BOARD"],
           "--kernels", env["KILN_BENCH_KERNELS"], "--out", str(paths.bench_json()), *env["KILN_BENCH_PAIRS"]]
    rc = subprocess.call(cmd, cwd=str(ROOT), env=child_env())
    if rc:
        raise KilnError(f"the benchmark failed (python -m host.bench exited with status {rc}; see above)")


def kiln_bench(env) -> list:  # noqa: ANN001
    """Declare the four (or two) firmware images and the benchmark run."""
    if env.get("TFLITE") and "bench" in COMMAND_LINE_TARGETS:
        # The benchmark compares fixed networks across kernel sets; ignoring
        # TFLITE= silently would report figures of another model.
        kiln_scons.fail(f"bench measures the benchmark networks ({', '.join(n for n, _ in bench.NETS)}), "
                        f"not TFLITE={env['TFLITE']}: drop TFLITE=, or see its per-layer cost with "
                        f"'scons infer TFLITE={env['TFLITE']} BOARD=<an emulated board>' "
                        "(and KERNELS=portable to compare kernel sets)")
    try:
        board = bench.board_for(str(env.get("BOARD", "")))
        optimized = fw.resolve_kernels("auto", fw.cpu_flags(board.cpu))
    except KilnError as exc:
        kiln_scons.fail(str(exc))
    if optimized == "portable":
        kiln_scons.fail(f"bench compares portable with optimized kernels, and the CPU of {board.name} "
                        f"({board.cpu}) has none: see toolchain/cpus.toml")
    pairs, elfs = [], []
    for net, variant in bench.NETS:
        if net not in registry.nets():
            continue
        tflite = env.KilnModels(net, variants=[variant])[variant][0]
        images = [env.KilnFirmware(board.name, net, variant, tflite, kernels=k)["elf"]
                  for k in ("portable", optimized)]
        elfs += images
        pairs.append(f"{net}:{variant}=" + ",".join(str(i[0] if isinstance(i, list) else i)
                                                     for i in images))
    label = f"  BENCH {board.name}: {paths.bench_json().relative_to(ROOT)}"
    node = env.Alias("kiln-bench-run", elfs, kiln_scons.action(_bench_action, label),
                     KILN_BENCH_PAIRS=pairs, KILN_BENCH_BOARD=board.name, KILN_BENCH_KERNELS=optimized)
    env.AlwaysBuild(node)
    return node


def generate(env) -> None:  # noqa: ANN001
    """Add KilnBench (and the model and firmware tools it calls) to env."""
    env.Tool("kiln_models")
    env.Tool("kiln_firmware")
    env.AddMethod(kiln_bench, "KilnBench")


def exists(env) -> bool:  # noqa: ANN001
    """Always loadable."""
    return True
