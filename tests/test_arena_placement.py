"""The arena in a board's fast RAM (`arena_region`, kiln.placement): the
STM32F746's DTCM takes it when it fits, startup zeroes it there, other boards
keep it in .bss; a bad arena_region is refused when board.toml is read."""

import shutil
import subprocess
from dataclasses import replace

import pytest
from elftools.elf.elffile import ELFFile
from kiln import boards, paths, placement, registry
from kiln import firmware as fw
from kiln.errors import KilnError
from support import have, run_scons

WITH_ARENA_REGION = [n for n in boards.names() if boards.load(n).arena_region]
WITHOUT = [n for n in boards.hardware() if not boards.load(n).arena_region]


def symbols(elf) -> dict[str, tuple[int, int]]:
    """name -> (address, size) of every symbol of the ELF."""
    with open(elf, "rb") as fh:
        tab = ELFFile(fh).get_section_by_name(".symtab")
        return {s.name: (s["st_value"], s["st_size"]) for s in tab.iter_symbols() if s.name}


def test_the_f7_puts_its_arena_in_dtcm():
    assert "stm32f746g_disco" in WITH_ARENA_REGION
    assert boards.load("stm32f746g_disco").arena_region == "DTCM"


@pytest.mark.parametrize("board", WITH_ARENA_REGION)
def test_linker_block_places_the_arena_only_when_it_fits(board):
    b = boards.load(board)
    region = next(r for r in b.regions if r.name == b.arena_region)
    fits = placement.linker_block(b, region.length)
    assert f"*({placement.ARENA_SECTION})" in fits and f"> {region.name}" in fits
    assert "__arena_bss_start" in fits and "__arena_bss_end" in fits
    for size in (region.length + 1, None):
        stays = placement.linker_block(b, size)
        assert "SECTIONS" not in stays and "stays in RAM" in stays
    assert placement.linker_block(replace(b, arena_region=""), 64) == ""
    # the block comes before the common sections, whose .bss would take the arena first
    script = fw.linker_script(b, 1024, 64)
    assert script.index(placement.ARENA_SECTION) < script.index("INCLUDE sections.ld")


def test_arena_region_must_name_a_ram_region(tmp_path, monkeypatch):
    src = boards.load(WITH_ARENA_REGION[0])
    shutil.copytree(src.dir, tmp_path / "copy")
    shutil.copytree(src.dir.parent / "common", tmp_path / "common")  # its shared ../common sources
    toml = tmp_path / "copy" / "board.toml"
    text = toml.read_text()
    monkeypatch.setattr(boards, "BOARDS_DIR", tmp_path)
    assert boards.load("copy").arena_region == src.arena_region
    toml.write_text(text.replace(f'arena_region = "{src.arena_region}"', 'arena_region = "FLASH"'))
    with pytest.raises(KilnError, match="arena_region 'FLASH' must name a ram region"):
        boards.load("copy")


@pytest.mark.slow
@pytest.mark.skipif(not have("arm-none-eabi-gcc"), reason="arm-none-eabi-gcc not installed (toolchain/setup)")
@pytest.mark.parametrize("board", WITH_ARENA_REGION + WITHOUT)
def test_the_built_arena_lands_where_the_board_says(board):
    b = boards.load(board)
    run_scons("-j2", f"BOARD={board}", "MODEL=ptq")
    kernels = fw.resolve_kernels("auto", fw.cpu_flags(b.cpu))
    elf = paths.firmware_elf(board, registry.DEFAULT_NET, "ptq", kernels)
    syms = symbols(elf)
    addr, size = syms[placement.ARENA_SYMBOL]
    start, end = syms["__arena_bss_start"][0], syms["__arena_bss_end"][0]
    if b.arena_region:
        assert b.region_of(addr).name == b.arena_region
        assert start <= addr and addr + size <= end  # zeroed by startup.c
    else:
        assert b.region_of(addr).name == "RAM"
        assert start == end == 0
        assert syms["__bss_start"][0] <= addr < syms["__bss_end"][0]
    nm = subprocess.run(["arm-none-eabi-nm", str(elf)], capture_output=True, text=True, check=True).stdout
    assert " kiln_arena" in nm
