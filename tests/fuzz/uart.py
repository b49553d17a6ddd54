"""The UART fuzzer: malformed and valid frames, interleaved, against the emulated board.

    .venv/bin/python tests/fuzz/uart.py [--frames 10000] [--seed 0] [--board mps2_an505]

Boots the fashion_mnist ptq firmware (built first with scons if missing) in
QEMU and sends a seeded mix of frames: PINGs, INFOs, INFERs whose outputs
must equal tflite-micro's, PROFILEs, frames with a bad CRC, unknown
commands, INFERs of the wrong size, over-long lengths, frames cut short,
lone sync bytes, garbage between frames and pairs of pipelined INFERs. Every
answer is checked: the right frame type, seq, payload or error code, and
nothing that was not asked for. Prints counts per kind, the slowest
recovery, and every mismatch (with the step before it); exits 1 on any.
Every byte sent comes from the seed, so a mismatch replays with the same seed.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script: the repository's packages and tests/ the way pytest sees them.
    _ROOT = Path(__file__).resolve().parents[2]
    sys.path[:0] = [str(_ROOT / "tests"), str(_ROOT), str(_ROOT / "site_scons")]

import numpy as np
from kiln import boards, paths, registry
from kiln import firmware as fw

from host import protocol as p
from host.client import Client, ResponseTimeout
from host.qemu import Qemu

#: Kinds of step and their weights in the mix.
MIX = {"ping": 40, "info": 2, "infer": 4, "pipelined": 1, "profile": 5, "bad_crc": 12, "unknown": 8,
       "bad_length": 3, "too_long": 4, "cut": 1, "lone_sync": 1, "garbage": 10}
#: The longest an answer may take (an INFER on the emulator is a few ms; the link is a pty).
ANSWER_TIMEOUT = 5.0


@dataclass
class Report:
    """What the run saw."""

    frames: int = 0
    by_kind: Counter = field(default_factory=Counter)
    mismatches: list[str] = field(default_factory=list)
    slowest_recovery: float = 0.0
    seconds: float = 0.0

    def text(self) -> str:
        """The printed summary."""
        lines = [f"{self.frames} frames in {self.seconds:.0f} s, {len(self.mismatches)} wrong answers, "
                 f"slowest recovery after a malformed frame {self.slowest_recovery * 1000:.0f} ms"]
        lines += [f"  {kind:<12}{n:>7}" for kind, n in sorted(self.by_kind.items())]
        lines += [f"  WRONG: {m}" for m in self.mismatches[:30]]
        return "\n".join(lines)


class Session:
    """One fuzz session against a booted device."""

    def __init__(self, client: Client, info: dict, pool: list[tuple[bytes, bytes]], rng: random.Random):
        self.c, self.info, self.pool, self.r = client, info, pool, rng
        self.report = Report()
        self.seq = 0
        self.n_layers = len(info["model"]["layers"])
        self.have_result = False
        self.kinds = ["", ""]   # the step before this one, and this one: named in a mismatch

    # ---- helpers --------------------------------------------------------------

    def _seq(self) -> int:
        self.seq = (self.seq + 1) & 0xFF
        return self.seq

    def _wrong(self, what: str) -> None:
        self.report.mismatches.append(f"frame {self.report.frames} ({self.kinds[1]}, after "
                                      f"{self.kinds[0] or 'nothing'}): {what}")

    def _answer(self, timeout: float = ANSWER_TIMEOUT) -> p.Frame | None:
        try:
            return self.c.receive(timeout)
        except ResponseTimeout:
            return None

    def _expect(self, kind: str, seq: int, check) -> None:  # noqa: ANN001 - a predicate on the frame
        frame = self._answer()
        if frame is None:
            self._wrong(f"{kind}: no answer to seq {seq}")
            return
        if frame.seq != seq:
            self._wrong(f"{kind}: answer has seq {frame.seq}, expected {seq} ({frame})")
            return
        problem = check(frame)
        if problem:
            self._wrong(f"{kind}: {problem}")

    def _expect_error(self, kind: str, seq: int, code: int, offending: int) -> None:
        def check(f: p.Frame) -> str | None:
            if not f.is_error:
                return f"expected error {p.ErrorCode(code).name}, got {f}"
            e = f.error()
            if (e.code, e.offending_type) != (code, offending):
                return f"expected {p.ErrorCode(code).name} for type {offending}, got {e}"
            return None
        self._expect(kind, seq, check)

    def _quiet(self, seconds: float) -> None:
        """Nothing may arrive for `seconds` (garbage is skipped silently)."""
        frame = self._answer(seconds)
        if frame is not None:
            self._wrong(f"unexpected frame {frame}")

    def _ping_back(self) -> None:
        """After a malformed frame the device must answer the next PING: time how soon."""
        start = time.monotonic()
        seq, payload = self._seq(), self.r.randbytes(6)
        self.c._write(p.encode(p.Command.PING, seq, payload))
        self._expect("ping after", seq, lambda f: None if f.payload == payload else "wrong echo")
        self.report.slowest_recovery = max(self.report.slowest_recovery, time.monotonic() - start)

    # ---- steps ------------------------------------------------------------------

    def step(self, kind: str) -> None:
        """Send one kind of frame and check what comes back."""
        r = self.r
        self.kinds = [self.kinds[1], kind]
        self.report.by_kind[kind] += 1
        self.report.frames += 1
        if kind == "ping":
            seq, payload = self._seq(), self.r.randbytes(r.randint(0, 64))
            self.c._write(p.encode(p.Command.PING, seq, payload))
            self._expect(kind, seq, lambda f: None if (f.type, f.payload) ==
                         (p.Command.PING | p.RESPONSE_BIT, payload) else f"wrong echo {f}")
        elif kind == "info":
            seq = self._seq()
            self.c._write(p.encode(p.Command.INFO, seq))
            self._expect(kind, seq, lambda f: _info_problem(json.loads(f.payload), self.info))
        elif kind in ("infer", "pipelined"):
            picks = [r.choice(self.pool) for _ in range(2 if kind == "pipelined" else 1)]
            seqs = [self._seq() for _ in picks]
            for seq, (x, _) in zip(seqs, picks, strict=True):
                self.c._write(p.encode(p.Command.INFER, seq, x))
            for seq, (_, want) in zip(seqs, picks, strict=True):
                self._expect(kind, seq, lambda f, w=want: None if p.unpack_infer_response(f.payload)[1] == w
                             else "output differs from tflite-micro")
            self.have_result = True
        elif kind == "profile":
            seq = self._seq()
            self.c._write(p.encode(p.Command.PROFILE, seq))
            if self.have_result:
                self._expect(kind, seq, lambda f: None if len(p.unpack_profile_response(f.payload))
                             == self.n_layers else "wrong layer count")
            else:
                self._expect_error(kind, seq, p.ErrorCode.NO_RESULT, p.Command.PROFILE)
        elif kind == "bad_crc":
            seq = self._seq()
            frame = bytearray(p.encode(p.Command.PING, seq, self.r.randbytes(r.randint(0, 32))))
            frame[-r.randint(1, 4)] ^= 1 << r.randrange(8)
            self.c._write(bytes(frame))
            self._expect_error(kind, seq, p.ErrorCode.BAD_CRC, p.Command.PING)
        elif kind == "unknown":
            seq, type_ = self._seq(), r.choice([0x00, 0x05, 0x42, 0x7E, 0x81])
            self.c._write(p.encode(type_, seq, self.r.randbytes(r.randint(0, 8))))
            self._expect_error(kind, seq, p.ErrorCode.UNKNOWN_COMMAND, type_)
        elif kind == "bad_length":
            seq, n = self._seq(), p.io_bytes(self.info["model"], "inputs")
            size = r.choice([0, 1, n - 1, n + 1])
            # no sync byte inside: after TOO_LONG the device hunts for sync in the payload
            payload = bytes(b for b in self.r.randbytes(size) if b != ord("K")).ljust(size, b"\0")
            self.c._write(p.encode(p.Command.INFER, seq, payload))
            too_long = size > int(self.info["max_payload"])
            self._expect_error(kind, seq, p.ErrorCode.TOO_LONG if too_long else p.ErrorCode.BAD_LENGTH,
                               p.Command.INFER)
            if too_long:
                self._ping_back()
        elif kind == "too_long":
            seq = self._seq()
            self.c._write(b"KL" + bytes([p.Command.PING, seq]) + (0xFFFF).to_bytes(2, "little"))
            self._expect_error(kind, seq, p.ErrorCode.TOO_LONG, p.Command.PING)
        elif kind == "cut":
            seq = self._seq()
            whole = p.encode(p.Command.PING, seq, self.r.randbytes(16))
            self.c._write(whole[: r.randint(5, len(whole) - 1)])
            self._expect_error(kind, seq, p.ErrorCode.TIMEOUT, p.Command.PING)
            self._ping_back()
        elif kind == "lone_sync":
            self.c._write(b"K")
            self._expect_error(kind, 0, p.ErrorCode.TIMEOUT, 0)
            self._ping_back()
        elif kind == "garbage":
            junk = bytes(b for b in self.r.randbytes(r.randint(1, 200)) if b != ord("K"))
            self.c._write(junk)
            self._ping_back()


def firmware(board: boards.Board) -> tuple[Path, Path]:
    """(ELF, .tflite) of the default network's ptq firmware for `board`, built if missing."""
    from support import run_scons

    net = registry.DEFAULT_NET
    kernels = fw.resolve_kernels("auto", fw.cpu_flags(board.cpu))
    elf = paths.firmware_elf(board.name, net, "ptq", kernels)
    if not elf.is_file():
        run_scons("-j2", f"BOARD={board.name}", f"NET={net}", "MODEL=ptq")
    return elf, paths.tflite(net, "ptq")


def run(frames: int = 10000, seed: int = 0, board_name: str | None = None) -> Report:
    """Fuzz the emulated board's UART with `frames` seeded steps."""
    from kiln import oracle

    board = boards.load(board_name or boards.emulated()[0])
    elf, tflite = firmware(board)
    rng = random.Random(seed)
    nprng = np.random.default_rng(seed)
    start = time.monotonic()
    with Qemu.for_board(board, elf) as q, Client(q.port, board.default_baud) as client:
        client.check_alive()
        info = client.info()
        n_in = p.io_bytes(info["model"], "inputs")
        xs = nprng.integers(-128, 128, (16, n_in), dtype=np.int8)
        refs = oracle.reference_outputs(tflite, xs.reshape(16, *info["model"]["inputs"][0]["shape"]))
        pool = [(x.tobytes(), np.asarray(ref, np.int8).tobytes()) for x, ref in zip(xs, refs, strict=True)]
        session = Session(client, info, pool, rng)
        kinds, weights = zip(*MIX.items(), strict=True)
        for _ in range(frames):
            session.step(rng.choices(kinds, weights)[0])
            if len(session.report.mismatches) > 50:
                break  # something is badly wrong: stop and report
        session._quiet(0.3)
    session.report.seconds = time.monotonic() - start
    return session.report


def main(argv: list[str] | None = None) -> int:
    """Command line."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--board", help="an emulated board (default: the first)")
    args = ap.parse_args(argv)
    report = run(args.frames, args.seed, args.board)
    print(report.text())
    return 1 if report.mismatches else 0



def _info_problem(got: dict, first: dict) -> str | None:
    """None when INFO is the first one again: everything equal but the stack's
    high-water mark, which may only grow, and never past the reservation."""
    def fixed(info: dict) -> dict:
        return {k: v for k, v in info.items() if k != "stack_used"}

    if fixed(got) != fixed(first):
        return "INFO changed"
    if not first["stack_used"] <= got["stack_used"] <= got["stack_reserved"]:
        return f"stack_used {got['stack_used']} outside {first['stack_used']}..{got['stack_reserved']}"
    return None


if __name__ == "__main__":
    sys.exit(main())
