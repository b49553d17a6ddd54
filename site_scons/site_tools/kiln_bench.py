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


def kiln_bench(env, board_name: str | None = None) -> list:  # noqa: ANN001
    """Declare three firmware images per benchmark network (portable, optimized, optimized
    in the size layout) and the benchmark run on `board_name` (default: BOARD= when it is
    emulated); with TFLITE=, the images of that file, its figures beside them, and its
    dense image (SPARSE=off) for the layers that run sparse kernels."""
    try:
        board = bench.board_for(board_name or str(env.get("BOARD", "")))
        optimized = fw.resolve_kernels("auto", fw.cpu_flags(board.cpu))
    except KilnError as exc:
        kiln_scons.fail(str(exc))
    # A CPU without an optimized set (cortex-m3) measures its portable image alone.
    builds = (("portable", None),) if optimized == "portable" else \
        (("portable", None), (optimized, None), (optimized, "size"))
    own = kiln_scons.tflite_path(str(env.get("TFLITE", "") or ""))
    # One .tflite may be pruned: its dense image (SPARSE=off) is measured beside it.
    dense = own is not None and optimized != "portable"
    pairs, elfs = [], []
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
        if dense:
            images.append(env.KilnFirmware(board.name, net, variant, tflite, kernels=optimized,
                                           own=own_file, sparse=False)["elf"])
        elfs += images
        pairs.append(f"{key}=" + ",".join(str(i[0] if isinstance(i, list) else i) for i in images))
    label = f"  BENCH {board.name}: {out.relative_to(ROOT)}"
    node = env.Alias(f"kiln-bench-run-{board.name}", elfs, kiln_scons.action(_bench_action, label),
                     KILN_BENCH_PAIRS=pairs, KILN_BENCH_BOARD=board.name, KILN_BENCH_KERNELS=optimized,
                     KILN_BENCH_OUT=str(out))
    env.AlwaysBuild(node)
    return node


def _cores_action(target, source, env) -> None:  # noqa: ANN001 - SCons action signature
    cmd = [sys.executable, "-m", "host.bench_cores", "--out", env["KILN_CORES_OUT"], *env["KILN_CORES_RUNS"]]
    if subprocess.call(cmd, cwd=str(ROOT), env=child_env()):
        raise KilnError("the side-by-side table failed (python -m host.bench_cores; see above)")


def kiln_bench_cores(env) -> list:  # noqa: ANN001
    """The benchmark on every emulated board (each written as `bench` writes it), then
    its networks' instructions per MAC side by side, one column per core."""
    own = kiln_scons.tflite_path(str(env.get("TFLITE", "") or ""))
    runs, outs = [], []
    for name in boards.emulated():
        runs += kiln_bench(env, name)
        other = name if name != boards.emulated()[0] else None
        outs.append(str(paths.tflite_bench_json(name, own) if own else paths.bench_json(other)))
    out = paths.BUILD / "bench_cores.json"
    node = env.Alias("kiln-bench-cores-run", runs,
                     kiln_scons.action(_cores_action, f"  BENCH-CORES {out.relative_to(ROOT)}"),
                     KILN_CORES_RUNS=outs, KILN_CORES_OUT=str(out))
    env.AlwaysBuild(node)
    return node


def generate(env) -> None:  # noqa: ANN001
    """Add KilnBench and KilnBenchCores (and the model and firmware tools they call) to env."""
    env.Tool("kiln_models")
    env.Tool("kiln_firmware")
    env.AddMethod(kiln_bench, "KilnBench")
    env.AddMethod(kiln_bench_cores, "KilnBenchCores")


def exists(env) -> bool:  # noqa: ANN001
    """Always loadable."""
    return True
