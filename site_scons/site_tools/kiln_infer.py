"""SCons tool: `scons infer` and `scons info`, the host side of the board.

    env.KilnInfer(fw, board, net, variant, tflite[, out_dir, flash_first, quiet])  -> [infer.json node]
    env.KilnInfo(fw, board)                         -> [alias node]

Both run `python -m host.infer` as a subprocess: the host reference
(tflite-micro) and the serial link stay out of the SCons process, and the
progress bar reaches the terminal. They honour PORT, BAUD (empty: the board's
default_baud), LIMIT, RESUME and DATASET, LABELS (for a .npy dataset);
VERBOSE=1 prints every link event as it happens. Without PORT, an emulated
board (one with an [emulator] section) boots the firmware in QEMU for the run.
deploy-report runs each variant through KilnInfer too, with its own results
folder, a hardware board flashed with the image first, and one line of output.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import kiln_scons
from kiln import ROOT, boards, child_env
from kiln import firmware as fw
from kiln import flash as programmer
from kiln.errors import KilnError


def _first(node):  # noqa: ANN001, ANN202 - SCons nodes
    """One node from a node, a list or a NodeList."""
    return node[0] if isinstance(node, list | tuple) or hasattr(node, "data") else node


def _link_args(env, board: boards.Board) -> list[str]:  # noqa: ANN001 - SCons Environment
    args = ["--board", board.name, "--baud", str(fw.parse_baud(env.get("BAUD", ""), board))]
    if env.get("PORT"):
        args += ["--port", env["PORT"]]
    return args


def _run_host(what: str, args: list[str]) -> None:
    """Run python -m host.infer with `args` from the repository root."""
    rc = subprocess.call([sys.executable, "-m", "host.infer", *args], cwd=str(ROOT), env=child_env())
    if rc == 130:
        raise KilnError(f"{what} interrupted")
    if rc:
        raise KilnError(f"{what} failed (see the message above)")


def _infer_args(env, board: boards.Board, net: str, variant: str, target, source) -> list[str]:  # noqa: ANN001
    """The runner's arguments from the SCons variables."""
    elf, tflite = str(source[0]), str(source[1])
    args = [*_link_args(env, board), "--net", net, "--variant", variant, "--tflite", tflite,
            "--elf", elf, "--out", os.path.dirname(str(target[0]))]
    limit = str(env.get("LIMIT") or "").strip()  # checked by its SConstruct validator
    if limit:
        args += ["--limit", limit]
    if env.get("RESUME"):  # a BoolVariable: SCons has parsed 1/yes/true already
        args.append("--resume")
    if env.get("DATASET"):
        args += ["--dataset", env["DATASET"]]
    if env.get("VERBOSE"):
        args.append("--verbose")  # print each retry, timeout and reset as it happens
    if env.get("LABELS"):
        args += ["--labels", env["LABELS"]]
    if env.get("OUTPUT"):
        args += ["--output", env["OUTPUT"]]
    if env.get("KILN_INFER_QUIET"):
        args.append("--quiet")
    if env.get("TFLITE"):  # one's own model: hints name TFLITE=, not NET/MODEL
        args += ["--select", f"TFLITE={env['TFLITE']}"]
    else:  # a net.toml there names the network's own test set
        args += ["--net-dir", str(ROOT / "models" / net)]
    return args


def _infer_action(board: boards.Board, net: str, variant: str, flash_first: bool):  # noqa: ANN202
    def infer(target, source, env) -> None:  # noqa: ANN001 - SCons action signature
        if flash_first and not board.emulated:
            # A hardware board runs what was flashed last: this image, from now on.
            programmer.flash_board(Path(str(source[0])).resolve(), board, env.get("PROGRAMMER", ""),
                                   env["ENV"])
        _run_host("infer", _infer_args(env, board, net, variant, target, source))

    return infer


def _info_action(board: boards.Board):  # noqa: ANN202
    def info(target, source, env) -> None:  # noqa: ANN001 - SCons action signature
        args = [*_link_args(env, board), "--info"]
        if source:
            args += ["--elf", str(source[0])]
        _run_host("info", args)

    return info


def _check_values(env, board: boards.Board) -> None:  # noqa: ANN001 - SCons Environment
    """Refuse a bad BAUD while the SConstruct is read, before any build."""
    try:
        fw.parse_baud(env.get("BAUD", ""), board)
    except KilnError as exc:
        kiln_scons.fail(str(exc))


def KilnInfer(env, fw_nodes, board: str, net: str, variant: str, tflite,  # noqa: ANN001, ANN201, N802
              out_dir: str | os.PathLike | None = None, flash_first: bool = False, quiet: bool = False):
    """Run the test set on the board; the target is infer.json beside the ELF, or in `out_dir`.

    `flash_first` programs a hardware board with the ELF before the run (deploy-report runs
    several images in turn); `quiet` prints one line for the run instead of its tables.
    """
    b = kiln_scons.board(board)
    _check_values(env, b)
    elf = _first(fw_nodes["elf"])
    out = os.path.join(str(out_dir) if out_dir else os.path.dirname(str(elf)), "infer.json")
    what = os.path.basename(str(_first(tflite))) if env.get("TFLITE") else f"{net}/{variant}"
    node = env.Command(out, [elf, _first(tflite)],
                       kiln_scons.action(_infer_action(b, net, variant, flash_first),
                                         f"  INFER {board} {what}"),
                       KILN_INFER_QUIET=quiet)
    # Always run; never delete the old results first (RESUME needs infer.jsonl).
    env.AlwaysBuild(node)
    env.Precious(node)
    env.NoCache(node)
    return node


def KilnInfo(env, fw_nodes, board: str):  # noqa: ANN001, ANN201, N802
    """Print what the board runs (INFO as a model view)."""
    b = kiln_scons.board(board)
    _check_values(env, b)
    # The emulator boots the local ELF, so build it first; real hardware runs what was flashed.
    sources = [_first(fw_nodes["elf"])] if b.emulated and not env.get("PORT") else []
    node = env.Alias("kiln-info-run", sources, kiln_scons.action(_info_action(b), f"  INFO  {board}"))
    env.AlwaysBuild(node)
    return node


def generate(env) -> None:  # noqa: ANN001
    """Add KilnInfer and KilnInfo to the environment."""
    env.AddMethod(KilnInfer, "KilnInfer")
    env.AddMethod(KilnInfo, "KilnInfo")


def exists(env) -> bool:  # noqa: ANN001
    """The tool only needs Python."""
    return True
