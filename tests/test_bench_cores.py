"""`scons bench-cores`: the benchmark on every emulated board (QEMU's M3, M4, M7
and M33), then instructions per MAC side by side, one column per core
(host/bench_cores.py), on a real model through scons and QEMU."""

from __future__ import annotations

import json

import pytest
from kiln import BUILD, boards
from support import have, run_scons, variant_path

pytestmark = [pytest.mark.skipif(not have("qemu-system-arm") or not have("arm-none-eabi-gcc"),
                                 reason="qemu-system-arm or arm-none-eabi-gcc missing (toolchain/setup)"),
              pytest.mark.slow]


def test_bench_cores_prints_every_emulated_core_side_by_side() -> None:
    model = variant_path("fashion_mnist", "ptq")
    proc = run_scons("-j2", "bench-cores", f"TFLITE={model}")
    cores = {b: boards.load(b).cpu for b in boards.emulated()}
    table = proc.stdout[proc.stdout.index("instructions per MAC on each emulated core"):]
    header = table.splitlines()[1]
    assert all(cpu in header for cpu in cores.values()), header
    row = json.loads((BUILD / "bench_cores.json").read_text())["tflite"]
    assert set(row) == set(cores.values())
    for board, cpu in cores.items():
        fig = row[cpu]
        assert fig["board"] == board and fig["portable_instructions_per_mac"] > 10
        if cpu == "cortex-m3":  # no DSP extension: the portable image alone
            assert fig["instructions_per_mac"] is None
        else:  # the DSP kernels, on each core that has the extension
            assert fig["instructions_per_mac"] < fig["portable_instructions_per_mac"] / 10
