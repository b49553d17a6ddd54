"""How a firmware image is put together: compiler flags, include order,
source lists. Pure data for site_tools/kiln_firmware.py (no SCons here)."""

from __future__ import annotations

import re
import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path

from kiln import ROOT, placement
from kiln.boards import Board
from kiln.errors import KilnError

CPUS_TOML = ROOT / "toolchain" / "cpus.toml"
FIRMWARE = ROOT / "firmware"
APP_DIR = FIRMWARE / "app"
RUNTIME_INCLUDE = FIRMWARE / "runtime" / "include"
BOARDS_DIR = FIRMWARE / "boards"
COMMON_DIR = BOARDS_DIR / "common"
#: KERNELS= values: auto, or a kernel set, i.e. a folder of C under firmware/runtime/.
KERNEL_SETS = ("auto", "portable", *sorted(
    d.name for d in (FIRMWARE / "runtime").iterdir()
    if d.is_dir() and d.name != "portable" and any(d.glob("*.c"))))
#: Earlier names of kernel sets, still accepted: the DSP set was "cm33" before the
#: Cortex-M4 and M7 boards ran it too.
KERNEL_ALIASES = {"cm33": "dsp"}
#: OPTIMIZE= values, the weight layouts' goal (kiln.codegen.layout); the first is the default.
OPTIMIZE_GOALS = ("fit", "speed", "size")

TOOLS = {"CC": "arm-none-eabi-gcc", "AS": "arm-none-eabi-gcc", "LINK": "arm-none-eabi-gcc",
         "AR": "arm-none-eabi-ar", "RANLIB": "arm-none-eabi-ranlib",
         "OBJCOPY": "arm-none-eabi-objcopy", "SIZE": "arm-none-eabi-size"}
INSTALL_HINT = ("install the Arm GNU toolchain: 'apt-get install gcc-arm-none-eabi "
                "libnewlib-arm-none-eabi' (or run toolchain/setup)")


@dataclass(frozen=True)
class CpuFlags:
    """Compiler and linker flags for one CPU, with the common release flags."""

    cpu: str
    cpu_flags: tuple[str, ...]
    cflags: tuple[str, ...]
    asflags: tuple[str, ...]
    ldflags: tuple[str, ...]
    defines: tuple[str, ...]
    kernels: str


def cpu_flags(cpu: str, path: Path = CPUS_TOML) -> CpuFlags:
    """The flags of `cpu` from toolchain/cpus.toml."""
    data = tomllib.loads(path.read_text())
    cpus = data.get("cpu", {})
    if cpu not in cpus:
        raise KilnError(f"{path}: no [cpu.{cpu}] table for cpu '{cpu}' "
                        f"(known: {', '.join(sorted(cpus))}): add its flags there")
    common, entry = data.get("common", {}), cpus[cpu]
    return CpuFlags(
        cpu=cpu, cpu_flags=tuple(entry["flags"]),
        cflags=tuple(common.get("optimize", []) + common.get("cflags", [])),
        asflags=tuple(common.get("asflags", [])), ldflags=tuple(common.get("ldflags", [])),
        defines=tuple(common.get("defines", [])), kernels=str(entry.get("kernels", "")),
    )


def cpu_names(path: Path = CPUS_TOML) -> list[str]:
    """The CPUs toolchain/cpus.toml has flags for."""
    return sorted(tomllib.loads(path.read_text()).get("cpu", {}))


def check_toolchain() -> str:
    """The arm-none-eabi-gcc path, or a KilnError saying how to install it."""
    path = shutil.which(TOOLS["CC"])
    if not path:
        raise KilnError(f"{TOOLS['CC']} not found on PATH: {INSTALL_HINT}")
    return path


def include_dirs(gen_dir: Path, board: Board) -> list[Path]:
    """Include paths in their one fixed order, most specific first.

    1. the generated model (kiln_model.h), so a model header cannot be
       shadowed by anything of ours;
    2. the app (frame.h, version.h);
    3. the runtime API (kiln/model.h, kiln/kernels.h);
    4. the board folder (its private headers), then firmware/boards for the
       board interface board.h;
    5. core and device headers (firmware/boards/common/cortexm.h).
    No two of these folders hold a header of the same name, and the test
    suite checks that.
    """
    return [gen_dir, APP_DIR, RUNTIME_INCLUDE, board.dir, BOARDS_DIR, COMMON_DIR]


def resolve_kernels(requested: str, flags: CpuFlags) -> str:
    """The kernel set to build: auto means the CPU's optimized set when its
    folder has sources, else portable. An optimized set the CPU cannot run
    (its cpus.toml table names another set, or none) is refused here, with the
    reason, rather than left to fail in the assembler."""
    requested = KERNEL_ALIASES.get(requested, requested)
    if requested not in KERNEL_SETS:
        raise KilnError(f"unknown KERNELS '{requested}': valid values are {', '.join(KERNEL_SETS)}")
    if requested not in ("auto", "portable") and requested != flags.kernels:
        has = f"its optimized set is {flags.kernels}" if flags.kernels else "it has no optimized set"
        raise KilnError(f"KERNELS={requested}: the {requested} kernels do not run on {flags.cpu} ({has} in "
                        f"toolchain/cpus.toml); use KERNELS=auto or KERNELS=portable")
    if requested != "auto":
        return requested
    if flags.kernels and any((FIRMWARE / "runtime" / flags.kernels).glob("*.c")):
        return flags.kernels
    return "portable"


def runtime_sources(kernels: str) -> list[Path]:
    """Runtime C files: the portable kernels always (the fallback for every
    layer), plus the optimized set when chosen."""
    srcs = sorted((FIRMWARE / "runtime" / "portable").glob("*.c"))
    if kernels != "portable":
        srcs += sorted((FIRMWARE / "runtime" / kernels).glob("*.c"))
    return srcs


def app_sources() -> list[Path]:
    """The protocol app's C files."""
    return sorted(APP_DIR.glob("*.c"))


def board_sources(board: Board) -> list[Path]:
    """The board's C files plus the shared Cortex-M startup."""
    return [COMMON_DIR / "startup.c", *board.sources]


def board_defines(board: Board, baud: int) -> dict[str, str]:
    """Board constants from board.toml, as C macros (see firmware/boards/board.h)."""
    return {"KILN_BOARD_NAME": f'\\"{board.name}\\"', "KILN_BOARD_CPU": f'\\"{board.cpu}\\"',
            "KILN_BOARD_CLOCK_HZ": f"{board.clock_hz}u",
            "KILN_BOARD_COST_UNIT": f'\\"{board.cost_unit}\\"', "KILN_BAUD": f"{baud}u"}


def parse_baud(value: str, board: Board) -> int:
    """The BAUD= value as a number; empty means the board's default_baud."""
    text = str(value or "").strip()
    if not text:
        return board.default_baud
    if not text.isdigit() or int(text) == 0:
        raise KilnError(f"BAUD={text} is not a baud rate: use a number such as BAUD=115200, "
                        f"or leave it empty for {board.name}'s default ({board.default_baud})")
    return int(text)


_OVERFLOW = re.compile(r"region [`'](\w+)' overflowed by (\d+) bytes")


def explain_link_failure(stderr: str, board: Board, optimize: str, kernels: str) -> str:
    """The linker's error, with what to try when the image does not fit a memory region
    (the raw message names only the region and the excess)."""
    over = {}
    for region, excess in _OVERFLOW.findall(stderr):
        over[region] = max(over.get(region, 0), int(excess))
    if not over:
        return f"linking failed:\n{stderr.strip()[-3000:]}"
    kinds = {r.name: r for r in board.regions}
    parts, hints = [], []
    for region, excess in over.items():
        r = kinds.get(region)
        size = f" of {r.length:,} B" if r else ""
        parts.append(f"{region}{size} overflowed by {excess:,} B")
        if r is not None and r.kind == "flash":
            if optimize != "size" and kernels != "portable":
                hints.append("OPTIMIZE=size (int8 weights: about half the weight bytes)")
            hints.append("a smaller model (fewer channels or layers) or a board with more flash")
        else:
            hints.append("a smaller input or fewer channels (the arena), or a board with more RAM")
    return (f"the image does not fit {board.name}: {'; '.join(parts)} "
            f"(OPTIMIZE={optimize}, KERNELS={kernels}; `scons size-report` breaks it down). "
            f"Try {', or '.join(dict.fromkeys(hints))}")


def linker_script(board: Board, stack_bytes: int | None = None, arena_bytes: int | None = None) -> str:
    """The board's linker script: MEMORY from the board.toml regions, the
    stack size (the image's bound from kiln.stackbound; the board's
    stack_bytes, its ceiling, when none is given), the arena's section when the
    board has an arena_region it fits (kiln.placement), the common sections,
    then the board's own sections if any.

    Written into the build folder, so the memory map lives only in board.toml.
    """
    width = max(len(r.name) for r in board.regions)
    lines = [f"/* {board.name}: generated by Kiln from {board.toml.relative_to(ROOT)}; do not edit. */",
             "MEMORY", "{"]
    for r in board.regions:
        attrs = "(rx)" if r.kind == "flash" else "(rwx)"
        lines.append(f"    {r.name:<{width}} {attrs:<5} : "
                     f"ORIGIN = 0x{r.origin:08X}, LENGTH = 0x{r.length:08X}")
    stack = board.stack_bytes if stack_bytes is None else stack_bytes
    lines += ["}", f"KILN_STACK_SIZE = {stack};"]
    block = placement.linker_block(board, arena_bytes)
    if block:
        lines.append(block.rstrip("\n"))
    lines.append("INCLUDE sections.ld")
    if board.linker_sections is not None:
        lines.append(f'INCLUDE "{board.linker_sections}"')
    return "\n".join(lines) + "\n"
