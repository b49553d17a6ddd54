"""Cost figures beside instruction counts, per layer, from Kiln's QEMU plugin
(host/qemu_plugin/kiln_counts.c): memory reads and writes, taken branches,
multiplies, and a cycle estimate from a stated timing model. A kernel cannot
meet an instruction target by moving work into multi-cycle instructions
without the estimate showing it.

    python -m host.cycles --board mps2_an505 build/mps2_an505/<net>/<variant>/dsp/firmware.elf

The plugin snapshots its counters at every call of the firmware's
kiln_cost_now(), which the generated code calls before and after each layer
(and the app before and after the whole INFER), so the figures split by layer
the same way PROFILE's instruction counts do.

Timing model (TIMING): a Cortex-M33-like core with zero-wait-state memory.
    cycles = instructions + memory accesses + 2 x taken branches + 10 x divides
* every instruction issues in one cycle (so do MUL/MLA/SMLAD and the DSP
  multiplies, single-cycle on the M33; the 64-bit-result multiplies are
  counted apart but cost nothing extra here);
* each memory access adds one: LDR/STR take two cycles, LDRD three, an LDM
  or STM of n registers n + 1 (the architecture's documented pattern);
* a taken branch (call, return, exception entry) adds two for the pipeline
  refill;
* SDIV/UDIV add 10 (their 2-12 cycle range, taken high).
Limits: no flash wait states or cache (the U585 at 160 MHz runs from flash
through its ART cache; misses cost more), no load-use pipelining (back-to-back
loads can overlap on the real core, so loads are counted pessimistically), no
stalls on the AHB bus, and a block boundary QEMU inserts without a branch is
not counted. The estimate ranks kernels; it is not a datasheet figure.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from kiln import BUILD, boards
from kiln.boards import Board
from kiln.errors import KilnError

from host.client import Client
from host.protocol import io_bytes
from host.qemu import Qemu

PLUGIN_SRC = Path(__file__).resolve().parent / "qemu_plugin"
PLUGIN = BUILD / "host" / "kiln_counts.so"
#: The firmware function whose calls bound each layer.
MARK = "kiln_cost_now"
FIELDS = ("insns", "reads", "writes", "taken", "mul", "mull", "div")
#: Cycles per event on top of one per instruction (see the module docstring).
TIMING = {"access": 1, "taken": 2, "div": 10}


def build_plugin() -> Path:
    """The plugin as a host shared library, rebuilt when its source changes."""
    sources = sorted(PLUGIN_SRC.glob("*.[ch]"))
    if PLUGIN.exists() and all(PLUGIN.stat().st_mtime >= s.stat().st_mtime for s in sources):
        return PLUGIN
    PLUGIN.parent.mkdir(parents=True, exist_ok=True)
    tmp = PLUGIN.with_suffix(".tmp.so")
    cmd = ["cc", "-std=c99", "-O2", "-Wall", "-Wextra", "-shared", "-fPIC", "-fvisibility=hidden",
           str(PLUGIN_SRC / "kiln_counts.c"), "-o", str(tmp)]
    try:
        subprocess.run(cmd, check=True, capture_output=True, text=True)
    except FileNotFoundError:
        raise KilnError("no host C compiler (cc) to build the QEMU plugin: apt-get install gcc") from None
    except subprocess.CalledProcessError as exc:
        raise KilnError(f"building the QEMU plugin failed:\n{exc.stderr}") from None
    tmp.replace(PLUGIN)
    return PLUGIN


def mark_address(elf: str | Path) -> int:
    """The address of kiln_cost_now in `elf` (pyelftools)."""
    from elftools.elf.elffile import ELFFile

    with open(elf, "rb") as f:
        symtab = ELFFile(f).get_section_by_name(".symtab")
        syms = symtab.get_symbol_by_name(MARK) if symtab is not None else None
    if not syms:
        raise KilnError(f"{elf} has no symbol {MARK}: it is not a Kiln firmware image")
    return int(syms[0]["st_value"]) & ~1


def estimate_cycles(c: dict) -> int:
    """Cycles of a counter set under TIMING."""
    return int(c["insns"] + TIMING["access"] * (c["reads"] + c["writes"])
               + TIMING["taken"] * c["taken"] + TIMING["div"] * c["div"])


def _figures(delta: np.ndarray, macs: int = 0) -> dict:
    c = {k: int(v) for k, v in zip(FIELDS, delta, strict=True)}
    c["cycles"] = estimate_cycles(c)
    if macs:
        c["cycles_per_mac"] = round(c["cycles"] / macs, 3)
    return c


def random_input(model: dict, seed: int = 0) -> bytes:
    """The seeded random INFER payload measure_costs sends for `model` (INFO's model)."""
    rng = np.random.default_rng(seed)
    return rng.integers(-128, 128, io_bytes(model, "inputs"), dtype=np.int8).tobytes()


def measure_costs(board: Board, elf: str | Path, seed: int = 0) -> dict:
    """Boot `elf` under the plugin, run one seeded random INFER (random_input) and
    return the whole inference's counters and cycle estimate, and each layer's."""
    plugin, mark = build_plugin(), mark_address(elf)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "counts.txt"
        extra = ["-plugin", f"{plugin},mark={mark:#x},out={out}"]
        with Qemu.for_board(board, elf, extra=extra) as q, Client(q.port, board.default_baud) as client:
            info = client.info()
            model = info.get("model", info)
            x = random_input(model, seed)
            results = list(client.infer_stream([(0, x)], io_bytes(model, "outputs")))
        if not out.exists():
            raise KilnError("QEMU wrote no plugin counts: does this qemu-system-arm support -plugin?")
        rows = np.loadtxt(out, dtype=np.int64, ndmin=2)
    layers = model["layers"]
    snaps = rows[:-1]
    need = 2 * len(layers) + 2
    if len(snaps) < need:
        raise KilnError(f"{elf}: {len(snaps)} marks for {len(layers)} layers; expected at least {need}")
    run = snaps[-need:]   # the INFER: start, (before, after) per layer, end
    per_layer = [dict(_figures(run[2 + 2 * k] - run[1 + 2 * k], int(la.get("macs", 0))),
                      op=la["op"], kernel=la["kernel"], macs=int(la.get("macs", 0)))
                 for k, la in enumerate(layers)]
    macs = sum(la["macs"] for la in per_layer)
    total = _figures(run[-1] - run[0], macs)
    total["reported_instructions"] = int(results[-1].cost)   # the firmware's own count, for comparison
    return {"total": total, "layers": per_layer}


def format_costs(name: str, costs: dict) -> str:
    """The per-layer table."""
    head = (f"  {'#':>3} {'op':<18} {'kernel':<26} {'MACs':>9} {'insns':>9} {'reads':>8} {'writes':>8} "
            f"{'taken':>7} {'mul':>8} {'cycles':>9} {'cyc/MAC':>8}")
    lines = [f"{name}: costs per layer (cycle estimate: host/cycles.py TIMING)", head]
    for k, la in enumerate(costs["layers"]):
        lines.append(f"  {k:>3} {la['op'][:18]:<18} {la['kernel'][:26]:<26} {la['macs']:>9} {la['insns']:>9} "
                     f"{la['reads']:>8} {la['writes']:>8} {la['taken']:>7} {la['mul'] + la['mull']:>8} "
                     f"{la['cycles']:>9} {la.get('cycles_per_mac', 0):>8}")
    t = costs["total"]
    lines.append(f"  {'total':<58} {t['insns']:>9} {t['reads']:>8} {t['writes']:>8} {t['taken']:>7} "
                 f"{t['mul'] + t['mull']:>8} {t['cycles']:>9} {t.get('cycles_per_mac', 0):>8}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line: --board BOARD ELF."""
    ap = argparse.ArgumentParser(prog="python -m host.cycles", description=__doc__.splitlines()[0])
    ap.add_argument("--board", default="mps2_an505")
    ap.add_argument("elf")
    args = ap.parse_args(argv)
    try:
        costs = measure_costs(boards.load(args.board), args.elf)
    except KilnError as exc:
        print(f"cycles: {exc}", file=sys.stderr)
        return 2
    print(format_costs(args.elf, costs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
