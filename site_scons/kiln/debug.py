"""`scons debug`: a GDB server for the board, and the one gdb command that
attaches to it with the firmware's symbols. No SCons here.

On hardware the server is openocd with the board's [flash] interface and
target configs, halted at reset (`reset halt`). On an emulated board it is
QEMU's gdbstub (`-gdb tcp:127.0.0.1:PORT -S`: halted before the first
instruction), started by host/emulate.py as `scons flash` starts QEMU.
"""

from __future__ import annotations

import errno
import shlex
import shutil
import socket
from pathlib import Path

from kiln import flash
from kiln.boards import Board
from kiln.errors import KilnError

#: gdb builds that debug Arm code, in the order tried: Debian's multi-target
#: gdb, then the Arm GNU toolchain's own.
GDB_NAMES = ("gdb-multiarch", "arm-none-eabi-gdb")
#: openocd's own default GDB port; QEMU is given the same, so one number fits both.
DEFAULT_PORT = 3333
GDB_HINT = ("install gdb-multiarch with 'apt-get install gdb-multiarch' (or run toolchain/setup), "
            "or put the Arm GNU toolchain's arm-none-eabi-gdb on PATH")


def parse_port(text: str) -> int:
    """The GDB_PORT= value (empty: DEFAULT_PORT)."""
    text = str(text or "").strip()
    if not text:
        return DEFAULT_PORT
    if not text.isdigit() or not 1024 <= int(text) <= 65535:
        raise KilnError(f"GDB_PORT={text} is not a TCP port from 1024 to 65535: use e.g. "
                        f"GDB_PORT={DEFAULT_PORT + 1}, or leave it empty for {DEFAULT_PORT}")
    return int(text)


def find_gdb(path: str | None = None) -> str:
    """The name of the first Arm-capable gdb on `path` (default: PATH), or a
    KilnError saying what to install."""
    for name in GDB_NAMES:
        if shutil.which(name, path=path):
            return name
    raise KilnError(f"no gdb for Arm found on PATH ({' or '.join(GDB_NAMES)}): {GDB_HINT}")


def check_port_free(port: int) -> None:
    """A KilnError naming the fix when something already listens on `port`."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # TIME_WAIT leftovers of an earlier session do not count as busy.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("0.0.0.0", port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            raise KilnError(f"TCP port {port} is in use (another debug session or GDB server?): "
                            f"stop it, or pick another port with GDB_PORT={port + 1}") from None


def attach_command(gdb: str, elf: Path, port: int) -> list[str]:
    """The gdb command line that loads the ELF's symbols and attaches."""
    return [gdb, str(elf), "-ex", f"target remote localhost:{port}"]


def shell_line(argv: list[str]) -> str:
    """`argv` quoted for a POSIX shell, to print for the user to paste."""
    return shlex.join(argv)


def qemu_args(port: int) -> list[str]:
    """QEMU arguments for its gdbstub on 127.0.0.1:`port`, halted at reset."""
    return ["-gdb", f"tcp:127.0.0.1:{port}", "-S"]


def openocd_command(board: Board, port: int, path: str | None = None) -> list[str]:
    """The openocd command line that serves GDB on `port` with the board halted
    at reset, from the board's [flash] settings."""
    fl = board.flash
    if fl is None or not fl.openocd_target:
        raise KilnError(f"board {board.name} cannot be debugged: {board.toml} has no openocd_target "
                        "in its [flash] section (docs/adding-a-board.md)")
    exe = shutil.which("openocd", path=path)
    if not exe:
        raise KilnError("openocd not found on PATH: install it with 'apt-get install openocd' "
                        "(or run toolchain/setup)")
    # Attached under reset as `scons flash` attaches (kiln.flash): a core asleep in WFI
    # or running something else still answers.
    return [exe, *flash.openocd_connect_args(board), "-c", f"gdb_port {port}", "-c", "init",
            "-c", "reset halt"]
