"""What can be built: networks, variants, boards, and the aliases users call."""

from __future__ import annotations

import sys

from kiln import ROOT
from kiln import boards as board_registry

DEFAULT_NET = "fashion_mnist"
DEFAULT_VARIANT = "ptq"
DEFAULT_BOARD = "b_u585i_iot02a"

#: Every variant a network builds, in report order.
VARIANTS = (
    "float", "dynamic", "ptq", "qat",
    "prune_struct", "prune_unstruct", "prune_poly", "pqat",
)

ALIAS_HELP = """
Targets:
  (default)       firmware for NET/MODEL/BOARD: build/<board>/<net>/<variant>/<kernels>/firmware.elf
  models          every variant of NET: build/models/<net>/<variant>.tflite and .json
  models-report   the variants' result summary: table, CSV and PNG
  train           retrain models/<net>/ from its recipe
  check-host      compile MODEL (or TFLITE=) for the host and compare with tflite-micro
  size-report     flash and RAM use of the firmware, from the ELF
  flash           program the board (an emulated board: boot it in QEMU)
  info            print the model the board runs
  infer           run the test set on the board and report accuracy, latency, fidelity
  bench           instructions per layer on the emulated board, portable vs optimized
"""


def nets() -> list[str]:
    """Networks: folders under models/ that hold a net.py."""
    return sorted(p.parent.name for p in (ROOT / "models").glob("*/net.py"))


def boards() -> list[str]:
    """Boards: folders under firmware/boards/ that hold a board.toml (kiln.boards)."""
    return board_registry.names()


def check(kind: str, value: str, valid: list[str] | tuple[str, ...]) -> str | None:
    """The error message for a value not in `valid`, or None when it is valid."""
    if value in valid:
        return None
    return f"unknown {kind} '{value}': valid values are {', '.join(valid) or '(none found)'}"


def validate(env) -> None:  # noqa: ANN001 - an SCons Environment
    """Stop the build with a clear message for an unknown NET, MODEL or BOARD."""
    problems = [
        msg for msg in (
            check("NET", env["NET"], nets()),
            check("MODEL", env["MODEL"], VARIANTS),
            check("BOARD", env["BOARD"], boards()),
        ) if msg
    ]
    if problems:
        for msg in problems:
            print(f"scons: *** {msg}", file=sys.stderr)
        sys.exit(2)
