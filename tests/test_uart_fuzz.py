"""The UART fuzzer against the emulated board: 1,500 frames, valid and
malformed, interleaved; every answer checked (tests/fuzz/uart.py). More
frames: `.venv/bin/python tests/fuzz/uart.py --frames N` (10,000 take about 3 minutes)."""

from __future__ import annotations

import pytest
from fuzz import uart
from support import have

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not have("qemu-system-arm") or not have("arm-none-eabi-gcc"),
                                 reason="qemu-system-arm or arm-none-eabi-gcc missing (toolchain/setup)")]


def test_fifteen_hundred_frames_every_answer_right() -> None:
    report = uart.run(frames=1_500, seed=7)
    print(report.text())
    assert report.frames == 1_500 and not report.mismatches, report.text()
    # every kind of frame was exercised, and the device always recovered fast
    assert set(report.by_kind) == set(uart.MIX)
    assert report.slowest_recovery < 1.0
