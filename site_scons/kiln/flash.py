"""Programming a board: which programmer to use and its command line, from
the [flash] section of the board's board.toml. No SCons here.

An emulated board is "flashed" by booting it in QEMU: that is host/emulate.py,
which the flash tool runs as a child (the build library never imports host/).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from kiln.boards import Board
from kiln.errors import KilnError

#: PROGRAMMER= values and their executables, in the order tried by default.
PROGRAMMERS = {"cubeprogrammer": "STM32_Programmer_CLI", "openocd": "openocd"}


def find_programmer(requested: str = "", path: str | None = None,
                    board: Board | None = None) -> tuple[str, str]:
    """(name, executable path) of the programmer to use; `path` is the PATH to
    search (default: the process's); with `board`, only the programmers its
    [flash] section has settings for."""
    if requested and requested not in PROGRAMMERS:
        raise KilnError(f"unknown PROGRAMMER '{requested}': valid values are "
                        f"{', '.join(PROGRAMMERS)} (or leave it empty for the first found)")
    candidates = list(PROGRAMMERS)
    if board is not None:
        candidates = supported(board)
        if not candidates:
            raise KilnError(f"board {board.name} cannot be flashed: {board.toml} has no [flash] "
                            "section (openocd_interface/openocd_target or cubeprogrammer_port; "
                            "docs/adding-a-board.md)")
        if requested and requested not in candidates:
            raise KilnError(f"PROGRAMMER={requested}: the [flash] section of {board.toml} has no "
                            f"settings for it: use PROGRAMMER={candidates[0]}")
    for name in [requested] if requested else candidates:
        exe = shutil.which(PROGRAMMERS[name], path=path)
        if exe:
            return name, exe
    if requested or len(candidates) == 1:
        requested = requested or candidates[0]
        raise KilnError(f"PROGRAMMER={requested}: {PROGRAMMERS[requested]} not found on PATH: "
                        + _install_hint(requested))
    raise KilnError("no board programmer found on PATH: " + _install_hint("openocd") + "; or "
                    + _install_hint("cubeprogrammer"))


def _install_hint(name: str) -> str:
    if name == "openocd":
        return "install openocd with 'apt-get install openocd' (or run toolchain/setup)"
    return ("install STM32CubeProgrammer from st.com and put its bin/ folder "
            "(STM32_Programmer_CLI) on PATH")


def supported(board: Board) -> list[str]:
    """The PROGRAMMER= values the board's [flash] section gives settings for."""
    fl = board.flash
    if fl is None:
        return []
    return [name for name, ok in (("cubeprogrammer", bool(fl.cubeprogrammer_port)),
                                  ("openocd", bool(fl.openocd_target))) if ok]


def command(programmer: str, exe: str, elf: Path, board: Board) -> list[str]:
    """The command line that writes `elf`, verifies it and resets the board."""
    fl = board.flash
    if programmer == "openocd":
        if fl is None or not fl.openocd_target:
            raise KilnError(f"board {board.name} has no openocd_target in the [flash] section "
                            f"of {board.toml}")
        iface = fl.openocd_interface or "interface/stlink.cfg"
        return [exe, "-f", iface, "-f", fl.openocd_target, "-c", f"program {elf} verify reset exit"]
    if programmer == "cubeprogrammer":
        if fl is None or not fl.cubeprogrammer_port:
            raise KilnError(f"board {board.name} has no cubeprogrammer_port in the [flash] section "
                            f"of {board.toml}")
        return [exe, "-c", f"port={fl.cubeprogrammer_port}", "-w", str(elf), "-v", "-rst"]
    raise KilnError(f"unknown programmer '{programmer}'")
