"""scons debug: the GDB server's command line for each real board (a fake
openocd on PATH records it), the gdb command printed, the errors a user can
hit (no gdb, port in use, bad GDB_PORT), and, on the emulated board, a real
gdb attaching to QEMU's gdbstub, stopping at main."""

import os
import re
import shlex
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from kiln import boards, debug, flash, paths, registry
from kiln import firmware as fw
from kiln.errors import KilnError
from support import NICE, ROOT, SCONS, have, run_scons

pytestmark = pytest.mark.skipif(not have("arm-none-eabi-gcc"),
                                reason="arm-none-eabi-gcc not installed (toolchain/setup)")

OPENOCD_BOARDS = [n for n in boards.hardware() if "openocd" in flash.supported(boards.load(n))]
EMULATED = boards.load(boards.emulated()[0])
GDB = next((g for g in debug.GDB_NAMES if have(g)), None)


def elf_of(board: boards.Board) -> Path:
    kernels = fw.resolve_kernels("auto", fw.cpu_flags(board.cpu))
    return paths.firmware_elf(board.name, registry.DEFAULT_NET, "ptq", kernels)


def fake(bindir: Path, name: str, body: str = "") -> Path:
    """An executable that records its arguments, one per line, then runs `body`."""
    bindir.mkdir(exist_ok=True)
    exe = bindir / name
    exe.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{bindir}/{name}.argv"\n{body}\n')
    exe.chmod(0o755)
    return bindir / f"{name}.argv"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_port_and_gdb_errors_name_the_fix(tmp_path):
    assert debug.parse_port("") == debug.DEFAULT_PORT
    assert debug.parse_port("4444") == 4444
    for bad in ("x", "80", "70000"):
        with pytest.raises(KilnError, match=f"GDB_PORT={bad} is not a TCP port.*GDB_PORT="):
            debug.parse_port(bad)
    with pytest.raises(KilnError, match="apt-get install gdb-multiarch"):
        debug.find_gdb(path=str(tmp_path))
    fake(tmp_path, "arm-none-eabi-gdb")
    assert debug.find_gdb(path=str(tmp_path)) == "arm-none-eabi-gdb"
    with pytest.raises(KilnError, match="openocd not found on PATH: .*'apt-get install openocd'"):
        debug.openocd_command(boards.load(OPENOCD_BOARDS[0]), 3333, path=str(tmp_path / "empty"))


def test_busy_port_is_refused():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(KilnError, match=f"TCP port {port} is in use.*GDB_PORT={port + 1}"):
            debug.check_port_free(port)
    debug.check_port_free(port)  # free again once closed


# The fast loop takes the first board; the others (each an image of its own to build,
# the same path with another interface and target) run with the slow tests.
@pytest.mark.parametrize("board", [b if i == 0 else pytest.param(b, marks=pytest.mark.slow)
                                   for i, b in enumerate(OPENOCD_BOARDS)])
def test_openocd_serves_gdb_with_the_boards_target(board, tmp_path):
    b = boards.load(board)
    bindir = tmp_path / "bin"
    argv_file = fake(bindir, "openocd")
    fake(bindir, "gdb-multiarch")
    port = free_port()
    env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ['PATH']}")
    proc = run_scons("debug", f"BOARD={board}", "MODEL=ptq", f"GDB_PORT={port}", env=env, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert argv_file.read_text().splitlines() == [
        "-f", b.flash.openocd_interface, "-f", b.flash.openocd_target,
        "-c", flash.OPENOCD_CONNECT_UNDER_RESET,  # attached under reset, as scons flash attaches
        "-c", f"gdb_port {port}", "-c", "init", "-c", "reset halt"]
    attach = f"gdb-multiarch {elf_of(b)} -ex 'target remote localhost:{port}'"
    assert attach in proc.stdout


def test_busy_port_stops_scons_debug_cleanly():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        proc = run_scons("debug", f"BOARD={EMULATED.name}", "MODEL=ptq", f"GDB_PORT={port}", check=False)
    assert proc.returncode != 0
    assert f"TCP port {port} is in use" in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


@pytest.mark.slow
@pytest.mark.skipif(GDB is None, reason="no gdb-multiarch or arm-none-eabi-gdb (toolchain/setup)")
@pytest.mark.skipif(not have("qemu-system-arm"), reason="qemu-system-arm not installed (toolchain/setup)")
def test_gdb_attaches_to_the_emulated_board_and_stops_at_main():
    port = free_port()
    server = subprocess.Popen([*NICE, SCONS, "-Q", "debug", f"BOARD={EMULATED.name}", "MODEL=ptq",
                               f"GDB_PORT={port}"], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        command, lines = None, []
        deadline = time.monotonic() + 600
        while command is None and time.monotonic() < deadline:
            line = server.stdout.readline()
            if not line:
                break
            lines.append(line)
            if re.search(r"-ex 'target remote localhost:\d+'", line):
                command = line.strip()
        assert command, "".join(lines)
        argv = shlex.split(command)
        assert argv[0] in debug.GDB_NAMES and Path(argv[1]) == elf_of(EMULATED)
        gdb = subprocess.run([*argv, "-nx", "-batch", "-ex", "info registers pc", "-ex", "break main",
                              "-ex", "continue", "-ex", "info registers pc"],
                             capture_output=True, text=True, timeout=120)
        out = gdb.stdout + gdb.stderr
        assert gdb.returncode == 0, out
        # Halted at reset: the first PC is the reset vector's target.
        assert re.search(r"^pc\s+0x[0-9a-f]+\s+0x[0-9a-f]+ <Reset_Handler", out, re.M), out
        assert "Breakpoint 1, main ()" in out, out
        assert re.search(r"^pc\s+0x[0-9a-f]+\s+0x[0-9a-f]+ <main>", out, re.M), out
    finally:
        os.killpg(server.pid, signal.SIGINT)  # what Ctrl-C does
        assert server.wait(timeout=20) is not None
    with socket.socket() as s:  # the server is gone: its port is free again
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
