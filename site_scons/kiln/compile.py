"""Command line of the ahead-of-time compiler.

    python -m kiln.compile model.tflite -o outdir [--name NAME] [--kernels portable] [--report]
                                                  [--optimize fit|speed|size] [--flash BYTES]
                                                  [--json plan.json]

Writes outdir/kiln_model.c and kiln_model.h; --report prints the memory plan
(per layer: tensor bytes, arena offset, lifetime; arena against the
theoretical minimum), weight bytes and MACs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kiln.atomic import write_atomic
from kiln.errors import describe_failure


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the exit status."""
    ap = argparse.ArgumentParser(prog="python -m kiln.compile", description="Compile a .tflite to C.")
    ap.add_argument("tflite", help="the .tflite model")
    ap.add_argument("-o", "--out", help="output directory for kiln_model.c/.h")
    ap.add_argument("--name", help="model name in the descriptor (default: the file stem)")
    ap.add_argument("--kernels", default="portable", help="portable, dsp or auto")
    ap.add_argument("--optimize", default="fit", help="weight layouts: fit (default), speed or size")
    ap.add_argument("--flash", type=int, help="the board's flash bytes, for --optimize fit/speed")
    ap.add_argument("--report", action="store_true", help="print the memory plan")
    ap.add_argument("--host-size", action="store_true",
                    help="also compile for the host and print the code size of runtime + model")
    ap.add_argument("--json", help="write the memory plan as JSON to this file")
    ap.add_argument("--verbose", action="store_true", help="tracebacks of internal errors")
    args = ap.parse_args(argv)
    from kiln import codegen

    try:
        from kiln.codegen.layout import Budget

        budget = Budget(args.optimize, args.flash, f"a {args.flash:,} B flash" if args.flash else "")
        model = codegen.compile_model(args.tflite, name=args.name, kernels=args.kernels, budget=budget)
        if args.out:
            for fname, text in model.render().items():
                write_atomic(Path(args.out) / fname, text)
    except Exception as exc:  # noqa: BLE001 - every failure is one line; a bug says so
        print(f"kiln.compile: {describe_failure(exc, f'compiling {args.tflite}', args.verbose)}",
              file=sys.stderr)
        return 2
    if args.report:
        print(model.plan.table())
        d = model.descriptor
        print(f"weights {d['weight_bytes']} bytes, {d['total_macs']} MACs, {len(d['layers'])} layers")
        for la in model.layers:
            print(f"  {la.op:<18} {la.kernel:<24} {la.macs:>10} MACs  {la.name[:60]}")
            if la.why:  # an optimized kernel was passed over: say why
                print(f"      not {la.why}")
    if args.host_size:
        from kiln.hostcheck import host_code_size

        sizes = host_code_size(args.tflite, kernels=args.kernels)
        for part in ("runtime", "model"):
            s = sizes[part]
            print(f"host {part}: text {s['text']} data {s['data']} bss {s['bss']} bytes")
    if args.json:
        write_atomic(Path(args.json), model.plan.to_json() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
