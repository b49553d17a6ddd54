"""The instruction benchmark: portable vs optimized kernels on an emulated board.

For each network, two firmware images of the same model (KERNELS=portable and
the board's optimized set, e.g. cm33) boot in QEMU under the board's
`-icount shift` (0: one guest instruction is one nanosecond), run a few
INFERs and report PROFILE's per-layer costs. The board's timer ticks every
`resolution` instructions ([emulator] of its board.toml), so costs are
instruction counts with that resolution, and each layer's cost includes the
profiling call (a few tens of instructions).

    python -m host.bench --board BOARD --out build/bench.json NET:VARIANT=PORTABLE_ELF,OPT_ELF ...

`scons bench` runs it (site_tools/kiln_bench.py). Prints one table per
network and writes the JSON: per network `macs`, `instructions`,
`instructions_per_mac`, `layers` (each with the same keys plus name, op and
kernel), and the same under `portable`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from kiln import boards, paths
from kiln.atomic import write_json
from kiln.boards import Board
from kiln.errors import KilnError

from host.client import Client
from host.protocol import io_bytes
from host.qemu import Qemu

INFERS = 3


def note(board: Board) -> str:
    """What the figures are, from the board's facts (kept in bench.json)."""
    emu = board.emulator
    assert emu is not None
    return (f"{board.cost_unit} on QEMU {emu.machine} (-icount shift={emu.icount_shift}), from a "
            f"{board.clock_hz / 1e6:g} MHz timer: resolution {emu.resolution} {board.cost_unit}; "
            "per-layer costs include the profiling call")


def _ratio(a: float, b: float) -> float:
    return round(a / b, 3) if b else 0.0


def measure(board: Board, elf: str | Path, infers: int = INFERS, seed: int = 0) -> dict:
    """Boot `elf` on the emulated `board`, run `infers` seeded random inputs,
    return the model, the total cost of the last INFER, its per-layer PROFILE
    and every output."""
    rng = np.random.default_rng(seed)
    with Qemu.for_board(board, elf) as q, Client(q.port, board.default_baud) as client:
        info = client.info()
        model = info.get("model", info)
        n_in, n_out = io_bytes(model, "inputs"), io_bytes(model, "outputs")
        inputs = [(i, rng.integers(-128, 128, n_in, dtype=np.int8).tobytes()) for i in range(infers)]
        results = list(client.infer_stream(inputs, n_out))
        profile = client.profile()
    if profile is None or len(profile) != len(model["layers"]):
        raise KilnError(f"{elf}: PROFILE gave {profile!r} for {len(model['layers'])} layers")
    return {"model": model, "total": results[-1].cost, "layers": profile,
            "outputs": [r.output for r in results]}


def summarize(run: dict) -> dict:
    """The JSON figures of one measured image."""
    layers = []
    for desc, cost in zip(run["model"]["layers"], run["layers"], strict=True):
        macs = int(desc["macs"])
        layers.append({"name": desc["name"], "op": desc["op"], "kernel": desc["kernel"], "macs": macs,
                       "instructions": int(cost), "instructions_per_mac": _ratio(cost, macs)})
    macs = sum(la["macs"] for la in layers)
    return {"macs": macs, "instructions": int(run["total"]),
            "instructions_per_mac": _ratio(run["total"], macs), "layers": layers}


def compare(net: str, variant: str, portable: dict, optimized: dict, resolution: int) -> dict:
    """One network's entry: the optimized figures, `portable` beside them,
    the speed-ups and whether both images gave the same outputs."""
    opt, ref = summarize(optimized), summarize(portable)
    if len(opt["layers"]) != len(ref["layers"]):
        raise KilnError(f"{net}: the two images have different layer counts")
    for lo, lr in zip(opt["layers"], ref["layers"], strict=True):
        lo["portable_instructions"] = lr["instructions"]
        # A layer fused into the one before it costs nothing of its own: at
        # most one tick of the counter, which is noise.
        fused = lo["instructions"] <= resolution
        lo["speedup"] = None if fused else _ratio(lr["instructions"], lo["instructions"])
    return {"variant": variant, **opt, "portable": ref,
            "speedup": _ratio(ref["instructions"], opt["instructions"]),
            "outputs_identical": portable["outputs"] == optimized["outputs"]}


def table(net: str, entry: dict, optimized: str) -> str:
    """The printed table of one network; `optimized` names the faster kernel set."""
    lines = [f"{net}/{entry['variant']}: instructions per inference, portable vs {optimized} kernels",
             f"  {'layer':<6}{'op':<19}{'kernel':<26}{'MACs':>9}{'portable':>11}{optimized:>10}"
             f"{'p/MAC':>8}{'o/MAC':>8}{'speed-up':>10}"]
    for i, la in enumerate(entry["layers"]):
        pm = _ratio(la["portable_instructions"], la["macs"]) if la["macs"] else 0.0
        lines.append(f"  {i:<6}{la['op'][:18]:<19}{la['kernel'][:25]:<26}{la['macs']:>9}"
                     f"{la['portable_instructions']:>11}{la['instructions']:>10}"
                     f"{pm if la['macs'] else '-':>8}{la['instructions_per_mac'] if la['macs'] else '-':>8}"
                     + (f"{la['speedup']:>9}x" if la["speedup"] is not None else f"{'fused':>10}"))
    ref = entry["portable"]
    lines.append(f"  {'total':<51}{entry['macs']:>9}{ref['instructions']:>11}{entry['instructions']:>10}"
                 f"{ref['instructions_per_mac']:>8}{entry['instructions_per_mac']:>8}{entry['speedup']:>9}x")
    lines.append(f"  outputs of the two images identical on {INFERS} inputs: "
                 f"{'yes' if entry['outputs_identical'] else 'NO'}")
    return "\n".join(lines)




def run(board: Board, optimized: str, pairs: list[tuple[str, str, str, str]], out: Path) -> dict:
    """Measure (net, variant, portable_elf, optimized_elf) pairs on `board`, print, write `out`."""
    emu = board.emulator
    if emu is None:
        raise KilnError(f"bench needs an emulated board; {board.name} has no [emulator] section "
                        f"(emulated boards: {', '.join(boards.emulated()) or 'none'})")
    data: dict = {"note": note(board)}
    for net, variant, elf_p, elf_o in pairs:
        entry = compare(net, variant, measure(board, elf_p), measure(board, elf_o), emu.resolution)
        print(table(net, entry, optimized))
        print()
        data[net] = entry
    write_json(out, data)
    print(f"bench: written {out}")
    return data


def main(argv: list[str] | None = None) -> int:
    """Command line: --board BOARD [--kernels SET] --out FILE NET:VARIANT=PORTABLE_ELF,OPT_ELF ..."""
    ap = argparse.ArgumentParser(prog="python -m host.bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--board", required=True, help=f"an emulated board: {', '.join(boards.emulated())}")
    ap.add_argument("--kernels", default="cm33", help="the optimized kernel set measured against portable")
    ap.add_argument("--out", type=Path, default=paths.bench_json())
    ap.add_argument("pairs", nargs="+", help="NET:VARIANT=PORTABLE_ELF,OPT_ELF")
    args = ap.parse_args(argv)
    pairs = []
    for item in args.pairs:
        try:
            key, elfs = item.split("=", 1)
            net, variant = key.split(":", 1)
            elf_p, elf_o = elfs.split(",", 1)
        except ValueError:
            print(f"bench: bad argument '{item}': use NET:VARIANT=PORTABLE_ELF,OPT_ELF", file=sys.stderr)
            return 2
        pairs.append((net, variant, elf_p, elf_o))
    try:
        run(boards.load(args.board), args.kernels, pairs, args.out)
    except Exception as exc:  # QEMU, link and model errors all end the run here
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
