"""Link throughput of the emulated board: bytes per second each way, against
the line rate, with one and with two INFER requests in flight.

    PYTHONPATH=site_scons:. .venv/bin/python tests/bench/link_throughput.py \\
        [--board B] [--count N] [--serial pty|tcp|both]

Builds nothing: it needs the firmware of an emulated board (default: the
first one of the board registry) in its kiln.paths.firmware_dir
(`scons BOARD=<board> MODEL=ptq`). QEMU's UART has no real baud rate:
it moves bytes as fast as the pty (about 20 KB/s) or TCP link (about 7 KB/s)
lets it; the line rate shown is BAUD's, what a real board would get.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from kiln import boards, paths, registry
from kiln import firmware as fw
from kiln.boards import Board

from host.client import Client
from host.protocol import io_bytes
from host.qemu import Qemu


def measure(board: Board, elf: Path, serial: str, count: int, depth: int, baud: int) -> dict:
    """Run `count` INFERs of random inputs; bytes/s each way and inferences/s."""
    with Qemu.for_board(board, elf, serial=serial) as q:
        client = Client(q.port, baud)
        try:
            client.check_alive()
            info = client.info()
            in_bytes, out_bytes = io_bytes(info["model"], "inputs"), io_bytes(info["model"], "outputs")
            items = [(k, os.urandom(in_bytes)) for k in range(count)]
            tx0, rx0 = client.stats.bytes_tx, client.stats.bytes_rx
            t0 = time.monotonic()
            costs = [r.cost for r in client.infer_stream(items, out_bytes, depth=depth)]
            wall = time.monotonic() - t0
        finally:
            client.close()
    tx, rx = client.stats.bytes_tx - tx0, client.stats.bytes_rx - rx0
    return {"serial": serial, "depth": depth, "n": len(costs), "wall": wall, "tx": tx / wall,
            "rx": rx / wall, "per_s": len(costs) / wall, "line": baud / 10,
            "compute_ms": sum(costs) / len(costs) / 1e6}  # -icount shift=0: 1 instruction = 1 ns


def main() -> int:
    """Print one row per (link, depth)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--serial", choices=("pty", "tcp", "both"), default="both")
    ap.add_argument("--board", default=(boards.emulated() or [""])[0], help="an emulated board")
    ap.add_argument("--baud", type=int, help="default: the board's default_baud")
    ap.add_argument("--elf", help="default: the board's ptq firmware with its default kernels")
    args = ap.parse_args()
    board = boards.load(args.board)
    kernels = fw.resolve_kernels("auto", fw.cpu_flags(board.cpu))
    elf = Path(args.elf or paths.firmware_elf(board.name, registry.DEFAULT_NET, "ptq", kernels))
    baud = args.baud or board.default_baud
    if not elf.is_file():
        print(f"{elf} not found: build it with '.venv/bin/scons BOARD={board.name} MODEL=ptq'",
              file=sys.stderr)
        return 1
    print(f"{'link':<5} {'in flight':>9} {'infer/s':>8} {'host->board B/s':>16} {'board->host B/s':>16} "
          f"{'line B/s':>9} {'use':>6}  (virtual compute per inference)")
    for serial in (("pty", "tcp") if args.serial == "both" else (args.serial,)):
        for depth in (1, 2):
            r = measure(board, elf, serial, args.count, depth, baud)
            print(f"{serial:<5} {depth:>9} {r['per_s']:>8.1f} {r['tx']:>16,.0f} {r['rx']:>16,.0f} "
                  f"{r['line']:>9,.0f} {100 * r['tx'] / r['line']:>5.1f}%  ({r['compute_ms']:.2f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
