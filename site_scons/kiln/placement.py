"""Where the model's arena goes: a board may name a fast RAM region for it
(`arena_region` in board.toml, e.g. the STM32F746's DTCM), and the build puts
it there when it fits, else leaves it with the rest of .bss in RAM. No SCons.

The arena is the generated model's `kiln_arena` (site_scons/kiln/templates/
kiln_model.c.j2), a static array that -fdata-sections puts in its own input
section, `.bss.kiln_arena`: a linker script can place it by name. The output
section for it comes before sections.ld's `.bss`, whose `*(.bss.*)` would
otherwise take it first (ld gives an input section to the first pattern that
matches it, in script order). Startup zeroes it (`__arena_bss_start` to
`__arena_bss_end`, common/startup.c), as it zeroes .bss.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from kiln.boards import Board, Region

#: The arena's symbol in the generated model, and the input section it lands in.
ARENA_SYMBOL = "kiln_arena"
ARENA_SECTION = f".bss.{ARENA_SYMBOL}"


def arena_bytes(objects: Iterable[Path]) -> int | None:
    """The size of `kiln_arena` in the first object defining it, or None."""
    for obj in objects:
        if obj.suffix != ".o" or not obj.is_file():
            continue
        with open(obj, "rb") as fh:
            for sec in ELFFile(fh).iter_sections():
                if not isinstance(sec, SymbolTableSection):
                    continue
                for sym in sec.get_symbol_by_name(ARENA_SYMBOL) or []:
                    if sym["st_shndx"] != "SHN_UNDEF":
                        return int(sym["st_size"])
    return None


def arena_region(board: Board, size: int | None) -> Region | None:
    """The region the arena goes to: the board's arena_region when an arena
    of `size` bytes fits it alone, else None (it stays in .bss, in RAM)."""
    if not board.arena_region or size is None:
        return None
    region = next(r for r in board.regions if r.name == board.arena_region)
    return region if size <= region.length else None


def linker_block(board: Board, size: int | None) -> str:
    """The SECTIONS block that puts the arena in its region, placed before the
    common sections; an explanatory comment alone when it stays in RAM."""
    if not board.arena_region:
        return ""
    region = arena_region(board, size)
    if region is None:
        why = "no arena found" if size is None else f"{size} bytes do not fit {board.arena_region}"
        return f"/* The arena stays in RAM: {why} ({board.arena_region} is {board.name}'s arena_region). */\n"
    return (f"/* The arena ({size} bytes) fits {region.name}: it goes there, not to .bss in RAM. */\n"
            "SECTIONS\n{\n"
            f"    .arena (NOLOAD) : ALIGN(8)\n    {{\n"
            f"        __arena_bss_start = .;\n        *({ARENA_SECTION})\n"
            f"        . = ALIGN(4);\n        __arena_bss_end = .;\n    }} > {region.name}\n}}\n")
