"""What can be built: networks, variants, boards, and the aliases users call."""

from __future__ import annotations

from kiln import ROOT, netspec
from kiln import boards as board_registry
from kiln.quantize import recipes

DEFAULT_NET = "fashion_mnist"
DEFAULT_VARIANT = "ptq"
DEFAULT_BOARD = "b_u585i_iot02a"

#: Every variant, in report order (one recipe module each); which ones a network builds
#: depends on its model's form: variants(net).
VARIANTS = recipes.VARIANTS

ALIAS_HELP = """
Targets:
  (default)       firmware for NET/MODEL/BOARD: build/<board>/<net>/<variant>/<kernels>/firmware.elf
  models          every variant NET's model allows: build/models/<net>/<variant>.tflite and .json
  models-report   the variants' result summary: table, CSV and PNG
  deploy-report   every variant built and run on a board (the emulated one unless BOARD=/PORT=
                  say otherwise; LIMIT= samples): accuracy, fidelity, latency, flash, RAM
  train           retrain models/<net>/ from its recipe (networks with a net.py)
  new-net         make models/<NET>/ from a trained model: NET=name FROM=model file DATASET=...
  check-host      compile MODEL (or TFLITE=) for the host and compare with tflite-micro
  ops             the operators Kiln compiles, their dtypes and optimized kernels
  size-report     flash and RAM use of the firmware, from the ELF
  flash           program the board (an emulated board: boot it in QEMU)
  debug           start a GDB server for the board, halted at reset, and print the gdb command
  info            print the model the board runs
  infer           run the test set on the board and report accuracy, latency, fidelity
  bench           instructions per layer on the emulated board, portable vs optimized
  bench-cores     the same on every emulated board, instructions per MAC side by side
  export          the model and its kernels as a C library for your firmware (CMake, Make,
                  Zephyr, STM32CubeIDE): OUT=folder PREFIX=name, BOARD= or CPU=

Cleaning:
  scons -c        removes every build output (all of build/; never the trained models)
  scons -c TARGET removes only what TARGET builds
"""


def nets() -> list[str]:
    """Networks: folders under models/ that hold a net.toml or a net.py (kiln.netspec)."""
    return sorted(p.name for p in (ROOT / "models").iterdir() if p.is_dir() and netspec.is_net_folder(p))


def variants(net: str) -> tuple[str, ...]:
    """The variants network `net` builds (kiln.netspec: by the form of its trained model)."""
    return netspec.load(ROOT / "models" / net).variants


def boards() -> list[str]:
    """Boards: folders under firmware/boards/ that hold a board.toml (kiln.boards)."""
    return board_registry.names()
