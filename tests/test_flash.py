"""scons flash: the programmers' command lines (a stand-in programmer on PATH
records every call and prints what a board would), attaching under reset,
the option-byte read and the refusal of a board not ready for the image,
the second attempt and its advice, the choice between programmers, the error
when none is installed, and the emulated board booted in QEMU on a TCP port."""

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


#: Option registers of a board ready for the image, as openocd's `stm32l4x option_read` prints
#: them: FLASH_OPTR with RDP = 0xAA, nSWBOOT0 = nBOOT0 = 1, TZEN = 0; NSBOOTADD0 = 0x0800_0000.
OPENOCD_READY = ("Option Register: <0x40022040> = 0x1feff8aa\n"
                 "Option Register: <0x40022044> = 0x0800007f\n")
#: The same board as STM32_Programmer_CLI's `-ob displ` lists it.
CUBE_READY = ("  Read Out Protection:\n     RDP          : 0xAA (Level 0, no protection)\n"
              "  User Configuration:\n     nSWBOOT0     : 0x1 (BOOT0 taken from PH3/BOOT0 pin)\n"
              "     nBOOT0       : 0x1 (nBOOT0 = 1)\n"
              "     TZEN         : 0x0 (Global TrustZone security disabled)\n"
              "  Boot Configuration:\n     NSBOOTADD0   : 0x100000 (0x8000000)\n")
CONNECT = flash.OPENOCD_CONNECT_UNDER_RESET


def fake(bindir: Path, name: str, option_output: str = "", fail_first: int = 0,
         fail_output: str = "") -> Path:
    """A programmer that appends its arguments to <name>.calls, one per line and a `--`
    line after each call. A call that reads option bytes (openocd's option_read,
    STM32_Programmer_CLI's -ob displ) prints `option_output`; the first `fail_first`
    calls print `fail_output` and fail with status 1; the others succeed."""
    bindir.mkdir(exist_ok=True)
    exe = bindir / name
    calls, count = bindir / f"{name}.calls", bindir / f"{name}.count"
    (bindir / f"{name}.options").write_text(option_output)
    (bindir / f"{name}.fail").write_text(fail_output)
    exe.write_text(f"""#!/bin/sh
printf "%s\\n" "$@" >> "{calls}"
echo -- >> "{calls}"
n=$(($(cat "{count}" 2>/dev/null || echo 0) + 1)); echo $n > "{count}"
if [ $n -le {fail_first} ]; then cat "{bindir}/{name}.fail"; exit 1; fi
case "$*" in *option_read*|*displ*) cat "{bindir}/{name}.options";; esac
""")
    exe.chmod(0o755)
    return calls


def calls_of(calls: Path) -> list[list[str]]:
    """The recorded calls, each as its argument list."""
    out, cur = [], []
    for line in calls.read_text().splitlines():
        if line == "--":
            out.append(cur)
            cur = []
        else:
            cur.append(line)
    return out


def openocd_read(board: boards.Board) -> list[str]:
    """openocd's arguments that read `board`'s option bytes (its check's commands)."""
    check = flash.option_check(board)
    assert board.flash is not None and check is not None
    reads = [a for cmd in check.openocd for a in ("-c", cmd)]
    return ["-f", board.flash.openocd_interface, "-f", board.flash.openocd_target, "-c", CONNECT,
            "-c", "init", "-c", "reset halt", *reads, "-c", "reset run", "-c", "shutdown"]


def openocd_program(board: boards.Board, elf: Path) -> list[str]:
    assert board.flash is not None
    return ["-f", board.flash.openocd_interface, "-f", board.flash.openocd_target, "-c", CONNECT,
            "-c", f"program {{{elf}}} verify reset exit"]


def scons_flash(bindir: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ['PATH']}")
    return run_scons("flash", "MODEL=ptq", *args, env=env, check=False)


def test_openocd_reads_option_bytes_then_programs_under_reset(tmp_path):
    calls = fake(tmp_path / "bin", "openocd", OPENOCD_READY)
    proc = scons_flash(tmp_path / "bin", f"BOARD={HW.name}", "PROGRAMMER=openocd")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    expected = [openocd_program(HW, ELF)]
    if flash.option_check(HW) is not None:  # the U585: its option bytes are read first
        expected.insert(0, openocd_read(HW))
    assert calls_of(calls) == expected
    assert "warning" not in proc.stdout
    assert ELF.is_file()  # built if needed


@pytest.mark.skipif("cubeprogrammer" not in flash.supported(HW), reason="no CubeProgrammer settings")
def test_cubeprogrammer_is_preferred_and_connects_under_reset(tmp_path):
    cube = fake(tmp_path / "bin", "STM32_Programmer_CLI", CUBE_READY)
    ocd = fake(tmp_path / "bin", "openocd")
    proc = scons_flash(tmp_path / "bin", f"BOARD={HW.name}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    connect = ["-c", f"port={HW.flash.cubeprogrammer_port}", "mode=UR", "reset=HWrst"]
    expected = [[*connect, "-w", str(ELF), "-v", "-rst"]]
    if flash.option_check(HW) is not None:
        expected.insert(0, [*connect, "-ob", "displ"])
    assert calls_of(cube) == expected
    assert not ocd.exists()


U585 = boards.load("b_u585i_iot02a")


@pytest.mark.parametrize("programmer, output, words", [
    ("openocd", OPENOCD_READY.replace("0x1feff8aa", "0x9feff8aa"),
     ["TZEN = 1", "`STM32_Programmer_CLI -c port=SWD mode=HotPlug -ob RDP=0xDC` then "
      "`STM32_Programmer_CLI -c port=SWD mode=HotPlug -ob RDP=0xAA TZEN=0`"]),
    ("cubeprogrammer", CUBE_READY.replace("nBOOT0       : 0x1", "nBOOT0       : 0x0")
     .replace("nSWBOOT0     : 0x1", "nSWBOOT0     : 0x0"),
     ["system bootloader", "`STM32_Programmer_CLI -c port=SWD mode=HotPlug -ob nSWBOOT0=1 nBOOT0=1`"]),
])
def test_a_board_not_ready_is_refused_with_the_command_that_fixes_it(tmp_path, programmer, output, words):
    calls = fake(tmp_path / "bin", flash.PROGRAMMERS[programmer], output)
    proc = scons_flash(tmp_path / "bin", f"BOARD={U585.name}", f"PROGRAMMER={programmer}")
    assert proc.returncode != 0
    err = proc.stderr
    assert "b_u585i_iot02a is not ready for Kiln's image" in err and "First time on the bench" in err
    for w in words:
        assert w in err, err
    assert len(calls_of(calls)) == 1  # read, refused, nothing written
    assert "Traceback" not in proc.stdout + proc.stderr


def test_option_byte_problems_and_fixes():
    check = flash.OPTION_CHECKS["stm32u5"]
    ready = flash.parse_option_bytes("cubeprogrammer", CUBE_READY, check)
    assert ready == {"RDP": 0xAA, "TZEN": 0, "nSWBOOT0": 1, "nBOOT0": 1, "NSBOOTADD0": 0x100000}
    assert flash.parse_option_bytes("openocd", OPENOCD_READY, check) == ready
    # openocd names the secure alias of the registers when TrustZone is on: the offset still tells them
    assert flash.parse_option_bytes("openocd", OPENOCD_READY.replace("<0x4002", "<0x5002"), check) == ready
    assert check.problems(ready) == []
    [rdp] = check.problems({**ready, "RDP": 0xBB})
    assert "RDP = 0xBB" in rdp and "-ob RDP=0xAA`" in rdp
    assert "permanent" in check.problems({**ready, "RDP": 0xCC})[0]
    [boot] = check.problems({**ready, "NSBOOTADD0": 0x17F200})
    assert "0x0BF90000" in boot and "-ob NSBOOTADD0=0x100000`" in boot
    assert check.problems({**ready, "nSWBOOT0": 0}) == []  # nBOOT0 = 1 still boots from flash
    assert flash.parse_option_bytes("openocd", "Error: open failed\n", check) == {}


def test_unreadable_option_bytes_warn_and_program(tmp_path):
    calls = fake(tmp_path / "bin", "openocd", "")  # prints no option register
    proc = scons_flash(tmp_path / "bin", f"BOARD={U585.name}", "PROGRAMMER=openocd")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "warning: openocd printed none of b_u585i_iot02a's option bytes" in proc.stdout
    assert calls_of(calls)[-1] == openocd_program(U585, elf_of(U585))


def test_a_failed_attach_is_tried_once_more(tmp_path):
    calls = fake(tmp_path / "bin", "openocd", OPENOCD_READY, fail_first=1,
                 fail_output="Error: init mode failed (unable to connect to the target)")
    proc = scons_flash(tmp_path / "bin", f"BOARD={U585.name}", "PROGRAMMER=openocd")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "openocd exited with status 1 (reading the option bytes): trying once more" in proc.stdout
    assert calls_of(calls) == [openocd_read(U585), openocd_read(U585), openocd_program(U585, elf_of(U585))]


def test_no_programmer_says_what_to_install(tmp_path):
    with pytest.raises(KilnError, match="apt-get install openocd.*STM32CubeProgrammer"):
        flash.find_programmer("", path=str(tmp_path))
    with pytest.raises(KilnError, match="unknown PROGRAMMER 'jlink'"):
        flash.find_programmer("jlink", path=str(tmp_path))
    with pytest.raises(KilnError, match="PROGRAMMER=cubeprogrammer: STM32_Programmer_CLI not found"):
        flash.find_programmer("cubeprogrammer", path=str(tmp_path))


@pytest.mark.parametrize("output, diagnosis", [
    ("Error: open failed", "no ST-LINK was found on USB"),
    ("Error: init mode failed (unable to connect to the target)", "the ST-LINK could not attach to the chip"),
])
def test_failing_programmer_says_what_to_try(tmp_path, output, diagnosis):
    calls = fake(tmp_path / "bin", "openocd", OPENOCD_READY, fail_first=99, fail_output=output)
    proc = scons_flash(tmp_path / "bin", f"BOARD={HW.name}", "PROGRAMMER=openocd")
    assert proc.returncode != 0
    err = proc.stderr
    assert "openocd exited with status 1 twice" in err and diagnosis in err
    for advice in ("hold the board's RESET button", "USB cable", "ST-LINK's firmware"):
        assert advice in err, err
    assert len(calls_of(calls)) == 2  # one attempt and the second: nothing else
    assert "Traceback" not in proc.stdout + proc.stderr


def test_openocd_file_names_are_quoted_for_tcl():
    assert flash.tcl_word("/tmp/a b/$x [y].elf") == "{/tmp/a b/$x [y].elf}"
    for bad in ("/tmp/{x}/f.elf", "C:\\fw.elf"):
        with pytest.raises(KilnError, match="brace or a backslash"):
            flash.tcl_word(bad)


@pytest.mark.skipif(not have("openocd"), reason="openocd not installed (toolchain/setup)")
def test_installed_openocd_reads_a_quoted_path_as_one_word():
    path = "/tmp/kiln build/$HOME [1]/firmware.elf"
    proc = subprocess.run(["openocd", "-c", f"echo {flash.tcl_word(path)}", "-c", "shutdown"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert path in (proc.stdout + proc.stderr).splitlines()


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
    calls = fake(tmp_path / "bin", "openocd", OPENOCD_READY)
    proc = scons_flash(tmp_path / "bin", f"BOARD={board}", "PROGRAMMER=openocd")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    recorded = calls_of(calls)
    assert recorded[-1] == ["-f", "interface/stlink.cfg", "-f", OPENOCD_TARGETS[board], "-c", CONNECT,
                            "-c", f"program {{{elf_of(b)}}} verify reset exit"]
    assert all(["-c", CONNECT] == call[4:6] for call in recorded)  # every attach is under reset


@pytest.mark.skipif(not have("openocd"), reason="openocd not installed (toolchain/setup)")
@pytest.mark.parametrize("board", boards.hardware())
def test_installed_openocd_reads_each_boards_configs(board):
    """The real openocd parses the board's interface and target configs, the
    connect-under-reset setting and (where the board has one) knows the
    option-byte command (and stops before touching any adapter)."""
    b = boards.load(board)
    fl = b.flash
    if fl is None or not fl.openocd_target:
        pytest.skip(f"{board} is not flashed with openocd")
    check = flash.option_check(b)
    helps = [a for cmd in (check.openocd if check else ()) for a in ("-c", f"help {cmd.rsplit(' ', 2)[0]}")]
    proc = subprocess.run(["openocd", *flash.openocd_connect_args(b), *helps, "-c", "shutdown"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout + proc.stderr
    assert "shutdown command invoked" in out
    assert "connect_assert_srst" in out  # reset_config echoes the mode it now has
    if check:
        assert "option_read bank_id reg_offset" in out
