"""SCons tool: env.KilnBench() -> the always-built `bench` target.

Runs on an emulated board (kiln.bench.board_for: BOARD= when it is emulated,
else the first of kiln.boards.emulated()). Builds that board's firmware
of each benchmark network (kiln.bench.ALL: the compiler's own networks and the
MLPerf Tiny suite, those present under models/) three times,
with KERNELS=portable, the board's optimized set, and that set in the size
layout (OPTIMIZE=size), each in its own kiln.paths.firmware_dir (once, portable,
on a CPU without an optimized set), then runs `python -m host.bench`: QEMU under
-icount, per-layer instructions side by side, written to kiln.paths.bench_json()
(build/bench.json on the default emulated board, build/<board>/bench.json on another).
With TFLITE=, the same for that one file, written to kiln.paths.tflite_bench_json().
"""

from __future__ import annotations

import subprocess
import sys

import kiln_scons
from kiln import ROOT, bench, boards, child_env, paths, registry
from kiln import firmware as fw
from kiln.errors import KilnError
from SCons.Script import File


def _bench_action(target, source, env) -> None:  # noqa: ANN001 - SCons action signature
    cmd = [sys.executable, "-m", "host.bench", "--board", env["KILN_BENCH_BOARD"],
           "--kernels", env["KILN_BENCH_KERNELS"], "--out", env["KILN_BENCH_OUT"], *env["KILN_BENCH_PAIRS"]]
    rc = subprocess.call(cmd, cwd=str(ROOT), env=child_env())
    if rc:
        raise KilnError(f"the benchmark failed (python -m host.bench exited with status {rc}; see above)")


def kiln_bench(env) -> list:  # noqa: ANN001
    """Declare three firmware images per benchmark network (portable, optimized, optimized
    in the size layout) and the benchmark run; with TFLITE=, the images of that file, its
    figures beside them."""
    try:
        board = bench.board_for(str(env.get("BOARD", "")))
        optimized = fw.resolve_kernels("auto", fw.cpu_flags(board.cpu))
    except KilnError as exc:
        kiln_scons.fail(str(exc))
    # A CPU without an optimized set (cortex-m3) measures its portable image alone.
    builds = (("portable", None),) if optimized == "portable" else \
        (("portable", None), (optimized, None), (optimized, "size"))
    pairs, elfs = [], []
    own = kiln_scons.tflite_path(str(env.get("TFLITE", "") or ""))
    # TFLITE= benchmarks that one file, written beside its firmware; else the benchmark networks.
    chosen = [(f"tflite:{own.stem}", File(str(own)), own)] if own else \
        [(f"{net}:{variant}", env.KilnModels(net, variants=[variant])[variant][0], None)
         for net, variant in bench.ALL if net in registry.nets()]
    other = board.name if board.name != boards.emulated()[0] else None
    out = paths.tflite_bench_json(board.name, own) if own else paths.bench_json(other)
    for key, tflite, own_file in chosen:
        net, variant = key.split(":", 1)
        images = [env.KilnFirmware(board.name, net, variant, tflite, kernels=k, own=own_file,
                                   optimize=o)["elf"]
                  for k, o in builds]
        elfs += images
        pairs.append(f"{key}=" + ",".join(str(i[0] if isinstance(i, list) else i) for i in images))
    label = f"  BENCH {board.name}: {out.relative_to(ROOT)}"
    node = env.Alias("kiln-bench-run", elfs, kiln_scons.action(_bench_action, label),
                     KILN_BENCH_PAIRS=pairs, KILN_BENCH_BOARD=board.name, KILN_BENCH_KERNELS=optimized,
                     KILN_BENCH_OUT=str(out))
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
