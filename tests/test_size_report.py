"""scons size-report: its numbers agree with binutils (arm-none-eabi-size,
nm), it writes size.json, and it fails on overflow and on budgets."""

import json
import re
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile
from kiln import boards, paths, registry, sizereport
from kiln import firmware as fw
from support import have, run_scons

NET = registry.DEFAULT_NET
EMULATED = boards.emulated()[0]

pytestmark = pytest.mark.skipif(not have("arm-none-eabi-size") or not have("arm-none-eabi-gcc"),
                                reason="Arm toolchain not installed (toolchain/setup)")


def scons(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run_scons("-j2", *args, check=check)


@pytest.fixture(scope="module", params=boards.names())
def reported(request):
    """(board, output dir, stdout) of a size report of the ptq firmware."""
    board = request.param
    proc = scons("size-report", f"BOARD={board}", "MODEL=ptq")
    kernels = fw.resolve_kernels("auto", fw.cpu_flags(boards.load(board).cpu))
    return board, paths.firmware_dir(board, NET, "ptq", kernels), proc.stdout


def binutils_size(elf: Path) -> tuple[dict[str, int], tuple[int, int, int]]:
    sysv = subprocess.run(["arm-none-eabi-size", "-A", str(elf)], capture_output=True, text=True,
                          check=True).stdout
    # Allocated sections only (debug sections sit at address 0, but so does
    # the vector table of a board whose FLASH starts at 0, e.g. mps2_an386).
    with open(elf, "rb") as fh:
        allocated = {sec.name for sec in ELFFile(fh).iter_sections() if sec["sh_flags"] & SH_FLAGS.SHF_ALLOC}
    sections = {}
    for line in sysv.splitlines()[2:]:
        parts = line.split()
        if len(parts) == 3 and parts[0] in allocated and int(parts[1]):
            sections[parts[0]] = int(parts[1])
    berkeley = subprocess.run(["arm-none-eabi-size", "-B", str(elf)], capture_output=True, text=True,
                              check=True).stdout.splitlines()[1].split()
    return sections, (int(berkeley[0]), int(berkeley[1]), int(berkeley[2]))


def test_regions_and_sections_match_arm_none_eabi_size(reported):
    board, d, out = reported
    rep = json.loads((d / "size.json").read_text())
    sections, (text, data, bss) = binutils_size(d / "firmware.elf")
    assert {s["name"]: s["size"] for s in rep["sections"]} == sections
    assert rep["flash_used"] == text + data
    assert rep["ram_used"] == data + bss
    b = boards.load(board)
    assert [r["name"] for r in rep["regions"]] == [r.name for r in b.regions]
    for r in rep["regions"]:
        # each region printed with used, size, percent and a bar
        row = rf"{r['name']}\s.*{r['used']:,} /\s+{r['length']:,} B\s+{r['percent']:.2f}% \[[#.]+\]"
        assert re.search(row, out)
    # the component split accounts for every byte
    assert sum(c["flash"] for c in rep["components"]) == rep["flash_used"]
    assert sum(c["ram"] for c in rep["components"]) == rep["ram_used"]
    comps = {c["name"]: c for c in rep["components"]}
    for name in ("model weights", "generated model code", "runtime kernels", "app", "board", "stack"):
        assert name in comps, name
    # the stack the build bounded for this image (stack.json), under the board's ceiling
    stack = json.loads((d / "stack.json").read_text())["stack_bytes"]
    assert comps["stack"]["ram"] == stack <= b.stack_bytes


def test_largest_symbols_match_nm(reported):
    _, d, _ = reported
    rep = json.loads((d / "size.json").read_text())
    nm = subprocess.run(["arm-none-eabi-nm", "--size-sort", "-S", str(d / "firmware.elf")],
                        capture_output=True, text=True, check=True).stdout
    sizes = {}
    for line in nm.splitlines():
        addr, size, kind, name = line.split(maxsplit=3)
        if kind.lower() in "tdbr":
            sizes[name] = int(size, 16)
    top = sorted(sizes.values(), reverse=True)[:len(rep["symbols"])]
    assert [s["size"] for s in rep["symbols"]] == top
    for s in rep["symbols"]:
        assert sizes[s["name"]] == s["size"]


def test_weights_component_holds_the_model_weights(reported):
    _, d, _ = reported
    rep = json.loads((d / "size.json").read_text())
    weights = next(c["flash"] for c in rep["components"] if c["name"] == "model weights")
    header = (d / "gen" / "kiln_model.h").read_text()
    weight_bytes = int(re.search(r"KILN_MODEL_WEIGHT_BYTES (\d+)u", header).group(1))
    # the weights plus the generated constant parameters and descriptors
    assert weight_bytes <= weights <= weight_bytes + 8192


def test_budgets_fail_the_build_naming_the_excess():
    proc = scons("size-report", f"BOARD={EMULATED}", "MODEL=ptq", "RAM_BUDGET=1K", check=False)
    assert proc.returncode != 0
    assert re.search(r"RAM use \d+ bytes exceeds RAM_BUDGET=1024 by \d+ bytes", proc.stderr)
    proc = scons("size-report", f"BOARD={EMULATED}", "MODEL=ptq", "FLASH_BUDGET=lots", check=False)
    assert proc.returncode != 0 and "FLASH_BUDGET='lots' is not a byte count" in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


def test_overflowing_region_is_named_with_the_bytes_over(reported):
    board, d, _ = reported
    b = boards.load(board)
    small = tuple(replace(r, length=1024) if r.name == "RAM" else r for r in b.regions)
    rep = sizereport.report(d / "firmware.elf", d / "firmware.map", replace(b, regions=small))
    ram = next(r for r in rep["regions"] if r["name"] == "RAM")
    msgs = sizereport.problems(rep)
    assert msgs == [f"region RAM overflows by {ram['used'] - 1024} bytes ({ram['used']} used of 1024)"]
