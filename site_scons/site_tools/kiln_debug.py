"""SCons tool: env.KilnDebug(fw, board) starts a GDB server for the board
with the firmware (openocd on hardware; on an emulated board QEMU's gdbstub,
through `python -m host.emulate --gdb PORT`) and prints the gdb command that
attaches. It stays in the foreground until Ctrl-C. Logic: kiln/debug.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import kiln_scons
from kiln import ROOT, boards, child_env, debug
from kiln.errors import KilnError


def _debug_action(target, source, env) -> None:  # noqa: ANN001 - SCons signature
    elf = Path(str(source[0])).resolve()
    board = boards.load(env["KILN_DEBUG_BOARD"])
    port = debug.parse_port(env.get("GDB_PORT", ""))
    path = env["ENV"].get("PATH")
    gdb = debug.find_gdb(path)  # before starting anything: the server is useless without it
    debug.check_port_free(port)
    if board.emulated:
        # A child, as for `scons flash`: the build library never imports host/.
        # It prints the gdb command once QEMU listens, and handles Ctrl-C.
        rc = subprocess.call([sys.executable, "-m", "host.emulate", "--board", board.name,
                              "--gdb", str(port), str(elf)], cwd=str(ROOT), env=child_env())
        if rc:
            raise KilnError(f"starting {board.name}'s GDB server in QEMU failed (status {rc}; see above)")
        return
    argv = debug.openocd_command(board, port, path)
    print("  " + debug.shell_line(argv))
    print(f"{board.name}: openocd serves GDB on port {port}, the board halted at reset. Attach with:")
    print("  " + debug.shell_line(debug.attach_command(gdb, elf, port)))
    print("  Ctrl-C stops openocd.", flush=True)
    try:
        rc = subprocess.run(argv, env=env["ENV"], check=False).returncode
    except KeyboardInterrupt:
        return
    if rc:
        raise KilnError(f"openocd exited with status {rc}: is the board plugged in over its "
                        "ST-LINK USB port?")


def kiln_debug(env, fw: dict, board: str):  # noqa: ANN001, ANN201 - SCons nodes
    """An always-run alias that serves fw["elf"] to GDB (building it first)."""
    action = kiln_scons.action(_debug_action, lambda target, source, env: f"  DEBUG {source[0]}")
    node = env.Alias(f"kiln-debug-{board}", [fw["elf"]], action, KILN_DEBUG_BOARD=board)
    env.AlwaysBuild(node)
    return node


def generate(env) -> None:  # noqa: ANN001
    """Add KilnDebug to env."""
    env.AddMethod(kiln_debug, "KilnDebug")


def exists(env) -> bool:  # noqa: ANN001
    """Always available; a missing gdb or server is reported when debugging."""
    return True
