"""Programming a board: which programmer to use, its command lines (attach
under reset, read the option bytes, write and verify the ELF), and what to
tell the user when the board is not ready for Kiln's image or the probe
cannot attach. Settings come from the [flash] section of the board's
board.toml. No SCons here.

An emulated board is "flashed" by booting it in QEMU: that is host/emulate.py,
which the flash tool runs as a child (the build library never imports host/).
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kiln.boards import Board
from kiln.errors import KilnError

#: PROGRAMMER= values and their executables, in the order tried by default.
PROGRAMMERS = {"cubeprogrammer": "STM32_Programmer_CLI", "openocd": "openocd"}

#: openocd: assert the probe's reset line while attaching, so a core asleep in
#: WFI (Kiln's firmware between bytes), halted, or running another program with
#: its debug pins reconfigured still attaches. srst_nogate: the ST-LINK can
#: talk SWD while the reset line is held.
OPENOCD_CONNECT_UNDER_RESET = "reset_config srst_only srst_nogate connect_assert_srst"
#: STM32_Programmer_CLI: connect under reset, then a hardware reset (the NRST line).
CUBE_CONNECT_UNDER_RESET = ("mode=UR", "reset=HWrst")

#: What to try when the programmer failed twice.
ATTACH_ADVICE = ("Try: hold the board's RESET button, start `scons flash` again and release RESET as soon "
                 "as the programmer prints its first line; check that the USB cable carries data and is "
                 "plugged into the board's ST-LINK USB connector (`lsusb` lists an STMicroelectronics "
                 "ST-LINK); update the ST-LINK's firmware (STM32CubeProgrammer: Firmware upgrade)")

#: Output that says the probe itself was not found (as opposed to the chip not answering it).
_NO_PROBE = re.compile(r"open failed|no st-?link|no debug probe|unable to (?:find|open) .*(?:device|probe)",
                       re.I)
#: Output that says the probe was found but could not attach to the chip.
_NO_TARGET = re.compile(r"init mode failed|unable to connect|no stm32 target|dev_target|target voltage|"
                        r"examination failed|failed to read memory", re.I)


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


def tcl_word(text: str) -> str:
    """`text` as one word of openocd's Tcl: in braces, so spaces, `$` and `[` stay literal.

    openocd's `program` wraps its file name in braces again and evaluates it, so
    a brace or a backslash in the name could not survive either way: refused.
    """
    if any(c in text for c in "{}\\"):
        raise KilnError(f"{text}: openocd cannot take a file name with a brace or a backslash "
                        "(its program command evaluates the name as Tcl): build in a folder "
                        "without them, or use PROGRAMMER=cubeprogrammer")
    return "{" + text + "}"


def _openocd_base(exe: str, board: Board) -> list[str]:
    fl = board.flash
    if fl is None or not fl.openocd_target:
        raise KilnError(f"board {board.name} has no openocd_target in the [flash] section of {board.toml}")
    argv = [exe, "-f", fl.openocd_interface or "interface/stlink.cfg", "-f", fl.openocd_target]
    if fl.connect_under_reset:
        # After the target config, whose own reset_config this completes.
        argv += ["-c", OPENOCD_CONNECT_UNDER_RESET]
    return argv


def openocd_connect_args(board: Board) -> list[str]:
    """openocd's `-f interface -f target [-c reset_config ...]` for the board (also `scons debug`'s)."""
    return _openocd_base("openocd", board)[1:]


def _cube_base(exe: str, board: Board) -> list[str]:
    fl = board.flash
    if fl is None or not fl.cubeprogrammer_port:
        raise KilnError(f"board {board.name} has no cubeprogrammer_port in the [flash] section "
                        f"of {board.toml}")
    argv = [exe, "-c", f"port={fl.cubeprogrammer_port}"]
    if fl.connect_under_reset:
        argv += list(CUBE_CONNECT_UNDER_RESET)
    return argv


def command(programmer: str, exe: str, elf: Path, board: Board) -> list[str]:
    """The command line that writes `elf`, verifies it and resets the board."""
    if programmer == "openocd":
        return [*_openocd_base(exe, board), "-c", f"program {tcl_word(str(elf))} verify reset exit"]
    if programmer == "cubeprogrammer":
        # Its own argument: no shell and no Tcl between the path and the programmer.
        return [*_cube_base(exe, board), "-w", str(elf), "-v", "-rst"]
    raise KilnError(f"unknown programmer '{programmer}'")


# ---- option bytes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class OptionCheck:
    """How to read and judge one chip family's option bytes."""

    #: openocd commands (after init) that print the option registers, "Option Register: <addr> = value".
    openocd: tuple[str, ...]
    #: The option register offsets (from the flash interface's base) those commands read, by name.
    openocd_registers: dict[str, int]
    #: Decodes {register name: value} into {option byte name: value}.
    decode: Callable[[dict[str, int]], dict[str, int]]
    #: The option bytes STM32_Programmer_CLI's `-ob displ` lists, by the names it prints.
    cube_fields: tuple[str, ...]
    #: {option byte: value} -> what is wrong with them, one sentence each, with the fix.
    problems: Callable[[dict[str, int]], list[str]]


#: STM32_Programmer_CLI's connection for option-byte changes: hot plug, since a
#: board running a TrustZone demo may refuse a connection under reset.
_CUBE_OB = "STM32_Programmer_CLI -c port=SWD mode=HotPlug -ob"


def _u5_decode(regs: dict[str, int]) -> dict[str, int]:
    """FLASH_OPTR (RM0456 FLASH option register): RDP[7:0], nSWBOOT0 bit 26,
    nBOOT0 bit 27, TZEN bit 31; FLASH_NSBOOTADD0R: NSBOOTADD0 in bits [31:7]."""
    out = {}
    if "OPTR" in regs:
        optr = regs["OPTR"]
        out.update(RDP=optr & 0xFF, nSWBOOT0=(optr >> 26) & 1, nBOOT0=(optr >> 27) & 1, TZEN=(optr >> 31) & 1)
    if "NSBOOTADD0R" in regs:
        out["NSBOOTADD0"] = regs["NSBOOTADD0R"] >> 7
    return out


#: NSBOOTADD0 for the start of the non-secure flash, 0x0800_0000 >> 7.
_U5_FLASH_BOOT = 0x0800_0000 >> 7


def _u5_problems(ob: dict[str, int]) -> list[str]:
    """What in the STM32U5's option bytes stops Kiln's image (TrustZone off, boot from
    0x0800_0000) from running, each with the STM32_Programmer_CLI command that fixes it."""
    out = []
    rdp = ob.get("RDP", 0xAA)
    if ob.get("TZEN") == 1:
        out.append("TrustZone is enabled (option byte TZEN = 1, as ST's TrustZone demos leave it) and "
                   "Kiln's image runs with it off. TZEN goes back to 0 only together with a readout "
                   "protection regression, which erases the flash: raise RDP to level 1, then lower it to "
                   f"0 with TZEN=0: `{_CUBE_OB} RDP=0xDC` then `{_CUBE_OB} RDP=0xAA TZEN=0`")
    elif rdp == 0xCC:
        out.append("readout protection is at level 2 (RDP = 0xCC), which is permanent: this chip "
                   "cannot be reprogrammed over SWD")
    elif rdp != 0xAA:
        out.append(f"readout protection is on (RDP = 0x{rdp:02X}): turn it off, which also erases the "
                   f"flash, with `{_CUBE_OB} RDP=0xAA`")
    if ob.get("nSWBOOT0") == 0 and ob.get("nBOOT0") == 0:
        out.append("the option bytes make it boot from the system bootloader (nSWBOOT0 = 0, nBOOT0 = 0), "
                   f"not from flash: `{_CUBE_OB} nSWBOOT0=1 nBOOT0=1` (BOOT0 then comes from the pin, "
                   "low on this board)")
    boot = ob.get("NSBOOTADD0")
    if boot is not None and boot != _U5_FLASH_BOOT:
        out.append(f"it boots from 0x{boot << 7:08X} (NSBOOTADD0 = 0x{boot:X}), not from the flash at "
                   f"0x08000000: `{_CUBE_OB} NSBOOTADD0=0x{_U5_FLASH_BOOT:X}`")
    return out


#: Option-byte checks by chip family: the `option_bytes` key of a board's [flash] section.
OPTION_CHECKS = {
    "stm32u5": OptionCheck(
        # The flash driver for the U5 is openocd's stm32l4x; bank 0 is the
        # non-secure flash of target/stm32u5x.cfg.
        openocd=("stm32l4x option_read 0 0x40", "stm32l4x option_read 0 0x44"),
        openocd_registers={"OPTR": 0x40, "NSBOOTADD0R": 0x44},
        decode=_u5_decode,
        cube_fields=("RDP", "TZEN", "nSWBOOT0", "nBOOT0", "NSBOOTADD0"),
        problems=_u5_problems,
    ),
}


def option_check(board: Board) -> OptionCheck | None:
    """The board's option-byte check, None when it has none."""
    fl = board.flash
    if fl is None or not fl.option_bytes:
        return None
    if fl.option_bytes not in OPTION_CHECKS:
        raise KilnError(f"{board.toml} [flash]: option_bytes = '{fl.option_bytes}' is not one of "
                        f"{', '.join(OPTION_CHECKS)} (kiln/flash.py OPTION_CHECKS); remove the key to skip "
                        "the check")
    return OPTION_CHECKS[fl.option_bytes]


def option_read_command(programmer: str, exe: str, board: Board) -> list[str] | None:
    """The command line that prints the board's option bytes without changing anything
    (and leaves the board running), None when the board has no check."""
    check = option_check(board)
    if check is None:
        return None
    if programmer == "openocd":
        argv = [*_openocd_base(exe, board), "-c", "init", "-c", "reset halt"]
        for cmd in check.openocd:
            argv += ["-c", cmd]
        return [*argv, "-c", "reset run", "-c", "shutdown"]
    if programmer == "cubeprogrammer":
        return [*_cube_base(exe, board), "-ob", "displ"]
    raise KilnError(f"unknown programmer '{programmer}'")


_OPENOCD_OPTION = re.compile(r"Option Register: <0x([0-9a-fA-F]+)> = 0x([0-9a-fA-F]+)")


def parse_option_bytes(programmer: str, output: str, check: OptionCheck) -> dict[str, int]:
    """{option byte: value} from the programmer's output; empty when it printed none."""
    if programmer == "openocd":
        by_offset = {off: name for name, off in check.openocd_registers.items()}
        regs = {}
        for addr, value in _OPENOCD_OPTION.findall(output):
            name = by_offset.get(int(addr, 16) & 0xFFF)  # the offset, secure alias or not
            if name:
                regs[name] = int(value, 16)
        return check.decode(regs)
    fields = {}
    for name in check.cube_fields:
        m = re.search(rf"^\s*{name}\s*:\s*0x([0-9a-fA-F]+)", output, re.M)
        if m:
            fields[name] = int(m.group(1), 16)
    return fields


# ---- running them ------------------------------------------------------------------------------

#: Runs a command line and returns (exit status, everything it printed).
Runner = Callable[[list[str]], tuple[int, str]]


def run_streaming(argv: list[str], env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run `argv`, echoing its output (stderr merged) as it comes, and return (status, output)."""
    try:
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                errors="replace")
    except OSError as exc:
        return 127, f"cannot run {argv[0]}: {exc}"
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        print(line, end="", flush=True)
        lines.append(line)
    return proc.wait(), "".join(lines)


def _diagnosis(output: str) -> str:
    if _NO_PROBE.search(output):
        return "no ST-LINK was found on USB"
    if _NO_TARGET.search(output):
        return "the ST-LINK could not attach to the chip"
    return "see its output above"


def _twice(programmer: str, argv: list[str], run: Runner, say: Callable[[str], None], what: str) -> str:
    """Run `argv`; when it fails, once more (a board caught mid-reset or asleep often
    answers the second time); when that fails too, a KilnError saying what to try."""
    rc, out = run(argv)
    if rc == 0:
        return out
    say(f"  {programmer} exited with status {rc} ({what}): trying once more")
    rc, out = run(argv)
    if rc == 0:
        return out
    raise KilnError(f"{programmer} exited with status {rc} twice ({what}): {_diagnosis(out)}. "
                    + ATTACH_ADVICE)


def program(programmer: str, exe: str, elf: Path, board: Board, run: Runner,
            say: Callable[[str], None] = print) -> None:
    """Check the board's option bytes where it has a check, then write, verify and reset.

    A board whose option bytes would not run the image stops here, with the
    programmer command that fixes each problem; option bytes the programmer
    did not print are reported and the image is written anyway.
    """
    check = option_check(board)
    read = option_read_command(programmer, exe, board)
    if check is not None and read is not None:
        say("  " + shlex.join(read))
        out = _twice(programmer, read, run, say, "reading the option bytes")
        fields = parse_option_bytes(programmer, out, check)
        if not fields:
            say(f"  warning: {programmer} printed none of {board.name}'s option bytes "
                f"({', '.join(check.cube_fields)}): programming without checking them")
        else:
            problems = check.problems(fields)
            if problems:
                raise KilnError(f"{board.name} is not ready for Kiln's image: " + "; and ".join(problems)
                                + ". Then run `scons flash` again (docs/boards.md, 'First time on the "
                                "bench')")
    argv = command(programmer, exe, elf, board)
    say("  " + shlex.join(argv))
    _twice(programmer, argv, run, say, "programming")


def flash_board(elf: Path, board: Board, requested: str = "", env: dict[str, str] | None = None) -> None:
    """Program a hardware board with `elf` as `scons flash` does: the programmer PROGRAMMER=
    names (`requested`) or the first found on env's PATH, its output echoed as it runs."""
    name, exe = find_programmer(requested, (env or {}).get("PATH"), board)
    # Option bytes first (where the board has a check), then write, verify, reset;
    # each attached under reset, each tried twice before it says what to try.
    program(name, exe, elf, board, run=lambda argv: run_streaming(argv, env),
            say=lambda line: print(line, flush=True))
