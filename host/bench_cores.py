"""The benchmark across cores: each emulated board's bench.json (written by
`python -m host.bench` for that board) side by side, one row per network,
one column pair per core: instructions per MAC of the optimized image, and of
the portable one. `scons bench-cores` runs it after benchmarking every
emulated board.

    python -m host.bench_cores --out build/bench_cores.json BENCH_JSON ...
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from kiln.atomic import write_json


def cores_table(runs: list[dict]) -> tuple[str, dict]:
    """The printed table and its JSON ({network: {cpu: {...}}}) of several boards' runs."""
    cpus = [r["cpu"] for r in runs]
    nets = [n for n, e in runs[0].items() if isinstance(e, dict) and "instructions" in e]
    for r in runs[1:]:
        nets += [n for n, e in r.items() if isinstance(e, dict) and "instructions" in e and n not in nets]
    width = 19
    head = f"  {'network':<16}{'MACs':>10}" + "".join(f"{c:>{width}}" for c in cpus)
    lines = ["instructions per MAC on each emulated core: optimized image (portable image); "
             "'-' where a core has no optimized set", head]
    data: dict = {}
    for net in nets:
        row, macs = [], None
        for run in runs:
            e = run.get(net)
            if not isinstance(e, dict):
                row.append(f"{'n/a':>{width}}")
                continue
            macs = e["macs"]
            portable = e["portable"]["instructions_per_mac"]
            optimized = None if run.get("kernels") == "portable" else e["instructions_per_mac"]
            data.setdefault(net, {})[run["cpu"]] = {
                "board": run["board"], "instructions": e["instructions"],
                "instructions_per_mac": optimized, "portable_instructions_per_mac": portable}
            opt = "-" if optimized is None else f"{optimized:.3f}"
            row.append(f"{opt + f' ({portable:.2f})':>{width}}")
        lines.append(f"  {net[:15]:<16}{macs or 0:>10}" + "".join(row))
    return "\n".join(lines), data


def main(argv: list[str] | None = None) -> int:
    """Command line: --out FILE BENCH_JSON ..."""
    ap = argparse.ArgumentParser(prog="python -m host.bench_cores", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("runs", nargs="+", type=Path, help="bench.json files, one per emulated board")
    args = ap.parse_args(argv)
    try:
        runs = [json.loads(p.read_text()) for p in args.runs]
    except (OSError, ValueError) as exc:
        print(f"bench-cores: cannot read a board's figures: {exc}; run `scons bench-cores` again",
              file=sys.stderr)
        return 1
    missing = [str(p) for p, r in zip(args.runs, runs, strict=True) if "cpu" not in r]
    if missing:
        print(f"bench-cores: {', '.join(missing)} predate bench-cores (no 'cpu' key); rerun the bench",
              file=sys.stderr)
        return 1
    text, data = cores_table(runs)
    print(text)
    write_json(args.out, data)
    print(f"bench-cores: written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
