"""Firmware images: both boards build with the real arm-none-eabi-gcc, the
vector table, initial stack pointer and entry point sit where each board's
memory map says, include paths cannot shadow each other, and bad BOARD or a
missing compiler give clear errors."""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile
from kiln import boards, paths, placement, registry
from kiln import firmware as fw
from kiln.errors import KilnError
from support import have, run_scons

NET = registry.DEFAULT_NET
BOARDS = tuple(boards.names())
EMULATED = boards.emulated()[0]

pytestmark = pytest.mark.skipif(not have("arm-none-eabi-gcc"),
                                reason="arm-none-eabi-gcc not installed (toolchain/setup)")


def scons(*args: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run the project's SConstruct (two jobs); output is kept for the assertions."""
    return run_scons("-j2", *args, env=env, check=check)


def kernels_of(board: str, requested: str = "auto") -> str:
    """The kernel set KERNELS=`requested` resolves to on `board`."""
    return fw.resolve_kernels(requested, fw.cpu_flags(boards.load(board).cpu))


def out_dir(board: str, variant: str, kernels: str = "auto") -> Path:
    return paths.firmware_dir(board, NET, variant, kernels_of(board, kernels))


def one_board_per_kernel_set() -> tuple[str, ...]:
    """An emulated board for each kernel set: every board builds ptq below, so the other
    variants only need each set's kernels compiled once."""
    picked: dict[str, str] = {}
    for name in boards.emulated():
        picked.setdefault(kernels_of(name), name)
    return tuple(picked.values())


@pytest.mark.slow
@pytest.mark.parametrize("board, variant", [(b, "ptq") for b in BOARDS]
                         + [(b, "float") for b in one_board_per_kernel_set()])
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


def other_variant_builds() -> list[tuple[str, str]]:
    """The other variants on the dsp board; on the portable one only `dynamic`, the one
    variant whose kernels (hybrid) neither ptq nor float compiles there."""
    others = [v for v in registry.variants("fashion_mnist") if v not in ("ptq", "float")]
    return [(b, v) for b in one_board_per_kernel_set()
            for v in (others if kernels_of(b) != "portable" else ["dynamic"])]


@pytest.mark.slow
@pytest.mark.parametrize("board, variant", other_variant_builds())
def test_every_other_variant_builds(board, variant):
    scons(f"BOARD={board}", f"MODEL={variant}")
    assert (out_dir(board, variant) / "firmware.elf").is_file()


def test_verbose_prints_the_full_command_lines():
    d = out_dir(EMULATED, "ptq")
    scons(f"BOARD={EMULATED}", "MODEL=ptq")
    (d / "firmware.elf").unlink()
    proc = scons(f"BOARD={EMULATED}", "MODEL=ptq", "VERBOSE=1")
    link = next(line for line in proc.stdout.splitlines() if "-o " in line and "firmware.elf" in line)
    for flag in ("-mcpu=cortex-m33", "-mthumb", "-mfpu=fpv5-sp-d16", "-mfloat-abi=hard",
                 "--specs=nano.specs", "-Wl,--gc-sections", "-Wl,-Map=", f"-T{d / 'link.ld'}"):
        assert flag in link, flag
    assert " -lm" not in link  # the runtime has its own expf: libm is not linked (docs/runtime.md)


def test_each_kernel_set_builds_in_its_own_folder():
    """KERNELS=portable and auto (the CPU's optimized set) keep separate results."""
    assert kernels_of(EMULATED) != "portable"
    scons(f"BOARD={EMULATED}", "MODEL=ptq", "KERNELS=portable")
    scons(f"BOARD={EMULATED}", "MODEL=ptq", "KERNELS=auto")
    portable, auto = out_dir(EMULATED, "ptq", "portable"), out_dir(EMULATED, "ptq")
    assert portable.name == "portable" and auto.name == kernels_of(EMULATED) and portable != auto
    assert (portable / "firmware.elf").read_bytes() != (auto / "firmware.elf").read_bytes()
    assert "kiln_dsp_" not in (portable / "gen" / "kiln_model.c").read_text()
    assert "kiln_dsp_" in (auto / "gen" / "kiln_model.c").read_text()


@pytest.mark.parametrize("board", BOARDS)
def test_linker_script_memory_is_written_from_board_toml(board):
    """The MEMORY block comes from board.toml's regions and nowhere else."""
    b = boards.load(board)
    scons(f"BOARD={board}", "MODEL=ptq")
    script = (out_dir(board, "ptq") / "link.ld").read_text()
    stack = json.loads((out_dir(board, "ptq") / "stack.json").read_text())["stack_bytes"]
    # the arena's size, for a board that places it in a region of its own (kiln.placement)
    arena = placement.arena_bytes(sorted((out_dir(board, "ptq") / "obj" / "gen").glob("*.o")))
    assert script == fw.linker_script(b, stack, arena)
    assert 0 < stack <= b.stack_bytes   # the image's bound, under the board's ceiling
    for r in b.regions:
        assert re.search(rf"{r.name}\s+\(rw?x\)\s+: ORIGIN = 0x{r.origin:08X}, LENGTH = 0x{r.length:08X}",
                         script), r
    assert f"KILN_STACK_SIZE = {stack};" in script
    assert not list(b.dir.glob("link.ld"))  # no second copy of the map in the board folder
    with open(out_dir(board, "ptq") / "firmware.elf", "rb") as fh:
        section = ELFFile(fh).get_section_by_name(".stack")
        assert section["sh_size"] == stack


def test_bad_baud_is_one_clear_line():
    proc = scons(f"BOARD={EMULATED}", "BAUD=fast", check=False)
    assert proc.returncode != 0
    assert "BAUD=fast is not a baud rate: use a number such as BAUD=115200" in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


def test_baud_defaults_to_the_boards():
    """BAUD= empty builds the board's default_baud into the image."""
    b = boards.load(EMULATED)
    d = out_dir(EMULATED, "ptq")
    scons(f"BOARD={EMULATED}", "MODEL=ptq")
    (d / "obj" / "app" / "main.o").unlink()
    proc = scons(f"BOARD={EMULATED}", "MODEL=ptq", "VERBOSE=1")
    main = next(line for line in proc.stdout.splitlines() if "main.o" in line and " -c " in line)
    assert f"-DKILN_BAUD={b.default_baud}u" in main


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
    b = boards.load(BOARDS[0])
    dirs = fw.include_dirs(paths.firmware_dir(b.name, NET, "x", "portable") / "gen", b)
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
    assert "Invalid value for enum variable 'BOARD': 'nucleo_f401'" in proc.stderr
    for b in BOARDS:
        assert b in proc.stderr


def test_missing_compiler_says_what_to_install(tmp_path):
    env = dict(os.environ, PATH=str(tmp_path))  # an empty PATH: no arm-none-eabi-gcc
    proc = scons(f"BOARD={EMULATED}", "MODEL=ptq", "firmware", env=env, check=False)
    assert proc.returncode != 0
    assert "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi" in proc.stdout + proc.stderr


def test_bad_board_toml_names_the_problem(tmp_path, monkeypatch):
    real = boards.load(EMULATED)
    good = real.toml.read_text()
    monkeypatch.setattr(boards, "BOARDS_DIR", tmp_path)
    bdir = tmp_path / "myboard"
    bdir.mkdir()
    for f in real.sources:  # its own files and the shared ones under ../common/
        dst = (bdir / os.path.relpath(f, real.toml.parent)).resolve()
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_text("")

    def sub(pattern: str, repl: str) -> str:
        text, n = re.subn(pattern, repl, good, flags=re.M)
        assert n, pattern
        return text

    cases = {
        sub(r'^cost_unit = "\w+"', 'cost_unit = "ticks"'): "cost_unit 'ticks' must be one of",
        sub(r"^clock_hz = .*$", ""): "missing key 'clock_hz'",
        sub(r"^stack_bytes = .*$", ""): "missing key 'stack_bytes'",
        sub(r"^stack_bytes = .*$", "stack_bytes = 1001"): "stack_bytes must be a positive multiple of 8",
        sub(r"^sources = .*$", 'sources = ["nope.c"]'): "source 'nope.c' not found",
        sub(r'^kind = "ram"', 'kind = "rom"'): "kind 'rom' must be 'flash' or 'ram'",
        sub(r'^name = "RAM"', 'name = "DATA"'): "needs a ram region named RAM",
        sub(r"^resolution = .*$", "resolution = 0"): "resolution must be 1 or more",
        sub(r"^machine = .*$", ""): "[emulator]: missing key 'machine'",
        'linker_sections = "extra.ld"\n' + good: "linker_sections 'extra.ld' not found",
        good + "\n[[[": "not valid TOML",
    }
    for text, message in cases.items():
        (bdir / "board.toml").write_text(text)
        with pytest.raises(KilnError, match=re.escape(message)):
            boards.load("myboard")
    (bdir / "board.toml").write_text(good)
    assert boards.load("myboard").clock_hz == real.clock_hz
    assert boards.emulated() == ["myboard"]
    with pytest.raises(KilnError, match="unknown BOARD 'other': valid values are myboard"):
        boards.load("other")


def test_unknown_cpu_and_kernel_set_are_refused():
    with pytest.raises(KilnError, match=r"no \[cpu.cortex-m85\] table"):
        fw.cpu_flags("cortex-m85")
    with pytest.raises(KilnError, match="unknown KERNELS 'fast'"):
        fw.resolve_kernels("fast", fw.cpu_flags("cortex-m33"))
    assert fw.resolve_kernels("portable", fw.cpu_flags("cortex-m33")) == "portable"
