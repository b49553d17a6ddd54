"""Firmware images: both boards build with the real arm-none-eabi-gcc, the
vector table, initial stack pointer and entry point sit where each board's
memory map says, include paths cannot shadow each other, and bad BOARD or a
missing compiler give clear errors."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile
from kiln import ROOT, boards, registry
from kiln import firmware as fw
from kiln.errors import KilnError

SCONS = [str(Path(sys.executable).with_name("scons")), "-Q", "-j2"]
# lower priority: the machine is shared; absolute, so a test PATH cannot hide it
NICE = [shutil.which("nice") or "nice"]
NET = registry.DEFAULT_NET
BOARDS = ("b_u585i_iot02a", "mps2_an505")

pytestmark = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None,
                                reason="arm-none-eabi-gcc not installed (toolchain/setup)")


def scons(*args: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run the project's SConstruct; output is kept for the assertions."""
    proc = subprocess.run([*NICE, *SCONS, *args], cwd=ROOT, capture_output=True, text=True,
                          env=env or os.environ.copy(), timeout=900)
    if check and proc.returncode:
        raise AssertionError(f"scons {' '.join(args)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def out_dir(board: str, variant: str) -> Path:
    return ROOT / "build" / board / NET / variant


@pytest.mark.parametrize("board", BOARDS)
@pytest.mark.parametrize("variant", ["ptq", "float"])
def test_board_builds_every_output(board, variant):
    d = out_dir(board, variant)
    scons(f"BOARD={board}", f"MODEL={variant}")
    for ext in ("elf", "bin", "hex", "map"):
        assert (d / f"firmware.{ext}").stat().st_size > 0, ext
    # Objects of the app and board are rebuilt here so their warnings show:
    # the build must be -Wall -Wextra clean.
    for sub in ("app", "board"):
        shutil.rmtree(d / "obj" / sub, ignore_errors=True)
    proc = scons(f"BOARD={board}", f"MODEL={variant}")
    assert "warning:" not in proc.stdout + proc.stderr
    assert "-mfloat-abi=hard" not in proc.stdout  # quiet unless VERBOSE=1


@pytest.mark.parametrize("board", BOARDS)
@pytest.mark.parametrize("variant", [v for v in registry.VARIANTS if v not in ("ptq", "float")])
def test_every_other_variant_builds(board, variant):
    scons(f"BOARD={board}", f"MODEL={variant}")
    assert (out_dir(board, variant) / "firmware.elf").is_file()


def test_verbose_prints_the_full_command_lines():
    d = out_dir("mps2_an505", "ptq")
    scons("BOARD=mps2_an505", "MODEL=ptq")
    (d / "firmware.elf").unlink()
    proc = scons("BOARD=mps2_an505", "MODEL=ptq", "VERBOSE=1")
    link = next(line for line in proc.stdout.splitlines() if "-o " in line and "firmware.elf" in line)
    for flag in ("-mcpu=cortex-m33", "-mthumb", "-mfpu=fpv5-sp-d16", "-mfloat-abi=hard",
                 "--specs=nano.specs", "-Wl,--gc-sections", "-Wl,-Map="):
        assert flag in link, flag


@pytest.mark.parametrize("board", BOARDS)
def test_vector_table_stack_and_entry_follow_the_memory_map(board):
    b = boards.load(board)
    scons(f"BOARD={board}", "MODEL=ptq")
    flash = next(r for r in b.regions if r.kind == "flash")
    ram = next(r for r in b.regions if r.name == "RAM")
    with open(out_dir(board, "ptq") / "firmware.elf", "rb") as fh:
        elf = ELFFile(fh)
        vectors = elf.get_section_by_name(".vectors")
        assert vectors["sh_addr"] == flash.origin
        words = [int.from_bytes(vectors.data()[i:i + 4], "little") for i in range(0, 8, 4)]
        syms = {s.name: s["st_value"] for s in elf.get_section_by_name(".symtab").iter_symbols()}
        initial_sp, reset = words
        assert initial_sp == syms["__stack_top"]
        assert ram.origin < initial_sp <= ram.origin + ram.length and initial_sp % 8 == 0
        assert reset == syms["Reset_Handler"] | 1  # Thumb bit set
        assert flash.contains(reset & ~1)
        assert elf["e_entry"] & ~1 == syms["Reset_Handler"] & ~1
        text = elf.get_section_by_name(".text")
        assert flash.contains(text["sh_addr"])
        for name in (".data", ".bss", ".stack"):
            assert ram.contains(elf.get_section_by_name(name)["sh_addr"]), name
        # .data is stored in flash and copied at reset
        data = elf.get_section_by_name(".data")
        seg = next(s for s in elf.iter_segments() if s.section_in_segment(data))
        assert flash.contains(seg["p_paddr"])


def test_include_dirs_hold_no_header_twice():
    b = boards.load("b_u585i_iot02a")
    dirs = fw.include_dirs(ROOT / "build" / "x" / "gen", b)
    assert dirs[0].name == "gen" and dirs[-1] == fw.COMMON_DIR
    seen: dict[str, Path] = {}
    for d in dirs[1:]:
        for h in d.rglob("*.h") if d != fw.BOARDS_DIR else d.glob("*.h"):
            rel = h.relative_to(d).as_posix()
            assert rel not in seen, f"{rel} in both {seen[rel]} and {d}"
            seen[rel] = d
    assert "kiln_model.h" not in seen  # only the generated one


def test_unknown_board_lists_the_valid_ones():
    proc = scons("BOARD=nucleo_f401", check=False)
    assert proc.returncode != 0
    assert "unknown BOARD 'nucleo_f401'" in proc.stderr
    for b in BOARDS:
        assert b in proc.stderr


def test_missing_compiler_says_what_to_install(tmp_path):
    env = dict(os.environ, PATH=str(tmp_path))  # an empty PATH: no arm-none-eabi-gcc
    proc = scons("BOARD=mps2_an505", "MODEL=ptq", "firmware", env=env, check=False)
    assert proc.returncode != 0
    assert "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi" in proc.stdout + proc.stderr


def test_bad_board_toml_names_the_problem(tmp_path, monkeypatch):
    monkeypatch.setattr(boards, "BOARDS_DIR", tmp_path)
    bdir = tmp_path / "myboard"
    bdir.mkdir()
    good = (ROOT / "firmware" / "boards" / "mps2_an505" / "board.toml").read_text()
    for f in ("link.ld", "vectors.c", "board.c"):
        (bdir / f).write_text("")
    cases = {
        good.replace('cost_unit = "instructions"', 'cost_unit = "ticks"'): "cost_unit 'ticks' must be one of",
        good.replace("clock_hz = 20_000_000", ""): "missing key 'clock_hz'",
        good.replace('"vectors.c", "board.c"', '"nope.c"'): "source 'nope.c' not found",
        good.replace('kind = "ram"', 'kind = "rom"'): "kind 'rom' must be 'flash' or 'ram'",
        good + "\n[[[": "not valid TOML",
    }
    for text, message in cases.items():
        (bdir / "board.toml").write_text(text)
        with pytest.raises(KilnError, match=re.escape(message)):
            boards.load("myboard")
    (bdir / "board.toml").write_text(good)
    assert boards.load("myboard").clock_hz == 20_000_000
    with pytest.raises(KilnError, match="unknown BOARD 'other': valid values are myboard"):
        boards.load("other")


def test_unknown_cpu_and_kernel_set_are_refused():
    with pytest.raises(KilnError, match=r"no \[cpu.cortex-m7\] table"):
        fw.cpu_flags("cortex-m7")
    with pytest.raises(KilnError, match="unknown KERNELS 'fast'"):
        fw.resolve_kernels("fast", fw.cpu_flags("cortex-m33"))
    assert fw.resolve_kernels("portable", fw.cpu_flags("cortex-m33")) == "portable"
