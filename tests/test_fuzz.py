"""The model fuzzer in the fast loop: a few thousand seeded mutants of the
seed models through the compiler, and a sample of the accepted ones through
the sanitizer build. No crash, no hang, no memory blow-up, no sanitizer
error. The long run is `python tests/fuzz/run.py` (100,000 cases)."""

from __future__ import annotations

from fuzz import run


def test_a_few_thousand_mutants_are_refused_clearly_or_compiled_safely() -> None:
    report = run.run(range(2000), seed=1, jobs=2, timeout=20.0, sanitize_max=25)
    print(report.text())
    assert report.cases == 2000
    assert not report.failures, report.text()
    # The mutants reach every outcome: the fuzzer is not stuck on one class.
    for result in ("accepted", "rejected.corrupt", "rejected.invalid", "rejected.unsupported"):
        assert report.by_result[result] > 0, result
    assert report.sanitized == 25


#: Cases the long run found, kept as regressions: (case, seed, what it was).
FOUND = [
    (2585, 0, "a depthwise bias overwritten with INT32_MAX: signed overflow when the bias was added"),
]


def test_cases_the_long_run_found_stay_fixed() -> None:
    for case, seed, what in FOUND:
        name, kind, blob = run.mutant(case, seed)
        outcome = run.Outcome(case, name, kind, "accepted", blob=blob)
        failed = run.sanitize(outcome, inputs=8)
        assert failed is None, f"case {case} ({what}): {failed.detail if failed else ''}"
