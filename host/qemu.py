"""Boot a Kiln firmware ELF on an emulated board (one with an [emulator]
section in its board.toml) with its UART on a host port.

QEMU always runs with `-icount`: with the board's shift 0, one guest
instruction is one nanosecond of virtual time, so the timer-based
instruction counts the firmware reports are deterministic.

    with Qemu.for_board(board, elf) as q:                # serial on a pty
        port = q.port               # "/dev/pts/N": open it with pyserial
    with Qemu.for_board(board, elf, serial="tcp") as q:
        port = q.port               # "socket://127.0.0.1:PORT": serial_for_url

`port` is a string pyserial's `serial_for_url` accepts either way.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from kiln import boards
from kiln.boards import Board

QEMU = "qemu-system-arm"
_PTY_RE = re.compile(rb"char device redirected to (/dev/pts/\d+)")


class QemuError(Exception):
    """QEMU is missing, did not start, or died; the message says why."""


def qemu_binary() -> str:
    """The qemu-system-arm path, or a QemuError saying what to install."""
    path = shutil.which(QEMU)
    if not path:
        raise QemuError(f"{QEMU} not found on PATH: install it with "
                        "'apt-get install qemu-system-arm' (or run toolchain/setup)")
    return path


def free_tcp_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def command(elf: str | Path, serial_arg: str, machine: str, icount_shift: int = 0,
            extra: list[str] | None = None) -> list[str]:
    """The qemu-system-arm command line that boots `elf` with UART0 on `serial_arg`
    (`extra`: more arguments, e.g. a -plugin)."""
    return [qemu_binary(), "-M", machine, "-icount", f"shift={icount_shift}",
            "-display", "none", "-monitor", "none", "-nodefaults",
            "-serial", serial_arg, "-kernel", str(elf), *(extra or [])]


def default_board() -> Board:
    """The first board with an [emulator] section, or a QemuError."""
    emulated = boards.emulated()
    if not emulated:
        raise QemuError("no emulated board: no board.toml under firmware/boards/ has an [emulator] section")
    return boards.load(emulated[0])


class Qemu:
    """A running QEMU with the firmware's UART0 on a pty or a local TCP port.

    machine: QEMU's -M name (default: the first emulated board's; prefer
    Qemu.for_board). serial: "pty" (fastest, about 20 KB/s) or "tcp"
    (127.0.0.1, `tcp_port` or a free one; about 7 KB/s). Use as a context
    manager or call start() and stop(); stop() is safe to call twice.
    """

    def __init__(self, elf: str | Path, machine: str = "", serial: str = "pty", tcp_port: int | None = None,
                 icount_shift: int = 0, start_timeout: float = 10.0, extra: list[str] | None = None) -> None:
        if serial not in ("pty", "tcp"):
            raise QemuError(f"serial must be 'pty' or 'tcp', not {serial!r}")
        if not machine:
            # No machine given: the first emulated board of the registry, as bench picks it.
            emu = default_board().emulator
            assert emu is not None
            machine, icount_shift = emu.machine, emu.icount_shift
        self.elf = Path(elf)
        self.serial = serial
        self.tcp_port = tcp_port
        self.machine = machine
        self.icount_shift = icount_shift
        self.start_timeout = start_timeout
        self.extra = list(extra or [])
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = ""
        self.argv: list[str] = []

    @classmethod
    def for_board(cls, board: Board, elf: str | Path, **kwargs: object) -> Qemu:
        """A QEMU for `board` as its [emulator] section says (machine, icount shift)."""
        if board.emulator is None:
            raise QemuError(f"board {board.name} is not emulated: {board.toml} has no [emulator] section")
        return cls(elf, board.emulator.machine, icount_shift=board.emulator.icount_shift, **kwargs)

    def start(self) -> str:
        """Boot the ELF; return the port name once the UART is reachable."""
        if not self.elf.is_file():
            raise QemuError(f"firmware {self.elf} not found: build it first (scons BOARD=<board>)")
        if self.serial == "pty":
            return self._start_pty()
        return self._start_tcp()

    def _spawn(self, serial_arg: str) -> subprocess.Popen[bytes]:
        self.argv = command(self.elf, serial_arg, self.machine, self.icount_shift, self.extra)
        # A new session: Ctrl-C in the terminal goes to us, and we stop QEMU.
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        return self.proc

    def _start_pty(self) -> str:
        proc = self._spawn("pty")
        assert proc.stdout is not None
        out = b""
        deadline = time.monotonic() + self.start_timeout
        fd = proc.stdout.fileno()
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    break
                out += chunk
                m = _PTY_RE.search(out)
                if m:
                    self.port = m.group(1).decode()
                    return self.port
            elif proc.poll() is not None:
                break
        self.stop()
        raise QemuError(f"QEMU did not report its pty: {' '.join(self.argv)}\n"
                        + out.decode(errors="replace"))

    def _start_tcp(self) -> str:
        port = self.tcp_port or free_tcp_port()
        proc = self._spawn(f"tcp:127.0.0.1:{port},server=on,wait=off")
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            # A successful connect proves the listener is up; close it at once
            # so the real client can connect (QEMU takes one client at a time).
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    pass
                self.port = f"socket://127.0.0.1:{port}"
                return self.port
            except OSError:
                time.sleep(0.05)
        out = b""
        self.stop()
        if self.proc is not None and self.proc.stdout is not None:
            out = self.proc.stdout.read() or b""
        raise QemuError(f"QEMU did not listen on 127.0.0.1:{port}: {' '.join(self.argv)}\n"
                        + out.decode(errors="replace"))

    def running(self) -> bool:
        """True while QEMU is alive."""
        return self.proc is not None and self.proc.poll() is None

    def wait(self) -> int:
        """Block until QEMU exits (e.g. Ctrl-C); return its exit code."""
        if self.proc is None:
            return 0
        return self.proc.wait()

    def stop(self) -> None:
        """Stop QEMU: SIGTERM, then SIGKILL after 3 s."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def __enter__(self) -> Qemu:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
