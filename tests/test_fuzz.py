"""The model fuzzer in the full suite: a few thousand seeded mutants of the
seed models through the compiler, and a sample of the accepted ones through
the sanitizer build. No crash, no hang, no memory blow-up, no sanitizer
error. The long run is `python tests/fuzz/run.py` (100,000 cases)."""

from __future__ import annotations

import pytest
from fuzz import run


@pytest.mark.slow
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
    (2585, 0, "a depthwise bias overwritten with INT32_MAX: signed overflow when the bias was added "
              "(now refused: the accumulator could overflow)"),
    (109402, 0, "RESHAPE turned into SHAPE: folded to 4 values for a 32-value tensor the dense layer "
                "read in full (now invalid)"),
    (9730, 23, "an operator code turned into STRIDED_SLICE with 2 inputs: an index error in its "
               "builder (now invalid: the validator knows the arity of every operator read by "
               "position)"),
]


def test_cases_the_long_run_found_stay_fixed() -> None:
    """Each is refused with a clear error now, or compiles and runs clean under the sanitizers."""
    for case, seed, what in FOUND:
        report = run.run(range(case, case + 1), seed=seed, jobs=1, sanitize_max=1)
        assert not report.failures, f"case {case} ({what}): {report.text()}"
