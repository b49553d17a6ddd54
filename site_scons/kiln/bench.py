"""The instruction benchmark: portable vs Cortex-M33 kernels on the emulated board.

For each network, two firmware images of the same model (KERNELS=portable and
KERNELS=cm33) boot in QEMU's mps2-an505 under `-icount shift=0`, run a few
INFERs and report PROFILE's per-layer costs. There one guest instruction is
one nanosecond and the board's 20 MHz timer ticks every 50 instructions, so costs
are instruction counts with a resolution of 50, and each layer's cost
includes the profiling call (a few tens of instructions).

    python -m kiln.bench --out build/bench.json NET=PORTABLE_ELF,CM33_ELF ...

Prints one table per network and writes the JSON: per network `macs`,
`instructions`, `instructions_per_mac`, `layers` (each with the same keys
plus name, op and kernel), and the same under `portable`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kiln import ROOT
from kiln.atomic import write_json
from kiln.errors import KilnError

#: Networks the benchmark runs (those present under models/), with their variant.
NETS = (("fashion_mnist", "ptq"), ("cifar_cnn", "ptq"))
INFERS = 3
RESOLUTION = 50
NOTE = ("instructions on QEMU mps2-an505 (-icount shift=0), from a 20 MHz timer: resolution "
        f"{RESOLUTION} instructions; per-layer costs include the profiling call")


def _ratio(a: float, b: float) -> float:
    return round(a / b, 3) if b else 0.0


def measure(elf: str | Path, infers: int = INFERS, seed: int = 0) -> dict:
    """Boot `elf`, run `infers` seeded random inputs, return the model, the
    total cost of the last INFER, its per-layer PROFILE and every output."""
    sys.path.insert(0, str(ROOT))  # the host package sits at the repository root
    import numpy as np  # here, not at the top: the SCons tool imports this module on every build

    from host.client import Client
    from host.qemu import Qemu

    rng = np.random.default_rng(seed)
    with Qemu(elf) as q, Client(q.port) as client:
        info = client.info()
        model = info.get("model", info)
        n_in, n_out = int(model["input"]["bytes"]), int(model["output"]["bytes"])
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


def compare(net: str, variant: str, portable: dict, cm33: dict) -> dict:
    """One network's entry: the optimized figures, `portable` beside them,
    the speed-ups and whether both images gave the same outputs."""
    opt, ref = summarize(cm33), summarize(portable)
    if len(opt["layers"]) != len(ref["layers"]):
        raise KilnError(f"{net}: the two images have different layer counts")
    for lo, lr in zip(opt["layers"], ref["layers"], strict=True):
        lo["portable_instructions"] = lr["instructions"]
        # A layer fused into the one before it costs nothing of its own: at
        # most one tick of the 50-instruction counter, which is noise.
        fused = lo["instructions"] <= RESOLUTION
        lo["speedup"] = None if fused else _ratio(lr["instructions"], lo["instructions"])
    return {"variant": variant, **opt, "portable": ref,
            "speedup": _ratio(ref["instructions"], opt["instructions"]),
            "outputs_identical": portable["outputs"] == cm33["outputs"]}


def table(net: str, entry: dict) -> str:
    """The printed table of one network."""
    lines = [f"{net}/{entry['variant']}: instructions per inference, portable vs cm33 kernels",
             f"  {'layer':<6}{'op':<19}{'kernel':<26}{'MACs':>9}{'portable':>11}{'cm33':>10}"
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




def run(pairs: list[tuple[str, str, str, str]], out: Path) -> dict:
    """Measure (net, variant, portable_elf, cm33_elf) pairs, print, write `out`."""
    data: dict = {"note": NOTE}
    for net, variant, elf_p, elf_c in pairs:
        entry = compare(net, variant, measure(elf_p), measure(elf_c))
        print(table(net, entry))
        print()
        data[net] = entry
    write_json(out, data)
    print(f"bench: written {out}")
    return data


def main(argv: list[str] | None = None) -> int:
    """Command line: --out FILE NET:VARIANT=PORTABLE_ELF,CM33_ELF ..."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "bench.json")
    ap.add_argument("pairs", nargs="+", help="NET:VARIANT=PORTABLE_ELF,CM33_ELF")
    args = ap.parse_args(argv)
    pairs = []
    for item in args.pairs:
        try:
            key, elfs = item.split("=", 1)
            net, variant = key.split(":", 1)
            elf_p, elf_c = elfs.split(",", 1)
        except ValueError:
            print(f"bench: bad argument '{item}': use NET:VARIANT=PORTABLE_ELF,CM33_ELF", file=sys.stderr)
            return 2
        pairs.append((net, variant, elf_p, elf_c))
    try:
        run(pairs, args.out)
    except Exception as exc:  # QEMU, link and model errors all end the run here
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
