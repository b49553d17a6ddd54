"""Programming a board: which programmer to use and its command line, or,
for an emulated board, booting the image in QEMU. No SCons here."""

from __future__ import annotations

import shutil
import signal
import sys
import threading
from pathlib import Path

from kiln import ROOT
from kiln.boards import Board
from kiln.errors import KilnError

#: PROGRAMMER= values and their executables, in the order tried by default.
PROGRAMMERS = {"cubeprogrammer": "STM32_Programmer_CLI", "openocd": "openocd"}


def find_programmer(requested: str = "", path: str | None = None) -> tuple[str, str]:
    """(name, executable path) of the programmer to use; `path` is the PATH to
    search (default: the process's)."""
    if requested and requested not in PROGRAMMERS:
        raise KilnError(f"unknown PROGRAMMER '{requested}': valid values are "
                        f"{', '.join(PROGRAMMERS)} (or leave it empty for the first found)")
    for name in [requested] if requested else list(PROGRAMMERS):
        exe = shutil.which(PROGRAMMERS[name], path=path)
        if exe:
            return name, exe
    if requested:
        raise KilnError(f"PROGRAMMER={requested}: {PROGRAMMERS[requested]} not found on PATH: "
                        + _install_hint(requested))
    raise KilnError("no board programmer found on PATH: " + _install_hint("openocd") + "; or "
                    + _install_hint("cubeprogrammer"))


def _install_hint(name: str) -> str:
    if name == "openocd":
        return "install openocd with 'apt-get install openocd' (or run toolchain/setup)"
    return ("install STM32CubeProgrammer from st.com and put its bin/ folder "
            "(STM32_Programmer_CLI) on PATH")


def command(programmer: str, exe: str, elf: Path, board: Board) -> list[str]:
    """The command line that writes `elf`, verifies it and resets the board."""
    if programmer == "openocd":
        iface = board.extra.get("openocd_interface", "interface/stlink.cfg")
        target = board.extra.get("openocd_target")
        if not target:
            raise KilnError(f"board {board.name} has no openocd_target in its board.toml")
        return [exe, "-f", iface, "-f", target, "-c", f"program {elf} verify reset exit"]
    if programmer == "cubeprogrammer":
        return [exe, "-c", "port=SWD", "-w", str(elf), "-v", "-rst"]
    raise KilnError(f"unknown programmer '{programmer}'")


def run_emulated(elf: Path, board: Board, port: int | None = None) -> int:
    """Boot `elf` in QEMU with its UART on a local TCP port and stay in the
    foreground until Ctrl-C; return QEMU's exit status (0 on Ctrl-C)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from host.qemu import Qemu, QemuError

    q = Qemu(elf, serial="tcp", tcp_port=port, machine=board.qemu_machine)
    try:
        url = q.start()
    except QemuError as exc:
        raise KilnError(str(exc)) from exc
    print(f"{board.name}: {elf} is running in QEMU ({board.qemu_machine}, -icount shift=0)")
    print(f"  its UART is on {url}")
    print(f"  connect with:  scons info BOARD={board.name} PORT={url}")
    print(f"                 scons infer BOARD={board.name} PORT={url}")
    print("  Ctrl-C stops it.", flush=True)
    # SCons's own SIGINT handler only flags the build as interrupted; it does
    # not stop a running action. Take Ctrl-C (and SIGTERM) ourselves while
    # QEMU runs, where that is possible (the main thread, i.e. without -j).
    stop = threading.Event()
    saved = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            saved[sig] = signal.signal(sig, lambda *_: stop.set())
    try:
        while q.running() and not stop.wait(0.2):
            pass
        return 0 if stop.is_set() else (q.proc.returncode if q.proc else 0)
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
        q.stop()
        print(f"{board.name}: QEMU stopped", flush=True)
