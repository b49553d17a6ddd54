"""What `scons bench` measures: the networks, and the emulated board it runs on.

The measuring itself needs QEMU and the serial client, so it is host/bench.py,
run by site_tools/kiln_bench.py as `python -m host.bench`.
"""

from __future__ import annotations

from kiln import boards
from kiln.boards import Board
from kiln.errors import KilnError

#: Networks the benchmark runs (those present under models/), with their variant.
NETS = (("fashion_mnist", "ptq"), ("cifar_cnn", "ptq"))


def board_for(requested: str) -> Board:
    """The board the benchmark runs on: BOARD= when it is emulated, else the
    first emulated board."""
    if requested and boards.load(requested).emulated:
        return boards.load(requested)
    emulated = boards.emulated()
    if not emulated:
        raise KilnError("bench needs an emulated board (a board.toml with an [emulator] section); "
                        "none is found under firmware/boards/")
    return boards.load(emulated[0])
