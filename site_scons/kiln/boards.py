"""The board registry: firmware/boards/<board>/board.toml, checked and typed.

A board is one folder; its board.toml says everything the build and the host
need to know (docs/adding-a-board.md lists the keys). Nothing outside the
folder names a board: code asks here, e.g. `emulated()` for the boards that
run in QEMU.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from kiln import ROOT
from kiln.errors import KilnError

BOARDS_DIR = ROOT / "firmware" / "boards"
COST_UNITS = ("cycles", "instructions")


@dataclass(frozen=True)
class Region:
    """One memory region: a MEMORY line of the generated linker script."""

    name: str
    origin: int
    length: int
    kind: str  # "flash" or "ram"

    def contains(self, addr: int) -> bool:
        """True when `addr` falls inside the region."""
        return self.origin <= addr < self.origin + self.length


@dataclass(frozen=True)
class Flashing:
    """How a programmer writes the board ([flash] of board.toml)."""

    openocd_interface: str = ""
    openocd_target: str = ""
    cubeprogrammer_port: str = ""
    #: Attach with the chip held in reset (the probe drives its reset line): a
    #: core asleep in WFI, or with its debug pins reconfigured, still attaches.
    connect_under_reset: bool = True
    #: The chip family whose option bytes `scons flash` reads and checks before
    #: programming (kiln.flash.OPTION_CHECKS), or "" for none.
    option_bytes: str = ""


@dataclass(frozen=True)
class Emulator:
    """How QEMU runs an emulated board ([emulator] of board.toml)."""

    machine: str
    icount_shift: int
    #: cost units per tick of the timer the firmware measures with: the
    #: smallest cost difference a measurement can show.
    resolution: int


@dataclass(frozen=True)
class Board:
    """A board as board.toml describes it."""

    name: str
    dir: Path
    cpu: str
    clock_hz: int
    cost_unit: str
    default_baud: int
    sources: tuple[Path, ...]
    regions: tuple[Region, ...]
    stack_bytes: int
    description: str = ""
    #: board-specific output sections, INCLUDEd after the common ones (or None)
    linker_sections: Path | None = None
    uart: str = ""
    #: globs of the host serial device the board shows up as (hardware boards)
    host_ports: tuple[str, ...] = ()
    flash: Flashing | None = None
    emulator: Emulator | None = None
    #: a RAM region the model's arena goes to when it fits there (kiln.placement), or ""
    arena_region: str = ""

    @property
    def emulated(self) -> bool:
        """True for a board that runs in QEMU rather than on hardware."""
        return self.emulator is not None

    @property
    def toml(self) -> Path:
        """The board.toml this board was read from."""
        return self.dir / "board.toml"

    def region_of(self, addr: int) -> Region | None:
        """The region holding `addr`, or None."""
        return next((r for r in self.regions if r.contains(addr)), None)


def names() -> list[str]:
    """Every board: the folders under firmware/boards/ that hold a board.toml."""
    return sorted(p.parent.name for p in BOARDS_DIR.glob("*/board.toml"))


def emulated() -> list[str]:
    """The boards with an [emulator] section. The first is the one tools use
    when not told (`scons bench` without an emulated BOARD=, host.cycles, the
    tests): the emulated stand-in for the default board, i.e. those with the
    default board's CPU come first; otherwise name order."""
    from kiln.registry import DEFAULT_BOARD  # registry imports this module

    found = [load(n) for n in names()]
    default_cpu = next((b.cpu for b in found if b.name == DEFAULT_BOARD), None)
    return [b.name for b in sorted((b for b in found if b.emulated), key=lambda b: b.cpu != default_cpu)]


def hardware() -> list[str]:
    """The boards without an emulator, in name order."""
    return [n for n in names() if not load(n).emulated]


def _need(data: dict, key: str, kind: type, where: Path | str) -> object:
    if key not in data:
        raise KilnError(f"{where}: missing key '{key}': add it (see docs/adding-a-board.md)")
    if not isinstance(data[key], kind) or (kind is int and isinstance(data[key], bool)):
        raise KilnError(f"{where}: '{key}' must be a {kind.__name__}, not {data[key]!r}")
    return data[key]


def _opt(data: dict, key: str, kind: type, where: Path | str, default: object) -> object:
    return _need(data, key, kind, where) if key in data else default


def _regions(data: dict, path: Path) -> tuple[Region, ...]:
    regions = []
    for i, r in enumerate(_need(data, "regions", list, path)):
        where = f"{path} [[regions]] #{i + 1}"
        kind = _need(r, "kind", str, where)
        if kind not in ("flash", "ram"):
            raise KilnError(f"{where}: kind '{kind}' must be 'flash' or 'ram'")
        regions.append(Region(_need(r, "name", str, where), _need(r, "origin", int, where),
                              _need(r, "length", int, where), kind))
    # sections.ld places code in FLASH and data in RAM by those names.
    for name, kind in (("FLASH", "flash"), ("RAM", "ram")):
        if not any(r.name == name and r.kind == kind for r in regions):
            raise KilnError(f"{path}: needs a {kind} region named {name} (the common sections go there)")
    return tuple(regions)


def _emulator(data: dict, path: Path) -> Emulator | None:
    if "emulator" not in data:
        return None
    emu = _need(data, "emulator", dict, path)
    where = f"{path} [emulator]"
    resolution = _need(emu, "resolution", int, where)
    if resolution < 1:
        raise KilnError(f"{where}: resolution must be 1 or more, not {resolution}")
    return Emulator(machine=_need(emu, "machine", str, where),
                    icount_shift=_opt(emu, "icount_shift", int, where, 0), resolution=resolution)


def _flashing(data: dict, path: Path) -> Flashing | None:
    if "flash" not in data:
        return None
    fl = _need(data, "flash", dict, path)
    where = f"{path} [flash]"
    return Flashing(openocd_interface=_opt(fl, "openocd_interface", str, where, ""),
                    openocd_target=_opt(fl, "openocd_target", str, where, ""),
                    cubeprogrammer_port=_opt(fl, "cubeprogrammer_port", str, where, ""),
                    connect_under_reset=_opt(fl, "connect_under_reset", bool, where, True),
                    option_bytes=_opt(fl, "option_bytes", str, where, ""))


def load(name: str) -> Board:
    """Read and check firmware/boards/<name>/board.toml."""
    bdir = BOARDS_DIR / name
    path = bdir / "board.toml"
    if not path.is_file():
        raise KilnError(f"unknown BOARD '{name}': valid values are {', '.join(names()) or '(none found)'}")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise KilnError(f"{path}: not valid TOML: {exc}") from exc
    cost_unit = _need(data, "cost_unit", str, path)
    if cost_unit not in COST_UNITS:
        raise KilnError(f"{path}: cost_unit '{cost_unit}' must be one of {', '.join(COST_UNITS)}")
    # A source may be shared by several boards of one chip family (../common/...).
    sources = tuple((bdir / s).resolve() for s in _need(data, "sources", list, path))
    for s in sources:
        if not s.is_file():
            raise KilnError(f"{path}: source '{s.name}' not found in {bdir}")
    extra = _opt(data, "linker_sections", str, path, "")
    if extra and not (bdir / extra).is_file():
        raise KilnError(f"{path}: linker_sections '{extra}' not found in {bdir}")
    stack = _need(data, "stack_bytes", int, path)
    if stack <= 0 or stack % 8:
        raise KilnError(f"{path}: stack_bytes must be a positive multiple of 8, not {stack}")
    uart = _opt(data, "uart", dict, path, {})
    regions = _regions(data, path)
    arena_region = _opt(data, "arena_region", str, path, "")
    if arena_region and not any(r.name == arena_region and r.kind == "ram" for r in regions):
        raise KilnError(f"{path}: arena_region '{arena_region}' must name a ram region of its [[regions]]")
    return Board(
        name=name, dir=bdir, cpu=_need(data, "cpu", str, path),
        clock_hz=_need(data, "clock_hz", int, path), cost_unit=cost_unit,
        default_baud=_need(data, "default_baud", int, path),
        sources=sources, regions=regions, stack_bytes=stack,
        description=_opt(data, "description", str, path, ""),
        linker_sections=bdir / extra if extra else None,
        uart=_opt(uart, "peripheral", str, f"{path} [uart]", ""),
        host_ports=tuple(_opt(uart, "host_ports", list, f"{path} [uart]", [])),
        flash=_flashing(data, path), emulator=_emulator(data, path), arena_region=arena_region,
    )
