"""The instruction benchmark: portable vs optimized kernels on an emulated board.

For each network, two firmware images of the same model (KERNELS=portable and
the board's optimized set, e.g. dsp) boot in QEMU under the board's
`-icount shift` (0: one guest instruction is one nanosecond), run a few
INFERs and report PROFILE's per-layer costs. The board's timer ticks every
`resolution` instructions ([emulator] of its board.toml), so costs are
instruction counts with that resolution, and each layer's cost includes the
profiling call (a few tens of instructions).

    python -m host.bench --board BOARD --out FILE \
        NET:VARIANT=PORTABLE_ELF[,OPT_ELF[,SIZE_ELF[,DENSE_ELF]]] ...

On a CPU without an optimized kernel set (e.g. the Cortex-M3) the portable
image is measured alone (`--kernels portable`, one ELF per network): its
figures fill both columns, with a speed-up of 1.

A third image is the optimized set in the size layout (OPTIMIZE=size: int8
weights everywhere, kiln.codegen.layout); its figures go under `size_layout`
with its instructions relative to the default image's. A fourth, for one
.tflite (`scons bench TFLITE=`), is its dense image (SPARSE=off): each layer
that runs a sparse kernel is shown beside its dense kernel, instructions and
weight bytes, under `dense`.

`scons bench` runs it (site_tools/kiln_bench.py). Prints one table per
network, then a summary of all of them beside issue 13's targets
(kiln.bench.TARGETS: a pass/fail column, not an assertion), and writes the
JSON: per network `macs`, `instructions`, `instructions_per_mac`, `layers`
(each with the same keys plus name, op and kernel), `flash_bytes`,
`ram_bytes` and `arena_bytes` (from the ELF, as `scons size` counts them),
and the same under `portable`; beside them `target_instructions` and
`meets_target` (None for a network without a target).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from kiln import bench as kbench
from kiln import boards, paths, sizereport
from kiln.atomic import write_json
from kiln.boards import Board
from kiln.errors import KilnError

from host import cycles
from host.client import Client
from host.protocol import io_bytes
from host.qemu import Qemu

INFERS = 3


def note(board: Board) -> str:
    """What the figures are, from the board's facts (kept in bench.json)."""
    emu = board.emulator
    assert emu is not None
    return (f"{board.cost_unit} on QEMU {emu.machine} ({board.cpu}, -icount shift={emu.icount_shift}), "
            "from a "
            f"{board.clock_hz / 1e6:g} MHz timer: resolution {emu.resolution} {board.cost_unit}; "
            "per-layer costs include the profiling call")


def _ratio(a: float, b: float) -> float:
    return round(a / b, 3) if b else 0.0


def footprint(board: Board, elf: str | Path) -> dict:
    """Flash and RAM the image uses on `board` (text + data, data + bss, as
    `arm-none-eabi-size` and `scons size` count them) and the model's arena
    (the generated kiln_arena array; 0 when the symbol is absent)."""
    rep = sizereport.report(Path(elf), None, board)
    with open(elf, "rb") as fh:
        symbols = sizereport.ElfReader(fh).symbols
    arena = next((s["size"] for s in symbols if s["name"] == "kiln_arena"), 0)
    return {"flash_bytes": int(rep["flash_used"]), "ram_bytes": int(rep["ram_used"]),
            "arena_bytes": int(arena)}


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
            "outputs": [r.output for r in results], "footprint": footprint(board, elf)}


def part_runs(descs: list[dict]) -> list[int]:
    """The lengths of the runs of adjacent layers that are parts of one model operator
    (kiln.lowering: the same name and operator), 1 for a whole one."""
    runs: list[int] = []
    for k, d in enumerate(descs):
        if k and (d["name"], d["op"]) == (descs[k - 1]["name"], descs[k - 1]["op"]):
            runs[-1] += 1
        else:
            runs.append(1)
    return runs


def merge_runs(values: list, runs: list[int], combine) -> list:  # noqa: ANN001 - a 2-argument function
    """`values` (one per layer of an image) folded with `combine` over each run."""
    out, at = [], 0
    for n in runs:
        v = values[at]
        for w in values[at + 1:at + n]:
            v = combine(v, w)
        out.append(v)
        at += n
    return out


def summarize(run: dict) -> dict:
    """The JSON figures of one measured image: one layer per model operator (the parts
    of a rewritten one summed, their kernels joined by "+"; `parts` says how many each
    had, when one had several)."""
    layers = []
    for desc, cost in zip(run["model"]["layers"], run["layers"], strict=True):
        layers.append({"name": desc["name"], "op": desc["op"], "kernel": desc["kernel"],
                       "macs": int(desc["macs"]), "instructions": int(cost)})
    runs = part_runs(layers)
    layers = merge_runs(layers, runs, lambda a, b: {
        **a, "kernel": f"{a['kernel']}+{b['kernel']}", "macs": a["macs"] + b["macs"],
        "instructions": a["instructions"] + b["instructions"]})
    for la in layers:
        la["instructions_per_mac"] = _ratio(la["instructions"], la["macs"])
    macs = sum(la["macs"] for la in layers)
    out = {"macs": macs, "instructions": int(run["total"]),
           "instructions_per_mac": _ratio(run["total"], macs), "layers": layers, **run.get("footprint", {})}
    if max(runs, default=1) > 1:
        out["parts"] = runs
    return out


def compare(net: str, variant: str, portable: dict, optimized: dict, resolution: int) -> dict:
    """One network's entry: the optimized figures, `portable` beside them,
    the speed-ups and whether both images gave the same outputs."""
    opt, ref = summarize(optimized), summarize(portable)
    if [(la["name"], la["op"]) for la in opt["layers"]] != [(la["name"], la["op"]) for la in ref["layers"]]:
        raise KilnError(f"{net}: the two images' layers do not line up")
    for lo, lr in zip(opt["layers"], ref["layers"], strict=True):
        lo["portable_instructions"] = lr["instructions"]
        # A layer fused into the one before it costs nothing of its own: at
        # most one tick of the counter, which is noise.
        fused = lo["instructions"] <= resolution
        lo["speedup"] = None if fused else _ratio(lr["instructions"], lo["instructions"])
    target = kbench.TARGETS.get(net)
    return {"variant": variant, **opt, "portable": ref,
            "speedup": _ratio(ref["instructions"], opt["instructions"]),
            "outputs_identical": portable["outputs"] == optimized["outputs"],
            "target_instructions": target,
            "meets_target": None if target is None else opt["instructions"] <= target}


def add_costs(entry: dict, costs: dict) -> None:
    """The optimized image's cost figures (host/cycles.py: memory accesses, taken
    branches, the cycle estimate) into its entry and each layer's."""
    keys = ("reads", "writes", "taken", "cycles")
    entry.update({k: costs["total"][k] for k in keys})
    entry["cycles_per_mac"] = _ratio(entry["cycles"], entry["macs"])
    per_layer = merge_runs(costs["layers"], entry.get("parts", [1] * len(costs["layers"])),
                           lambda a, b: {k: a[k] + b[k] for k in keys})
    for la, c in zip(entry["layers"], per_layer, strict=True):
        la.update({k: c[k] for k in keys})
        la["cycles_per_mac"] = _ratio(c["cycles"], la["macs"]) if la["macs"] else 0.0


def add_size_layout(entry: dict, run: dict, costs: dict | None, speed_outputs: list) -> None:
    """The size-layout image's figures into `entry["size_layout"]`: instructions, per MAC,
    against the default image (`vs_speed`), cycles, flash, RAM, arena, and whether its
    outputs equal the default image's (`speed_outputs`)."""
    s = summarize(run)
    size = {k: s[k] for k in ("instructions", "instructions_per_mac", "flash_bytes", "ram_bytes",
                              "arena_bytes") if k in s}
    size["vs_speed"] = _ratio(s["instructions"], entry["instructions"])
    size["outputs_identical"] = run["outputs"] == speed_outputs
    size["kernels"] = sorted({la["kernel"] for la in s["layers"]})
    size["layers"] = [{"kernel": la["kernel"], "instructions": la["instructions"]} for la in s["layers"]]
    if costs is not None:
        size["cycles"] = costs["total"]["cycles"]
        size["cycles_per_mac"] = _ratio(size["cycles"], s["macs"])
    entry["size_layout"] = size


def _layer_bytes(elf: str | Path) -> list[int]:
    """Each layer's weight bytes, from the compiler's report beside the image (gen/)."""
    import json

    rep = json.loads((Path(elf).parent / "gen" / paths.LAYERS_REPORT).read_text())
    return merge_runs([int(la.get("weight_bytes", 0)) for la in rep["layers"]], part_runs(rep["layers"]),
                      lambda a, b: a + b)


def add_dense(entry: dict, run: dict, elf_o: str | Path, elf_d: str | Path, speed_outputs: list) -> None:
    """A pruned model's dense image (SPARSE=off) beside the default one: per layer its
    kernel, instructions and weight bytes next to the default image's, and in
    `entry["dense"]` its totals and whether its outputs equal the default image's."""
    d = summarize(run)
    for la, ld, wb, wd in zip(entry["layers"], d["layers"], _layer_bytes(elf_o), _layer_bytes(elf_d),
                              strict=True):
        la.update(weight_bytes=wb, dense_kernel=ld["kernel"], dense_instructions=ld["instructions"],
                  dense_weight_bytes=wd)
    sparse = [la for la in entry["layers"] if la["kernel"] != la["dense_kernel"]]
    entry["dense"] = {
        "instructions": d["instructions"], "flash_bytes": d.get("flash_bytes"),
        "outputs_identical": run["outputs"] == speed_outputs,
        "sparse_layers": len(sparse),
        "sparse_layer_instructions": sum(la["instructions"] for la in sparse),
        "dense_layer_instructions": sum(la["dense_instructions"] for la in sparse),
        "sparse_layer_weight_bytes": sum(la["weight_bytes"] for la in sparse),
        "dense_layer_weight_bytes": sum(la["dense_weight_bytes"] for la in sparse)}


def dense_lines(entry: dict) -> list[str]:
    """The printed comparison of the sparse layers with their dense kernels."""
    dense = entry.get("dense")
    if not dense:
        return []
    rows = [f"  sparse layers against the dense image (SPARSE=off), outputs identical: "
            f"{'yes' if dense['outputs_identical'] else 'NO'}"]
    for i, la in enumerate(entry["layers"]):
        if la["kernel"] != la["dense_kernel"]:
            speedup = _ratio(la["dense_instructions"], la["instructions"])
            rows.append(f"    {i:<4}{la['op'][:18]:<19}{la['dense_kernel'][:24]:<25}"
                        f"{la['dense_instructions']:>9} -> {la['instructions']:>9} ({speedup}x), "
                        f"weights {la['dense_weight_bytes']:>7} -> {la['weight_bytes']:>7} B")
    if dense["sparse_layers"]:
        rows.append(f"    sparse layers in all: {dense['dense_layer_instructions']} -> "
                    f"{dense['sparse_layer_instructions']} instructions "
                    f"({_ratio(dense['dense_layer_instructions'], dense['sparse_layer_instructions'])}x), "
                    f"weights {dense['dense_layer_weight_bytes']} -> {dense['sparse_layer_weight_bytes']} B "
                    f"({_ratio(dense['sparse_layer_weight_bytes'], dense['dense_layer_weight_bytes'])}); "
                    f"whole image {dense['instructions']} -> {entry['instructions']} instructions, "
                    f"flash {dense['flash_bytes']} -> {entry.get('flash_bytes')} B")
    else:
        rows.append("    no layer runs a sparse kernel: the images are the same")
    return rows


def table(net: str, entry: dict, optimized: str, core: str = "") -> str:
    """The printed table of one network; `optimized` names the faster kernel set
    (`portable` when the core has none), `core` the CPU the figures are of."""
    on = f" on {core}" if core else ""
    versus = "portable kernels only (no optimized set for this core)" if optimized == "portable" \
        else f"portable vs {optimized} kernels"
    lines = [f"{net}/{entry['variant']}: instructions per inference{on}, {versus}",
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
    if "cycles" in entry:
        lines.append(f"  {optimized} cost (host/cycles.py): {entry['cycles']} estimated cycles "
                     f"({entry['cycles_per_mac']} per MAC), {entry['reads']} reads, "
                     f"{entry['writes']} writes, {entry['taken']} taken branches")
    lines.append(f"  outputs of the two images identical on {INFERS} inputs: "
                 f"{'yes' if entry['outputs_identical'] else 'NO'}")
    if "flash_bytes" in entry:
        lines.append(f"  flash / RAM / arena bytes: portable {ref['flash_bytes']} / {ref['ram_bytes']} / "
                     f"{ref['arena_bytes']}, {optimized} {entry['flash_bytes']} / {entry['ram_bytes']} / "
                     f"{entry['arena_bytes']}")
    size = entry.get("size_layout")
    if size:
        lines.append(f"  size layout (OPTIMIZE=size, int8 weights): {size['instructions']} instructions "
                     f"({size['instructions_per_mac']} per MAC, {size['vs_speed']}x the default image), "
                     + (f"{size['cycles']} estimated cycles, " if "cycles" in size else "")
                     + f"flash / RAM / arena {size.get('flash_bytes')} / {size.get('ram_bytes')} / "
                     f"{size.get('arena_bytes')}, outputs identical: "
                     f"{'yes' if size['outputs_identical'] else 'NO'}")
    lines += dense_lines(entry)
    slow = fallbacks(entry, optimized)
    if slow:
        lines.append(f"  portable kernels in the {optimized} image: " + ", ".join(slow))
    return "\n".join(lines)


#: Operators with an optimized kernel in some form; a portable kernel for one is a fallback worth naming.
_OPTIMIZED_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


def fallbacks(entry: dict, optimized: str) -> list[str]:
    """'index op (kernel)' of the convolution, depthwise and dense layers that
    run a portable kernel in the optimized image (optimized kernels are named
    kiln_<set>_...); none when the core has no optimized set."""
    if optimized == "portable":
        return []
    return [f"{i} {la['op']} ({la['kernel']})" for i, la in enumerate(entry["layers"])
            if la["op"] in _OPTIMIZED_OPS and not la["kernel"].startswith(f"kiln_{optimized}_")]


def _mega(n: float) -> str:
    return f"{n / 1e6:.3f}M"


def summary(data: dict, optimized: str, core: str = "") -> str:
    """One line per network: MACs, instructions portable and optimized, per MAC,
    flash, RAM and arena of the optimized image, and issue 13's target with
    pass/fail (a printed figure, not an assertion); `core`: the CPU measured."""
    head = (f"  {'network':<16}{'MACs':>9}{'portable':>11}{optimized:>10}{'p/MAC':>7}{'o/MAC':>7}"
            f"{'cycles':>10}{'c/MAC':>7}{'flash':>9}{'RAM':>8}{'arena':>8}{'target':>9}  result"
            f"{'size':>10}{'vs':>6}{'flash':>9}")
    on = f" on {core}" if core else ""
    lines = [f"suite{on}: instructions per inference (-icount); cycles: the {optimized} image's estimate "
             f"(host/cycles.py); flash, RAM, arena: its bytes; size: the size layout's (OPTIMIZE=size) "
             "instructions, their ratio to the default image's, and its flash",
             head]
    for net, entry in data.items():
        if not isinstance(entry, dict) or "instructions" not in entry:
            continue
        target = entry.get("target_instructions")
        verdict = "-" if target is None else ("pass" if entry["meets_target"] else "FAIL")
        ref = entry["portable"]
        lines.append(f"  {net[:15]:<16}{_mega(entry['macs']):>9}{_mega(ref['instructions']):>11}"
                     f"{_mega(entry['instructions']):>10}{ref['instructions_per_mac']:>7}"
                     f"{entry['instructions_per_mac']:>7}"
                     f"{_mega(entry['cycles']) if 'cycles' in entry else '-':>10}"
                     f"{entry.get('cycles_per_mac', '-'):>7}"
                     f"{entry.get('flash_bytes', 0):>9}"
                     f"{entry.get('ram_bytes', 0):>8}{entry.get('arena_bytes', 0):>8}"
                     f"{_mega(target) if target else '-':>9}  "
                     + _size_columns(verdict, entry.get("size_layout")))
    return "\n".join(lines)



def _size_columns(verdict: str, size: dict | None) -> str:
    """The verdict, then the size layout's columns when it was measured."""
    if not size:
        return verdict
    return (f"{verdict:<6}{_mega(size['instructions']):>10}{size['vs_speed']:>6}"
            f"{size.get('flash_bytes', 0):>9}")


def run(board: Board, optimized: str, pairs: list[tuple[str, ...]], out: Path) -> dict:
    """Measure (net, variant, portable_elf, optimized_elf[, size_elf]) on `board`, print,
    write `out`. An optimized_elf of None (a core without an optimized set)
    measures the portable image alone, as both columns."""
    emu = board.emulator
    if emu is None:
        raise KilnError(f"bench needs an emulated board; {board.name} has no [emulator] section "
                        f"(emulated boards: {', '.join(boards.emulated()) or 'none'})")
    data: dict = {"note": note(board), "board": board.name, "cpu": board.cpu, "kernels": optimized}
    for net, variant, elf_p, elf_o, *more in pairs:
        elf_s = more[0] if more else None
        elf_d = more[1] if len(more) > 1 else None   # a TFLITE= run's dense image
        opt = measure(board, elf_o or elf_p)
        entry = compare(net, variant, measure(board, elf_p) if elf_o else opt, opt, emu.resolution)
        add_costs(entry, cycles.measure_costs(board, elf_o or elf_p))
        if elf_s:
            add_size_layout(entry, measure(board, elf_s), cycles.measure_costs(board, elf_s),
                            opt["outputs"])
        if elf_d:
            add_dense(entry, measure(board, elf_d), elf_o, elf_d, opt["outputs"])
        print(table(net, entry, optimized, board.cpu))
        print()
        data[net] = entry
    print(summary(data, optimized, board.cpu))
    print()
    write_json(out, data)
    print(f"bench: written {out}")
    return data


def main(argv: list[str] | None = None) -> int:
    """Command line: --board BOARD [--kernels SET] --out FILE
    NET:VARIANT=PORTABLE_ELF,OPT_ELF[,SIZE_ELF[,DENSE_ELF]] ..."""
    ap = argparse.ArgumentParser(prog="python -m host.bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--board", required=True, help=f"an emulated board: {', '.join(boards.emulated())}")
    ap.add_argument("--kernels", default="dsp", help="the optimized kernel set measured against portable")
    ap.add_argument("--out", type=Path, default=paths.bench_json())
    ap.add_argument("pairs", nargs="+", help="NET:VARIANT=PORTABLE_ELF[,OPT_ELF[,SIZE_ELF[,DENSE_ELF]]]")
    args = ap.parse_args(argv)
    pairs = []
    for item in args.pairs:
        try:
            key, elfs = item.split("=", 1)
            net, variant = key.split(":", 1)
            elf_p, *rest = elfs.split(",")
            if len(rest) > 3:
                raise ValueError(item)
        except ValueError:
            print(f"bench: bad argument '{item}': use "
                  "NET:VARIANT=PORTABLE_ELF[,OPT_ELF[,SIZE_ELF[,DENSE_ELF]]]", file=sys.stderr)
            return 2
        pairs.append((net, variant, elf_p, *(rest + [None] * (3 - len(rest)))))
    try:
        run(boards.load(args.board), args.kernels, pairs, args.out)
    except Exception as exc:  # QEMU, link and model errors all end the run here
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
