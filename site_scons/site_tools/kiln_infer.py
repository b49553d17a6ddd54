"""SCons tool: `scons infer` and `scons info`, the host side of the board.

    env.KilnInfer(fw, board, net, variant, tflite)  -> [infer.json node]
    env.KilnInfo(fw, board)                         -> [alias node]

Both run `python -m host.infer` as a subprocess: the host reference
(tflite-micro) and the serial link stay out of the SCons process, and the
progress bar reaches the terminal. They honour PORT, BAUD, LIMIT, RESUME and
DATASET, LABELS (for a .npy dataset); VERBOSE=1
prints every link event as it happens. Without PORT,
BOARD=mps2_an505 boots the firmware in QEMU for the run.
"""

from __future__ import annotations

import os
import subprocess
import sys

from kiln import ROOT, child_env

EMULATED_BOARD = "mps2_an505"


def _first(node):  # noqa: ANN001, ANN202 - SCons nodes
    """One node from a node, a list or a NodeList."""
    return node[0] if isinstance(node, list | tuple) or hasattr(node, "data") else node


def _link_args(env, board: str) -> list[str]:  # noqa: ANN001 - SCons Environment
    args = ["--board", board, "--baud", str(env.get("BAUD") or 921600)]
    if env.get("PORT"):
        args += ["--port", env["PORT"]]
    return args


def _run_host(args: list[str]) -> int:
    """Run python -m host.infer with `args` from the repository root; its exit code."""
    return subprocess.call([sys.executable, "-m", "host.infer", *args], cwd=str(ROOT), env=child_env())


def _infer_args(env, board: str, net: str, variant: str, target, source) -> list[str] | None:  # noqa: ANN001
    """The runner's arguments from the SCons variables; None after printing a bad value."""
    elf, tflite = str(source[0]), str(source[1])
    args = [*_link_args(env, board), "--net", net, "--variant", variant, "--tflite", tflite,
            "--elf", elf, "--out", os.path.dirname(str(target[0]))]
    limit = str(env.get("LIMIT") or "").strip()
    if limit:
        if not limit.isdigit():
            print(f"scons: *** LIMIT={limit} is not a number of samples: use e.g. LIMIT=200", file=sys.stderr)
            return None
        args += ["--limit", limit]
    if str(env.get("RESUME") or "0") not in ("0", "", "no", "false"):
        args.append("--resume")
    if env.get("DATASET"):
        args += ["--dataset", env["DATASET"]]
    if env.get("VERBOSE"):
        args.append("--verbose")  # print each retry, timeout and reset as it happens
    if env.get("LABELS"):
        args += ["--labels", env["LABELS"]]
    return args


def _infer_action(board: str, net: str, variant: str):  # noqa: ANN202
    def action(target, source, env):  # noqa: ANN001, ANN202 - SCons action signature
        args = _infer_args(env, board, net, variant, target, source)
        return 2 if args is None else _run_host(args)

    return action


def _info_action(board: str):  # noqa: ANN202
    def action(target, source, env):  # noqa: ANN001, ANN202 - SCons action signature
        args = [*_link_args(env, board), "--info"]
        if source:
            args += ["--elf", str(source[0])]
        return _run_host(args)

    return action


def KilnInfer(env, fw, board: str, net: str, variant: str, tflite):  # noqa: ANN001, ANN201, N802
    """Run the test set on the board; the target is infer.json beside the ELF."""
    elf = _first(fw["elf"])
    out = os.path.join(os.path.dirname(str(elf)), "infer.json")
    node = env.Command(out, [elf, _first(tflite)],
                       env.Action(_infer_action(board, net, variant), f"  INFER {board} {net}/{variant}"))
    # Always run; never delete the old results first (RESUME needs infer.jsonl).
    env.AlwaysBuild(node)
    env.Precious(node)
    env.NoCache(node)
    return node


def KilnInfo(env, fw, board: str):  # noqa: ANN001, ANN201, N802
    """Print what the board runs (INFO as a model view)."""
    # The emulator boots the local ELF, so build it first; real hardware runs what was flashed.
    sources = [_first(fw["elf"])] if board == EMULATED_BOARD and not env.get("PORT") else []
    node = env.Alias("kiln-info-run", sources, env.Action(_info_action(board), f"  INFO  {board}"))
    env.AlwaysBuild(node)
    return node


def generate(env) -> None:  # noqa: ANN001
    """Add KilnInfer and KilnInfo to the environment."""
    env.AddMethod(KilnInfer, "KilnInfer")
    env.AddMethod(KilnInfo, "KilnInfo")


def exists(env) -> bool:  # noqa: ANN001
    """The tool only needs Python."""
    return True
