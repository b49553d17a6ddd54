"""The MPS2 boards QEMU emulates besides the AN505 (issue 14): mps2_an385
(Cortex-M3), mps2_an386 (Cortex-M4) and mps2_an500 (Cortex-M7) each build the
fashion_mnist ptq firmware, name their core in INFO and run inference
bit-identical to the host reference. The fast tests check the CPU table and
the kernel-set rules behind them."""

from __future__ import annotations

import json

import pytest
from kiln import boards, paths, registry
from kiln import firmware as fw
from kiln.errors import KilnError
from support import have, run_scons

#: board -> (core, QEMU machine, kernel set KERNELS=auto resolves to)
EXPECTED = {
    "mps2_an385": ("cortex-m3", "mps2-an385", "portable"),
    "mps2_an386": ("cortex-m4", "mps2-an386", "dsp"),
    "mps2_an500": ("cortex-m7", "mps2-an500", "dsp"),
}
NET, VARIANT = "fashion_mnist", "ptq"
SAMPLES = 100

needs_tools = pytest.mark.skipif(not have("qemu-system-arm") or not have("arm-none-eabi-gcc"),
                                 reason="qemu-system-arm or arm-none-eabi-gcc missing (toolchain/setup)")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_board_folder_names_its_core_machine_and_memory(name: str) -> None:
    cpu, machine, kernels = EXPECTED[name]
    board = boards.load(name)
    assert (board.cpu, board.emulator.machine, board.clock_hz) == (cpu, machine, 25_000_000)
    # -icount shift=0: 1 ns per instruction, so a 25 MHz tick is 40 instructions.
    assert board.emulator.resolution == 1_000_000_000 // board.clock_hz == 40
    regions = {r.name: (r.origin, r.length, r.kind) for r in board.regions}
    assert regions == {"FLASH": (0x0, 0x400000, "flash"), "RAM": (0x20000000, 0x400000, "ram")}
    assert fw.resolve_kernels("auto", fw.cpu_flags(cpu)) == kernels


def test_cpu_flags_match_the_cores() -> None:
    m4, m7 = fw.cpu_flags("cortex-m4"), fw.cpu_flags("cortex-m7")
    assert "-mfpu=fpv4-sp-d16" in m4.cpu_flags and "-mfloat-abi=hard" in m4.cpu_flags
    assert "-mfpu=fpv5-d16" in m7.cpu_flags and "-mfloat-abi=hard" in m7.cpu_flags
    for soft in ("cortex-m3", "cortex-m0plus"):
        flags = fw.cpu_flags(soft)
        assert f"-mcpu={soft}" in flags.cpu_flags and "-mfloat-abi=soft" in flags.cpu_flags
        assert not any(f.startswith("-mfpu") for f in flags.cpu_flags)
        assert fw.resolve_kernels("auto", flags) == fw.resolve_kernels("portable", flags) == "portable"


def test_every_core_of_the_dsp_set_has_a_single_precision_fpu() -> None:
    """The dsp set's float kernels (kiln/dsp.h) are written for the FPU: every
    cpus.toml entry that gets the set is compiled for hard float."""
    for cpu in fw.cpu_names():
        flags = fw.cpu_flags(cpu)
        if flags.kernels == "dsp":
            assert "-mfloat-abi=hard" in flags.cpu_flags, cpu
            assert any(f.startswith("-mfpu=fpv") for f in flags.cpu_flags), cpu


def test_optimized_kernels_on_a_core_without_them_are_refused() -> None:
    for cpu in ("cortex-m3", "cortex-m0plus"):
        with pytest.raises(KilnError, match=f"KERNELS=dsp: the dsp kernels do not run on {cpu}"):
            fw.resolve_kernels("dsp", fw.cpu_flags(cpu))
    assert fw.resolve_kernels("dsp", fw.cpu_flags("cortex-m4")) == "dsp"


def test_the_default_emulated_board_keeps_the_default_boards_core() -> None:
    # Tools fall back on emulated()[0]: it must stay the stand-in for the default board.
    first = boards.load(boards.emulated()[0])
    assert first.cpu == boards.load(registry.DEFAULT_BOARD).cpu
    assert set(EXPECTED) <= set(boards.emulated())


@pytest.fixture(scope="module", params=sorted(EXPECTED))
def built(request: pytest.FixtureRequest) -> str:
    """The board's fashion_mnist ptq firmware, built once through scons."""
    name = request.param
    run_scons("-j2", f"BOARD={name}", f"NET={NET}", f"MODEL={VARIANT}")
    return name


@needs_tools
@pytest.mark.slow
def test_board_answers_info_with_its_core_and_infers_bit_exact(built: str) -> None:
    cpu, _, kernels = EXPECTED[built]
    args = (f"BOARD={built}", f"NET={NET}", f"MODEL={VARIANT}")
    info = run_scons("info", *args, timeout=300)
    assert f"board     {built} ({cpu}) at 25 MHz" in info.stdout
    run_scons("infer", f"LIMIT={SAMPLES}", *args, timeout=600)
    summary = json.loads((paths.firmware_dir(built, NET, VARIANT, kernels) / "infer.json").read_text())
    assert summary["board"] == built and summary["samples"] == SAMPLES
    assert summary["fidelity"] == 1.0 and summary["max_abs_diff"] == 0.0
    assert summary["device_errors"] == 0
