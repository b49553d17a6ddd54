"""scons flash: the programmer command line (a fake programmer on PATH
records it), the choice between programmers, the error when none is
installed, and the emulated board booted in QEMU on a TCP port."""

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import serial
from kiln import boards, flash, paths, registry
from kiln import firmware as fw
from kiln.errors import KilnError
from support import NICE, ROOT, SCONS, have, run_scons

from host import protocol as p

pytestmark = pytest.mark.skipif(not have("arm-none-eabi-gcc"),
                                reason="arm-none-eabi-gcc not installed (toolchain/setup)")

#: A hardware board the registry says openocd can program (the default one when it can).
FLASHABLE = sorted(boards.hardware(), key=lambda n: n != registry.DEFAULT_BOARD)
HW = boards.load(next(n for n in FLASHABLE if "openocd" in flash.supported(boards.load(n))))
EMULATED = boards.load(boards.emulated()[0])


def elf_of(board: boards.Board) -> Path:
    """The ptq image of `board` with its default kernels."""
    kernels = fw.resolve_kernels("auto", fw.cpu_flags(board.cpu))
    return paths.firmware_elf(board.name, registry.DEFAULT_NET, "ptq", kernels)


ELF = elf_of(HW)


def fake(bindir: Path, name: str) -> Path:
    """A programmer that records its arguments, one per line, and succeeds."""
    bindir.mkdir(exist_ok=True)
    exe = bindir / name
    exe.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{bindir}/{name}.argv"\n')
    exe.chmod(0o755)
    return bindir / f"{name}.argv"


def scons_flash(bindir: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ['PATH']}")
    return run_scons("flash", "MODEL=ptq", *args, env=env, check=False)


def test_openocd_programs_verifies_and_resets(tmp_path):
    argv_file = fake(tmp_path / "bin", "openocd")
    proc = scons_flash(tmp_path / "bin", f"BOARD={HW.name}", "PROGRAMMER=openocd")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert HW.flash is not None  # the command line is the board.toml's [flash] settings
    assert argv_file.read_text().splitlines() == [
        "-f", HW.flash.openocd_interface, "-f", HW.flash.openocd_target,
        "-c", f"program {ELF} verify reset exit"]
    assert ELF.is_file()  # built if needed


@pytest.mark.skipif("cubeprogrammer" not in flash.supported(HW), reason="no CubeProgrammer settings")
def test_cubeprogrammer_is_preferred_when_found(tmp_path):
    cube = fake(tmp_path / "bin", "STM32_Programmer_CLI")
    ocd = fake(tmp_path / "bin", "openocd")
    proc = scons_flash(tmp_path / "bin", f"BOARD={HW.name}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert cube.read_text().splitlines() == ["-c", f"port={HW.flash.cubeprogrammer_port}", "-w", str(ELF),
                                             "-v", "-rst"]
    assert not ocd.exists()


def test_no_programmer_says_what_to_install(tmp_path):
    with pytest.raises(KilnError, match="apt-get install openocd.*STM32CubeProgrammer"):
        flash.find_programmer("", path=str(tmp_path))
    with pytest.raises(KilnError, match="unknown PROGRAMMER 'jlink'"):
        flash.find_programmer("jlink", path=str(tmp_path))
    with pytest.raises(KilnError, match="PROGRAMMER=cubeprogrammer: STM32_Programmer_CLI not found"):
        flash.find_programmer("cubeprogrammer", path=str(tmp_path))


def test_failing_programmer_fails_the_build(tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "openocd").write_text("#!/bin/sh\necho 'Error: open failed' >&2\nexit 1\n")
    (bindir / "openocd").chmod(0o755)
    proc = scons_flash(bindir, f"BOARD={HW.name}", "PROGRAMMER=openocd")
    assert proc.returncode != 0
    assert "openocd exited with status 1" in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


def test_board_without_flash_settings_is_refused(tmp_path):
    bare = boards.Board(name="bare", dir=tmp_path, cpu=HW.cpu, clock_hz=1, cost_unit="cycles",
                        default_baud=115200, sources=(), regions=HW.regions, stack_bytes=8)
    with pytest.raises(KilnError, match=r"bare cannot be flashed: .* has no \[flash\] section"):
        flash.find_programmer("", path=str(tmp_path), board=bare)


@pytest.mark.skipif(not have("qemu-system-arm"), reason="qemu-system-arm not installed (toolchain/setup)")
def test_emulated_board_boots_in_qemu_on_a_tcp_port():
    assert EMULATED.emulated
    proc = subprocess.Popen([*NICE, SCONS, "-Q", "flash", f"BOARD={EMULATED.name}", "MODEL=ptq"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        url = None
        deadline = time.monotonic() + 600
        lines = []
        while time.monotonic() < deadline and url is None:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            m = re.search(r"PORT=(socket://127\.0\.0\.1:\d+)", line)
            url = m.group(1) if m else None
        assert url, "".join(lines)
        link = serial.serial_for_url(url, timeout=5)
        link.write(p.encode(p.Command.PING, 5, b"flash"))
        dec, frames = p.Decoder(), []
        while not frames and time.monotonic() < deadline:
            frames = dec.feed(link.read(link.in_waiting or 1))
        link.close()
        assert frames[0].type == 0x84 and frames[0].payload == b"flash"
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does
        assert proc.wait(timeout=20) is not None


#: The openocd target config each real board needs, from its chip's family
#: (openocd's tcl/target/: stm32u5x for the STM32U5, stm32l4x for the L4, stm32f7x for the F7).
OPENOCD_TARGETS = {"b_u585i_iot02a": "target/stm32u5x.cfg", "b_l475e_iot01a": "target/stm32l4x.cfg",
                   "stm32f746g_disco": "target/stm32f7x.cfg"}


@pytest.mark.parametrize("board", boards.hardware())
def test_each_real_board_flashes_with_its_openocd_target(board, tmp_path):
    assert board in OPENOCD_TARGETS, "a new real board: add its openocd target config above"
    b = boards.load(board)
    argv_file = fake(tmp_path / "bin", "openocd")
    proc = scons_flash(tmp_path / "bin", f"BOARD={board}", "PROGRAMMER=openocd")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert argv_file.read_text().splitlines() == [
        "-f", "interface/stlink.cfg", "-f", OPENOCD_TARGETS[board],
        "-c", f"program {elf_of(b)} verify reset exit"]


@pytest.mark.skipif(not have("openocd"), reason="openocd not installed (toolchain/setup)")
@pytest.mark.parametrize("board", boards.hardware())
def test_installed_openocd_reads_each_boards_configs(board):
    """The real openocd parses the board's interface and target configs (and
    stops before touching any adapter): the names exist in its scripts."""
    fl = boards.load(board).flash
    if fl is None or not fl.openocd_target:
        pytest.skip(f"{board} is not flashed with openocd")
    proc = subprocess.run(["openocd", "-f", fl.openocd_interface, "-f", fl.openocd_target, "-c", "shutdown"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "shutdown command invoked" in proc.stderr
