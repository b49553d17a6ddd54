"""Board descriptions: firmware/boards/<board>/board.toml, checked and typed."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from kiln import ROOT
from kiln.errors import KilnError

BOARDS_DIR = ROOT / "firmware" / "boards"
COST_UNITS = ("cycles", "instructions")


@dataclass(frozen=True)
class Region:
    """One memory region of the board's linker script."""

    name: str
    origin: int
    length: int
    kind: str  # "flash" or "ram"

    def contains(self, addr: int) -> bool:
        """True when `addr` falls inside the region."""
        return self.origin <= addr < self.origin + self.length


@dataclass(frozen=True)
class Board:
    """A board as board.toml describes it."""

    name: str
    dir: Path
    cpu: str
    clock_hz: int
    cost_unit: str
    default_baud: int
    linker_script: Path
    sources: tuple[Path, ...]
    regions: tuple[Region, ...]
    stack_bytes: int
    description: str = ""
    qemu_machine: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def emulated(self) -> bool:
        """True for a board that runs in QEMU rather than on hardware."""
        return bool(self.qemu_machine)

    def region_of(self, addr: int) -> Region | None:
        """The region holding `addr`, or None."""
        return next((r for r in self.regions if r.contains(addr)), None)


def _need(data: dict, key: str, kind: type, where: Path) -> object:
    if key not in data:
        raise KilnError(f"{where}: missing key '{key}': add it (see docs/boards.md)")
    if not isinstance(data[key], kind):
        raise KilnError(f"{where}: '{key}' must be a {kind.__name__}, not {data[key]!r}")
    return data[key]


def load(name: str) -> Board:
    """Read and check firmware/boards/<name>/board.toml."""
    bdir = BOARDS_DIR / name
    path = bdir / "board.toml"
    if not path.is_file():
        valid = sorted(p.parent.name for p in BOARDS_DIR.glob("*/board.toml"))
        raise KilnError(f"unknown BOARD '{name}': valid values are {', '.join(valid)}")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise KilnError(f"{path}: not valid TOML: {exc}") from exc
    cost_unit = _need(data, "cost_unit", str, path)
    if cost_unit not in COST_UNITS:
        raise KilnError(f"{path}: cost_unit '{cost_unit}' must be one of {', '.join(COST_UNITS)}")
    regions = []
    for i, r in enumerate(_need(data, "regions", list, path)):
        where = Path(f"{path} [[regions]] #{i + 1}")
        kind = _need(r, "kind", str, where)
        if kind not in ("flash", "ram"):
            raise KilnError(f"{where}: kind '{kind}' must be 'flash' or 'ram'")
        regions.append(Region(_need(r, "name", str, where), _need(r, "origin", int, where),
                              _need(r, "length", int, where), kind))
    if not any(r.kind == "flash" for r in regions) or not any(r.kind == "ram" for r in regions):
        raise KilnError(f"{path}: needs at least one flash and one ram region")
    sources = tuple(bdir / s for s in _need(data, "sources", list, path))
    for s in sources:
        if not s.is_file():
            raise KilnError(f"{path}: source '{s.name}' not found in {bdir}")
    script = bdir / _need(data, "linker_script", str, path)
    if not script.is_file():
        raise KilnError(f"{path}: linker script '{script.name}' not found in {bdir}")
    known = {"name", "description", "cpu", "clock_hz", "cost_unit", "default_baud", "linker_script",
             "sources", "regions", "stack_bytes", "qemu_machine"}
    return Board(
        name=name, dir=bdir, cpu=_need(data, "cpu", str, path),
        clock_hz=_need(data, "clock_hz", int, path), cost_unit=cost_unit,
        default_baud=_need(data, "default_baud", int, path), linker_script=script,
        sources=sources, regions=tuple(regions),
        stack_bytes=int(data.get("stack_bytes", 8192)),
        description=str(data.get("description", "")),
        qemu_machine=str(data.get("qemu_machine", "")),
        extra={k: v for k, v in data.items() if k not in known},
    )
