"""scons flash: the programmer command line (a fake programmer on PATH
records it), the choice between programmers, the error when none is
installed, and the emulated board booted in QEMU on a TCP port."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import serial
from kiln import ROOT, boards, flash, registry
from kiln.errors import KilnError

from host import protocol as p

SCONS = [str(Path(sys.executable).with_name("scons")), "-Q"]
# lower priority: the machine is shared; absolute, so a test PATH cannot hide it
NICE = [shutil.which("nice") or "nice"]
ELF = ROOT / "build" / "b_u585i_iot02a" / registry.DEFAULT_NET / "ptq" / "firmware.elf"


def fake(bindir: Path, name: str) -> Path:
    """A programmer that records its arguments, one per line, and succeeds."""
    bindir.mkdir(exist_ok=True)
    exe = bindir / name
    exe.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{bindir}/{name}.argv"\n')
    exe.chmod(0o755)
    return bindir / f"{name}.argv"


def scons_flash(bindir: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ['PATH']}")
    return subprocess.run([*NICE, *SCONS, "flash", "MODEL=ptq", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)


def test_openocd_programs_verifies_and_resets(tmp_path):
    argv_file = fake(tmp_path / "bin", "openocd")
    proc = scons_flash(tmp_path / "bin", "BOARD=b_u585i_iot02a", "PROGRAMMER=openocd")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert argv_file.read_text().splitlines() == [
        "-f", "interface/stlink.cfg", "-f", "target/stm32u5x.cfg",
        "-c", f"program {ELF} verify reset exit"]
    assert ELF.is_file()  # built if needed


def test_cubeprogrammer_is_preferred_when_found(tmp_path):
    cube = fake(tmp_path / "bin", "STM32_Programmer_CLI")
    ocd = fake(tmp_path / "bin", "openocd")
    proc = scons_flash(tmp_path / "bin")  # default BOARD is the U585
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert cube.read_text().splitlines() == ["-c", "port=SWD", "-w", str(ELF), "-v", "-rst"]
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
    proc = scons_flash(bindir, "BOARD=b_u585i_iot02a", "PROGRAMMER=openocd")
    assert proc.returncode != 0
    assert "openocd exited with status 1" in proc.stdout


def test_emulated_board_boots_in_qemu_on_a_tcp_port():
    assert boards.load("mps2_an505").emulated
    proc = subprocess.Popen([*NICE, *SCONS, "flash", "BOARD=mps2_an505", "MODEL=ptq"], cwd=ROOT,
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
