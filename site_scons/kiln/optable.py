"""The supported-operator table, generated from the kernel registry (never typed by hand).

    python -m kiln.optable                    print it (what `scons ops` runs)
    python -m kiln.optable --write FILE       write docs/operators.md
    python -m kiln.optable --check FILE       exit 1 when FILE is not the current table
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import kiln.codegen  # noqa: F401 - imports every kernel family, so the registry is complete
from kiln.codegen import registry
from kiln.lowering import LOWERED

HEADER = """# Operators

Generated from the kernel registry by `python -m kiln.optable --write docs/operators.md`
(`scons ops` prints the same table); a test fails when this file and the registry disagree.

A dtype is the data input's (`in->out` where the output's differs). *hybrid*: float32
activations with int8 weights (the `dynamic` variant). Optimized kernels run where the board's
CPU has them (`KERNELS=auto`); every layer falls back to the portable kernel otherwise.
Each family's integer arithmetic, and what it refuses and why, is in `docs/ops/`:
[activation](ops/activation.md), [elementwise](ops/elementwise.md),
[movement and reductions](ops/movement.md), [spatial](ops/spatial.md),
[int16 (16x8) and quantization](ops/int16.md), [recurrent](ops/recurrent.md); the convolutions,
pooling, softmax and quantization are in [runtime.md](runtime.md).
"""


def _label(impl: registry.KernelImpl) -> str:
    label = impl.dtype
    if impl.out_dtype:
        label = f"{impl.dtype}->{impl.out_dtype}"
    if impl.build.__module__.endswith(".hybrid"):
        label += " (hybrid)"
    return label


def rows() -> list[tuple[str, list[str], dict[str, list[str]]]]:
    """(operator, portable dtypes, {optimized set: dtypes}) for every registered operator, sorted."""
    sets = [s for s in registry.KERNEL_SETS if s != "portable"]
    ops: dict[str, tuple[set[str], dict[str, set[str]]]] = {}
    for impl in registry.entries():
        portable, optimized = ops.setdefault(impl.op, (set(), {s: set() for s in sets}))
        (portable if impl.kernel_set == "portable" else optimized[impl.kernel_set]).add(_label(impl))
    for (op, dtype), target in LOWERED.items():   # rewritten into operators those sets run
        for s in sets:
            ops[op][1][s].add(f"{dtype} (as {target})")
    return [(op, sorted(p), {s: sorted(o[s]) for s in sets}) for op, (p, o) in sorted(ops.items())]


def markdown() -> str:
    """The table as a Markdown page (docs/operators.md)."""
    sets = [s for s in registry.KERNEL_SETS if s != "portable"]
    lines = [HEADER, "| operator | dtypes | " + " | ".join(f"optimized ({s})" for s in sets) + " |",
             "|---|---|" + "---|" * len(sets)]
    for op, portable, optimized in rows():
        cells = [", ".join(optimized[s]) or "-" for s in sets]
        lines.append(f"| {op} | {', '.join(portable)} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"{len(rows())} operators.")
    return "\n".join(lines) + "\n"


def text() -> str:
    """The table for a terminal."""
    sets = [s for s in registry.KERNEL_SETS if s != "portable"]
    table = [("operator", "dtypes", *(f"optimized ({s})" for s in sets))]
    for op, portable, optimized in rows():
        table.append((op, ", ".join(portable), *(", ".join(optimized[s]) or "-" for s in sets)))
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    out = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in table]
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out) + f"\n{len(table) - 1} operators (docs/operators.md)\n"


def main(argv: list[str] | None = None) -> int:
    """Print, write or check the table."""
    ap = argparse.ArgumentParser(prog="python -m kiln.optable", description=__doc__.splitlines()[0])
    ap.add_argument("--write", type=Path, help="write the Markdown table to this file")
    ap.add_argument("--check", type=Path, help="exit 1 unless this file holds the current table")
    args = ap.parse_args(argv)
    if args.write:
        from kiln.atomic import write_atomic

        write_atomic(args.write, markdown().encode())
    elif args.check:
        current = args.check.read_text() if args.check.is_file() else ""
        if current != markdown():
            print(f"{args.check} is out of date: run python -m kiln.optable --write {args.check}",
                  file=sys.stderr)
            return 1
    else:
        print(text(), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
