"""What `scons bench` measures: the networks, and the emulated board it runs on.

The measuring itself needs QEMU and the serial client, so it is host/bench.py,
run by site_tools/kiln_bench.py as `python -m host.bench`.
"""

from __future__ import annotations

from kiln import boards
from kiln.boards import Board
from kiln.errors import KilnError

#: The compiler's own networks the benchmark runs (those present under models/), with their variant.
NETS = (("fashion_mnist", "ptq"), ("cifar_cnn", "ptq"))
#: The MLPerf Tiny benchmark architectures (issue 13), trained here on synthetic data.
SUITE = (("resnet8", "ptq"), ("ds_cnn", "ptq"), ("vww_mobilenet", "ptq"), ("fc_autoencoder", "ptq"))
#: Everything `scons bench` runs, in print order.
ALL = NETS + SUITE

#: Issue 13's targets: instructions per whole inference on the emulated M33, optimized kernels.
#: Printed beside the measured figures with a pass/fail column; not asserted.
TARGETS = {
    "resnet8": 10_000_000,
    "ds_cnn": 2_560_000,
    "vww_mobilenet": 8_000_000,
    "fc_autoencoder": 290_000,
    "fashion_mnist": 105_000,
}


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
