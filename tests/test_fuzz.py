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


# ---- whole random networks (tests/fuzz/nets.py) ---------------------------------------

@pytest.mark.slow
def test_random_networks_are_bit_exact_on_the_dsp_kernels() -> None:
    """Ten random networks of realistic operator mixes (image and sequence models, half
    patched as trained), each converted by TensorFlow and run in the sanitizer build with
    the dsp kernels: identical to tflite-micro. The long run is `python tests/fuzz/nets.py`."""
    from fuzz import nets

    outcomes = nets.run(range(10), seed=0)
    assert not [o for o in outcomes if o.result.startswith("FAIL")], "\n".join(
        f"{o.index} {o.result} {o.what}\n{o.detail}" for o in outcomes if o.result != "ok")
    # Not a run of degenerate or refused draws: most of them compare real outputs.
    assert sum(o.result == "ok" for o in outcomes) >= 8, [(o.index, o.result, o.detail) for o in outcomes]

