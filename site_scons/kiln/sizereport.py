"""Flash and RAM use of a firmware ELF: per memory region, per output
section, per component (model weights, generated code, runtime kernels, app,
board, C library) and per symbol. Reads the ELF with pyelftools and the
linker map for the object each byte came from. No SCons here.

Numbers follow binutils: section sizes are `arm-none-eabi-size -A`, flash
used is text + data and RAM used is data + bss of `arm-none-eabi-size -B`,
symbol sizes are `nm --size-sort`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile

from kiln.boards import Board, Region
from kiln.errors import KilnError

BAR_WIDTH = 30
TOP_SYMBOLS = 15

COMPONENTS = ("model weights", "generated model code", "model arena", "runtime kernels", "app",
              "board", "C library", "stack", "linker fill")


@dataclass(frozen=True)
class Section:
    """One allocated output section of the ELF."""

    name: str
    vma: int
    lma: int
    size: int
    nobits: bool  # .bss-like: occupies RAM only, nothing in the image


@dataclass(frozen=True)
class Chunk:
    """One input section in the map file: `size` bytes at `addr` from `source`."""

    out_section: str
    addr: int
    size: int
    source: str


class ElfReader:
    """The parts of an ELF the report needs, read once."""

    def __init__(self, fh) -> None:  # noqa: ANN001 - a binary file
        elf = ELFFile(fh)
        if elf["e_machine"] != "EM_ARM":
            raise KilnError(f"{getattr(fh, 'name', 'ELF')}: not an Arm ELF ({elf['e_machine']}): "
                            "pass the firmware.elf built by scons")
        segments = [s for s in elf.iter_segments() if s["p_type"] == "PT_LOAD"]
        self.sections: list[Section] = []
        for sec in elf.iter_sections():
            if not sec["sh_flags"] & SH_FLAGS.SHF_ALLOC or sec["sh_size"] == 0:
                continue
            vma, size = sec["sh_addr"], sec["sh_size"]
            lma = vma
            nobits = sec["sh_type"] == "SHT_NOBITS"
            if not nobits:
                # A section's load address comes from the segment holding it.
                for seg in segments:
                    if seg["p_vaddr"] <= vma < seg["p_vaddr"] + max(seg["p_memsz"], 1) and seg["p_filesz"]:
                        lma = seg["p_paddr"] + (vma - seg["p_vaddr"])
                        break
            self.sections.append(Section(sec.name, vma, lma, size, nobits))
        self.symbols: list[dict] = []
        symtab = elf.get_section_by_name(".symtab")
        if symtab is not None:
            names = {i: s.name for i, s in enumerate(elf.iter_sections())}
            for sym in symtab.iter_symbols():
                kind = sym["st_info"]["type"]
                if sym["st_size"] == 0 or kind not in ("STT_FUNC", "STT_OBJECT"):
                    continue
                shndx = sym["st_shndx"]
                self.symbols.append({
                    "name": sym.name, "size": sym["st_size"],
                    # Thumb functions have bit 0 set in st_value; nm shows the real address.
                    "address": sym["st_value"] & ~1 if kind == "STT_FUNC" else sym["st_value"],
                    "type": "function" if kind == "STT_FUNC" else "object",
                    "section": names.get(shndx, "") if isinstance(shndx, int) else str(shndx),
                })


_OUT_RE = re.compile(r"^(\.\S+)\s+0x([0-9a-fA-F]+)\s+0x([0-9a-fA-F]+)")
_IN_ONE = re.compile(r"^ (\S+)\s+0x([0-9a-fA-F]+)\s+0x([0-9a-fA-F]+)\s+(\S.*)$")
_IN_NAME = re.compile(r"^ (\S+)$")
_IN_CONT = re.compile(r"^\s+0x([0-9a-fA-F]+)\s+0x([0-9a-fA-F]+)\s+(\S.*)$")


def read_map(map_path: Path) -> list[Chunk]:
    """Input sections from a GNU ld map file (the part after 'Linker script
    and memory map'), each with the object or archive member it came from."""
    chunks: list[Chunk] = []
    out = ""
    pending = ""
    in_map = False
    for line in map_path.read_text(errors="replace").splitlines():
        if not in_map:
            in_map = line.startswith("Linker script and memory map")
            continue
        if line.startswith("Cross Reference Table"):
            break
        m = _OUT_RE.match(line)
        if m or (line.startswith(".") and " " not in line.strip()):
            out = line.split()[0]
            pending = ""
            continue
        m = _IN_ONE.match(line)
        if m and not m.group(1).startswith("*fill*"):
            size = int(m.group(3), 16)
            if size and not m.group(4).startswith("load address"):
                chunks.append(Chunk(out, int(m.group(2), 16), size, m.group(4).strip()))
            pending = ""
            continue
        m = _IN_NAME.match(line)
        if m:
            pending = m.group(1)
            continue
        m = _IN_CONT.match(line)
        if m and pending:
            size = int(m.group(2), 16)
            if size:
                chunks.append(Chunk(out, int(m.group(1), 16), size, m.group(3).strip()))
            pending = ""
    return chunks


def component_of(source: str, out_section: str) -> str:
    """Which part of the firmware an input section belongs to, by the object
    it came from. The generated model's constant data is counted as "model
    weights": the weights plus its per-layer parameters and descriptor
    strings (a few hundred bytes to ~2 KB); its RAM is the arena."""
    s = source.replace("\\", "/")
    if "/obj/gen/" in s or "/gen/" in s:
        if out_section.startswith(".rodata"):
            return "model weights"
        if out_section.startswith(".text"):
            return "generated model code"
        return "model arena"
    if "/runtime/" in s:  # build/<board>/runtime/<kernels>/ (kiln.paths.runtime_dir) or the sources
        return "runtime kernels"
    if "/obj/app/" in s or "/firmware/app/" in s:
        return "app"
    if "/obj/board/" in s or "/firmware/boards/" in s:
        return "board"
    if ".a(" in s or s.endswith(".a") or "/lib/gcc/" in s or "arm-none-eabi/lib" in s:
        return "C library"
    return "linker fill"


def _region(board: Board, addr: int) -> Region | None:
    """The region a section at `addr` was placed in: the one holding it, or
    else the nearest below it (a section past the end overflows that one)."""
    r = board.region_of(addr)
    if r is None:
        below = [x for x in board.regions if x.origin <= addr]
        r = max(below, key=lambda x: x.origin) if below else None
    return r


def parse_bytes(text: str, var: str) -> int | None:
    """A byte count from a variable: 600000, 600k, 586K, 1M (k, K = 1024)."""
    text = str(text).strip()
    if not text:
        return None
    m = re.fullmatch(r"(\d+)\s*([kKmM]?)(i?[bB])?", text)
    if not m:
        raise KilnError(f"{var}='{text}' is not a byte count: use e.g. {var}=600000 or {var}=586K")
    return int(m.group(1)) * {"": 1, "k": 1024, "K": 1024, "m": 1 << 20, "M": 1 << 20}[m.group(2)]


def report(elf_path: Path, map_path: Path | None, board: Board) -> dict:
    """The whole report as a JSON-able dict."""
    with open(elf_path, "rb") as fh:
        elf = ElfReader(fh)
    used = {r.name: 0 for r in board.regions}
    sections = []
    for s in elf.sections:
        vreg = _region(board, s.vma)
        lreg = _region(board, s.lma) if not s.nobits else None
        if vreg is None and (s.nobits or lreg is None):
            raise KilnError(f"{elf_path}: section {s.name} at 0x{s.vma:08x} lies in no memory region "
                            f"of board {board.name}: check the [[regions]] of {board.toml}")
        if vreg is not None:
            used[vreg.name] += s.size
        if lreg is not None and lreg is not vreg:
            used[lreg.name] += s.size  # .data: its initial values also take flash
        sections.append({"name": s.name, "address": s.vma, "load_address": s.lma, "size": s.size,
                         "region": vreg.name if vreg else None,
                         "load_region": lreg.name if lreg and lreg is not vreg else None})
    regions = [{"name": r.name, "kind": r.kind, "origin": r.origin, "length": r.length,
                "used": used[r.name], "free": r.length - used[r.name],
                "percent": round(100.0 * used[r.name] / r.length, 2)} for r in board.regions]

    comps = {c: {"flash": 0, "ram": 0} for c in COMPONENTS}
    by_section: dict[str, int] = {}
    chunks = read_map(map_path) if map_path and map_path.is_file() else []
    sec_by_name = {s.name: s for s in elf.sections}
    for c in chunks:
        sec = sec_by_name.get(c.out_section)
        if sec is None:
            continue
        name = component_of(c.source, c.out_section)
        _add(comps[name], board, sec, c.size)
        by_section[sec.name] = by_section.get(sec.name, 0) + c.size
    for sec in elf.sections:
        rest = sec.size - by_section.get(sec.name, 0)
        if rest > 0:
            _add(comps["stack" if sec.name == ".stack" else "linker fill"], board, sec, rest)
    components = [{"name": k, **v} for k, v in comps.items() if v["flash"] or v["ram"]]

    symbols = sorted(elf.symbols, key=lambda s: (-s["size"], s["name"]))[:TOP_SYMBOLS]
    for s in symbols:
        r = _region(board, s["address"])
        s["region"] = r.name if r else None
    flash = sum(r["used"] for r in regions if r["kind"] == "flash")
    ram = sum(r["used"] for r in regions if r["kind"] == "ram")
    return {"elf": str(elf_path), "board": board.name, "regions": regions, "sections": sections,
            "components": components, "symbols": symbols, "flash_used": flash, "ram_used": ram}


def _add(comp: dict, board: Board, sec: Section, size: int) -> None:
    vreg = _region(board, sec.vma)
    if vreg is not None:
        comp[vreg.kind] += size
    if not sec.nobits:
        lreg = _region(board, sec.lma)
        if lreg is not None and lreg is not vreg:
            comp[lreg.kind] += size


def problems(rep: dict, flash_budget: int | None = None, ram_budget: int | None = None) -> list[str]:
    """Why the build must fail: overflowing regions and exceeded budgets."""
    out = []
    for r in rep["regions"]:
        if r["used"] > r["length"]:
            out.append(f"region {r['name']} overflows by {r['used'] - r['length']} bytes "
                       f"({r['used']} used of {r['length']})")
    if flash_budget is not None and rep["flash_used"] > flash_budget:
        out.append(f"flash use {rep['flash_used']} bytes exceeds FLASH_BUDGET={flash_budget} "
                   f"by {rep['flash_used'] - flash_budget} bytes")
    if ram_budget is not None and rep["ram_used"] > ram_budget:
        out.append(f"RAM use {rep['ram_used']} bytes exceeds RAM_BUDGET={ram_budget} "
                   f"by {rep['ram_used'] - ram_budget} bytes")
    return out


def _bar(percent: float) -> str:
    filled = min(BAR_WIDTH, round(BAR_WIDTH * percent / 100.0))
    return "[" + "#" * filled + "." * (BAR_WIDTH - filled) + "]"


def format_text(rep: dict) -> str:
    """The report as the terminal shows it."""
    lines = [f"Size report: {rep['elf']} (board {rep['board']})", "", "Memory regions"]
    for r in rep["regions"]:
        lines.append(f"  {r['name']:<6} {r['kind']:<5} 0x{r['origin']:08x} {r['used']:>10,} / "
                     f"{r['length']:>10,} B {r['percent']:6.2f}% {_bar(r['percent'])}")
    lines.append(f"  total: flash {rep['flash_used']:,} B, RAM {rep['ram_used']:,} B")
    lines += ["", "Sections", f"  {'name':<14} {'address':>10} {'load':>10} {'size':>10}  region"]
    for s in rep["sections"]:
        where = s["region"] + (f" (loaded from {s['load_region']})" if s["load_region"] else "")
        lines.append(f"  {s['name']:<14} 0x{s['address']:08x} 0x{s['load_address']:08x} "
                     f"{s['size']:>10,}  {where}")
    lines += ["", "Components", f"  {'component':<22} {'flash':>10} {'RAM':>10}"]
    for c in rep["components"]:
        lines.append(f"  {c['name']:<22} {c['flash']:>10,} {c['ram']:>10,}")
    lines += ["", f"Largest symbols (top {len(rep['symbols'])})"]
    for s in rep["symbols"]:
        lines.append(f"  {s['size']:>10,}  {s['type']:<8} {s['section']:<24} {s['name']}")
    return "\n".join(lines)


