"""The build's variables, as a user types them: every mistake is one clear
SCons error that names the variable and what to type instead, and nothing
is built."""

from __future__ import annotations

import pytest
from kiln import registry
from support import run_scons


@pytest.mark.parametrize("args, expected", [
    (["MODLE=qat"], "unknown variable MODLE=qat (did you mean MODEL=qat?)"),
    (["VERBSE=1", "NET=fashion_mnist"], "unknown variable VERBSE=1 (did you mean VERBOSE=1?)"),
    (["BAUD=fast"], "BAUD=fast is not a baud rate: use a number such as BAUD=115200"),
    (["LIMIT=ten"], "LIMIT=ten is not a positive whole number"),
    (["COUNT=0"], "COUNT=0 is not a positive whole number"),
    (["MODEL=qta"], "Invalid value for enum variable 'MODEL': 'qta'"),
    (["NET=nosuchnet"], "unknown NET 'nosuchnet': a network is a folder models/<net>/ holding"),
    (["NET=fashion_mnst"], "unknown NET 'fashion_mnst' (did you mean NET=fashion_mnist?)"),
    (["MODEL=given"], "MODEL=given cannot be built for NET=fashion_mnist"),
    (["BOARD=nucleo"], "Invalid value for enum variable 'BOARD'"),
    (["KERNELS=fast"], "Invalid value for enum variable 'KERNELS'"),
    (["TFLITE=/no/such/model.tflite", "check-host"], "TFLITE=/no/such/model.tflite: no such file"),
    (["FLASH_BUDGET=lots", "size-report"], "FLASH_BUDGET='lots' is not a byte count"),
])
def test_a_bad_variable_is_one_clear_error(args: list[str], expected: str) -> None:
    proc = run_scons("-n", *args, check=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"scons: *** {expected}" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "QUANT" not in proc.stdout and "CC " not in proc.stdout  # nothing was about to be built


def test_unknown_variable_lists_the_valid_ones() -> None:
    proc = run_scons("-n", "MODLE=qat", check=False)
    for name in ("NET", "MODEL", "BOARD", "KERNELS", "BAUD"):
        assert name in proc.stderr.split("Valid variables:")[1]


def test_help_lists_every_variable_and_valid_value() -> None:
    text = run_scons("--help").stdout
    for name in ("NET", "MODEL", "BOARD", "KERNELS", "PORT", "BAUD", "LIMIT", "RESUME", "DATASET",
                 "LABELS", "TFLITE", "INPUTS", "COUNT", "PROGRAMMER", "FLASH_BUDGET", "RAM_BUDGET",
                 "VERBOSE"):
        assert f"\n{name}:" in text, name
    for value in (*registry.VARIANTS, *registry.boards()):
        assert value in text
