"""Boot a firmware image on an emulated board and keep it running: what
`scons flash` does for a board with an [emulator] section.

    python -m host.emulate --board BOARD ELF [--port TCP_PORT] [--gdb GDB_PORT]

The board's UART is on a local TCP port (printed, with the scons commands
that connect to it) until Ctrl-C or SIGTERM; the exit status is QEMU's, or 0
when stopped that way. With --gdb (what `scons debug` runs), QEMU's gdbstub
listens on that port too, the guest halted before its first instruction, and
the gdb command that attaches is printed.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from kiln import boards, debug
from kiln.boards import Board
from kiln.errors import KilnError

from host.qemu import Qemu, QemuError


def run_emulated(elf: Path, board: Board, port: int | None = None, gdb_port: int | None = None) -> int:
    """Boot `elf` with its UART on a local TCP port and stay in the foreground
    until Ctrl-C; return QEMU's exit status (0 on Ctrl-C). With `gdb_port`,
    QEMU waits halted at reset for gdb on that port."""
    if board.emulator is None:
        raise KilnError(f"board {board.name} is not emulated: {board.toml} has no [emulator] section")
    gdb = ""
    if gdb_port is not None:
        gdb = debug.find_gdb()
        debug.check_port_free(gdb_port)
    extra = debug.qemu_args(gdb_port) if gdb_port is not None else []
    q = Qemu.for_board(board, elf, serial="tcp", tcp_port=port, extra=extra)
    try:
        url = q.start()
    except QemuError as exc:
        raise KilnError(str(exc)) from exc
    state = "is loaded in" if gdb_port is not None else "is running in"
    print(f"{board.name}: {elf} {state} QEMU ({board.emulator.machine}, "
          f"-icount shift={board.emulator.icount_shift})")
    print(f"  its UART is on {url}")
    print(f"  connect with:  scons info BOARD={board.name} PORT={url}")
    print(f"                 scons infer BOARD={board.name} PORT={url}")
    if gdb_port is not None:
        print(f"  halted at reset; its GDB server is on localhost:{gdb_port}. Attach with:")
        print("    " + debug.shell_line(debug.attach_command(gdb, elf, gdb_port)))
    print("  Ctrl-C stops it.", flush=True)
    stop = threading.Event()
    saved = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while q.running() and not stop.wait(0.2):
            pass
        return 0 if stop.is_set() else (q.proc.returncode if q.proc else 0)
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
        q.stop()
        print(f"{board.name}: QEMU stopped", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Command line: --board BOARD ELF [--port N]; 1 on a user-facing error."""
    ap = argparse.ArgumentParser(prog="python -m host.emulate", description=__doc__.split("\n\n")[0])
    ap.add_argument("--board", required=True, help=f"an emulated board: {', '.join(boards.emulated())}")
    ap.add_argument("--port", type=int, help="TCP port for the UART (default: a free one)")
    ap.add_argument("--gdb", type=int, metavar="GDB_PORT",
                    help="serve GDB on this port, halted at reset (what `scons debug` does)")
    ap.add_argument("elf", type=Path)
    args = ap.parse_args(argv)
    try:
        return run_emulated(args.elf.resolve(), boards.load(args.board), args.port, args.gdb)
    except KilnError as exc:
        print(f"emulate: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
