"""The model fuzzer: mutated .tflite files through the compiler, counted by outcome.

    .venv/bin/python tests/fuzz/run.py                       # 100,000 cases, 2 workers
    .venv/bin/python tests/fuzz/run.py --cases 5000 --sanitize 200
    .venv/bin/python tests/fuzz/run.py --case 1234 --out m.tflite   # write one mutant

Each case is one seeded mutant (case i is the same file on every run) of one
seed model (tests/fuzz/mutate.py), compiled in a worker process with a time
limit and a memory limit. Outcomes:
  accepted                 compiled
  rejected.corrupt         "... is truncated or corrupt at ..."
  rejected.invalid         "... is invalid: ..."
  rejected.unsupported     an operator or layer Kiln has no kernel for
  rejected.other           another clear KilnError (not a .tflite, several inputs, ...)
  FAIL.internal            any other exception: a crash
  FAIL.hang                over the time limit
  FAIL.memory              over the memory limit
  FAIL.sanitizer           an accepted mutant whose generated C, built with
                           AddressSanitizer and UBSan, misbehaved on random inputs
Accepted mutants (distinct ones, up to --sanitize of them) are built with
sanitizers and run. The exit status is 1 when any case failed.
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import os
import random
import resource
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script: the repository's packages and tests/ the way pytest sees them.
    _ROOT = Path(__file__).resolve().parents[2]
    sys.path[:0] = [str(_ROOT / "tests"), str(_ROOT), str(_ROOT / "site_scons")]

import numpy as np

try:  # as a module of the tests (pytest puts tests/ on the path) or as a script
    from fuzz import mutate
except ImportError:
    import mutate  # type: ignore[no-redef]

#: Address space a worker may use: far above any real compile, far below the machine.
MEMORY_LIMIT = 4 << 30


class _Timeout(Exception):
    pass


@dataclass
class Outcome:
    """What one case did."""

    case: int
    seed: str
    mutation: str
    result: str
    detail: str = ""
    blob: bytes | None = None  # kept for accepted cases (the sanitizer runs) and failures


@dataclass
class Report:
    """Counts and examples of a run."""

    cases: int = 0
    by_result: Counter = field(default_factory=Counter)
    by_mutation: dict[str, Counter] = field(default_factory=dict)
    examples: dict[str, str] = field(default_factory=dict)
    failures: list[Outcome] = field(default_factory=list)
    sanitized: int = 0
    seconds: float = 0.0

    def add(self, o: Outcome) -> None:
        """Count one outcome."""
        self.cases += 1
        self.by_result[o.result] += 1
        self.by_mutation.setdefault(o.mutation, Counter())[o.result] += 1
        self.examples.setdefault(o.result, f"case {o.case} ({o.seed}, {o.mutation}): {o.detail[:300]}")
        if o.result.startswith("FAIL"):
            self.failures.append(o)

    def text(self) -> str:
        """The printed summary."""
        lines = [f"{self.cases} cases in {self.seconds:.0f} s; {self.sanitized} accepted mutants "
                 "run under AddressSanitizer + UBSan", "", "outcome counts:"]
        for result in sorted(self.by_result):
            lines.append(f"  {result:<22}{self.by_result[result]:>8}")
        lines += ["", "by mutation (accepted / corrupt / invalid / unsupported / other / FAIL):"]
        for kind in sorted(self.by_mutation):
            c = self.by_mutation[kind]
            fails = sum(v for k, v in c.items() if k.startswith("FAIL"))
            lines.append(f"  {kind:<22}{c['accepted']:>7}{c['rejected.corrupt']:>8}{c['rejected.invalid']:>8}"
                         f"{c['rejected.unsupported']:>8}{c['rejected.other']:>8}{fails:>6}")
        lines += ["", "an example of each outcome:"]
        lines += [f"  {k}: {v}" for k, v in sorted(self.examples.items())]
        if self.failures:
            lines += ["", f"FAILURES ({len(self.failures)}; reproduce with --case N --out file.tflite):"]
            lines += [f"  case {o.case} {o.seed} {o.mutation} {o.result}: {o.detail[:500]}"
                      for o in self.failures[:30]]
        return "\n".join(lines)


def mutant(case: int, seed: int) -> tuple[str, str, bytes]:
    """(seed model name, mutation class, bytes) of one case: the same on every run."""
    r = random.Random(f"{seed}:{case}")
    files = mutate.seed_files()
    path = files[r.randrange(len(files))]
    kind, blob = next(mutate.mutants(path.read_bytes(), r, 1))
    return path.stem, kind, blob


def classify(message: str) -> str:
    """The rejection class of a KilnError's message."""
    if message.startswith("internal error"):
        return "FAIL.internal"
    if "truncated or corrupt" in message:
        return "rejected.corrupt"
    if " is invalid: " in message:
        return "rejected.invalid"
    if "unsupported" in message or "no kernel" in message:
        return "rejected.unsupported"
    return "rejected.other"


def _compile_case(case: int, seed: int, workdir: Path, timeout: float) -> Outcome:
    from kiln.codegen import compile_model
    from kiln.errors import KilnError

    name, kind, blob = mutant(case, seed)
    path = workdir / f"{name}.tflite"
    path.write_bytes(blob)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        compile_model(path)
        return Outcome(case, name, kind, "accepted", blob=blob)
    except KilnError as exc:
        return Outcome(case, name, kind, classify(str(exc)), str(exc))
    except _Timeout:
        return Outcome(case, name, kind, "FAIL.hang", f"over {timeout} s", blob=blob)
    except MemoryError:
        return Outcome(case, name, kind, "FAIL.memory", "over the memory limit", blob=blob)
    except Exception as exc:  # noqa: BLE001 - every escape is what the fuzzer is looking for
        where = traceback.extract_tb(exc.__traceback__)[-1]
        return Outcome(case, name, kind, "FAIL.internal",
                       f"{type(exc).__name__}: {exc} at {Path(where.filename).name}:{where.lineno}",
                       blob=blob)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _worker(args: tuple[list[int], int, float]) -> list[Outcome]:
    cases, seed, timeout = args

    def alarm(*_: object) -> None:
        raise _Timeout()

    signal.signal(signal.SIGALRM, alarm)
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, resource.RLIM_INFINITY))
    with tempfile.TemporaryDirectory(prefix="kiln-fuzz-") as tmp:
        return [_compile_case(c, seed, Path(tmp), timeout) for c in cases]


def sanitize(outcome: Outcome, inputs: int = 4) -> Outcome | None:
    """Build an accepted mutant with sanitizers and run random inputs; a failing Outcome or None."""
    from kiln.errors import KilnError
    from kiln.hostcheck import HostModel

    with tempfile.TemporaryDirectory(prefix="kiln-fuzz-san-") as tmp:
        path = Path(tmp) / f"{outcome.seed}.tflite"
        path.write_bytes(outcome.blob or b"")
        try:
            hm = HostModel(path, sanitize=True, workdir=Path(tmp) / "build")
            rng = np.random.default_rng(outcome.case)
            if hm.in_dtype.kind == "f":
                xs = rng.standard_normal((inputs, *hm.in_shape)).astype(hm.in_dtype)
            else:
                info = np.iinfo(hm.in_dtype)
                xs = rng.integers(info.min, info.max, (inputs, *hm.in_shape), endpoint=True)
                xs = xs.astype(hm.in_dtype)
            hm.invoke_many(xs)
        except KilnError as exc:
            return Outcome(outcome.case, outcome.seed, outcome.mutation, "FAIL.sanitizer", str(exc),
                           outcome.blob)
    return None


def run(cases: range, seed: int = 0, jobs: int = 2, timeout: float = 20.0, sanitize_max: int = 1000,
        progress: bool = False) -> Report:
    """Run `cases` and return the report."""
    start = time.monotonic()
    report = Report()
    chunk = 50
    batches = [(list(cases[i:i + chunk]), seed, timeout) for i in range(0, len(cases), chunk)]
    accepted: dict[str, Outcome] = {}
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(jobs, maxtasksperchild=20) as pool:
        for done, outcomes in enumerate(pool.imap_unordered(_worker, batches), 1):
            for o in outcomes:
                report.add(o)
                if o.result == "accepted" and len(accepted) < sanitize_max:
                    accepted.setdefault(hashlib.sha256(o.blob).hexdigest(), o)
            if progress:
                print(f"\r  {min(done * chunk, len(cases))}/{len(cases)} cases", end="", file=sys.stderr,
                      flush=True)
    if progress:
        print(file=sys.stderr)
    for o in accepted.values():
        failed = sanitize(o)
        report.sanitized += 1
        if failed is not None:
            report.add(failed)
            report.cases -= 1  # the same case, counted once
    report.seconds = time.monotonic() - start
    return report


def main(argv: list[str] | None = None) -> int:
    """Command line."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=100_000)
    ap.add_argument("--first", type=int, default=0, help="first case number")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--timeout", type=float, default=20.0, help="seconds per case")
    ap.add_argument("--sanitize", type=int, default=1000, help="accepted mutants to run with sanitizers")
    ap.add_argument("--case", type=int, help="only write this case's mutant (with --out)")
    ap.add_argument("--out", type=Path, help="where --case writes the mutant")
    args = ap.parse_args(argv)
    if args.case is not None:
        name, kind, blob = mutant(args.case, args.seed)
        out = args.out or Path(f"fuzz-case-{args.case}.tflite")
        out.write_bytes(blob)
        print(f"case {args.case}: {kind} of {name} -> {out}")
        return 0
    report = run(range(args.first, args.first + args.cases), args.seed, args.jobs, args.timeout,
                 args.sanitize, progress=sys.stderr.isatty())
    print(report.text())
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
