"""The cost figures beside instruction counts (host/cycles.py with the QEMU
plugin host/qemu_plugin/kiln_counts.c), on a real firmware image in QEMU:
the plugin's instruction counts agree with the firmware's own -icount timer,
its memory-access counts with what a kernel must touch, and the cycle
estimate follows its stated model."""

from __future__ import annotations

import pytest
from kiln import ROOT, bench, paths
from support import have, run_scons, variant_path

from host import cycles
from host.client import Client
from host.qemu import Qemu

pytestmark = [pytest.mark.skipif(not have("qemu-system-arm") or not have("arm-none-eabi-gcc"),
                                 reason="qemu-system-arm or arm-none-eabi-gcc missing (toolchain/setup)"),
              pytest.mark.slow]

BOARD = bench.board_for("")


@pytest.fixture(scope="module")
def costs() -> tuple[dict, list[int], int]:
    """cifar_cnn/ptq on the dsp kernels: the plugin's figures, and PROFILE's
    per-layer instruction counts and its resolution, from a separate run."""
    variant_path("cifar_cnn", "ptq")
    elf = paths.firmware_elf(BOARD.name, "cifar_cnn", "ptq", "dsp")
    run_scons(f"BOARD={BOARD.name}", str(elf.relative_to(ROOT)))
    measured = cycles.measure_costs(BOARD, elf)
    with Qemu.for_board(BOARD, elf) as q, Client(q.port) as client:
        model = client.info()["model"]
        n_out = sum(t["bytes"] for t in model["outputs"])
        list(client.infer_stream([(0, cycles.random_input(model))], n_out))   # the same input
        profile = client.profile()
    assert BOARD.emulator is not None
    return measured, profile, BOARD.emulator.resolution


def test_plugin_instructions_agree_with_the_firmware_timer(costs) -> None:
    measured, profile, resolution = costs
    total = measured["total"]
    assert abs(total["insns"] - total["reported_instructions"]) <= resolution
    for layer, timer in zip(measured["layers"], profile, strict=True):
        assert abs(layer["insns"] - timer) <= resolution, layer


def test_memory_accesses_are_what_the_kernels_touch(costs) -> None:
    """The residual ADD reads two int8 inputs and two table entries per
    element and writes one byte per element (16x16x16 elements)."""
    measured, _, _ = costs
    add = next(la for la in measured["layers"] if la["op"] == "ADD")
    n = 16 * 16 * 16
    assert 4 * n <= add["reads"] <= 4 * n + 100
    assert n <= add["writes"] <= n + 100
    conv = [la for la in measured["layers"] if la["kernel"] == "kiln_dsp_conv_s8"]
    assert all(la["mul"] >= la["macs"] // 2 for la in conv)   # SMLAD: two MACs each at most


def test_cycle_estimate_follows_the_timing_model(costs) -> None:
    measured, _, _ = costs
    for la in [*measured["layers"], measured["total"]]:
        expected = (la["insns"] + la["reads"] + la["writes"] + 2 * la["taken"] + 10 * la["div"])
        assert la["cycles"] == expected
        assert la["cycles"] > la["insns"]
