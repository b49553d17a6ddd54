"""Client logic over a real pty against a scripted protocol peer.

The peer speaks docs/protocol.md from Python so that faults the real firmware
never makes on its own (a corrupted answer, a lost answer, a reboot between
two frames) happen exactly when a test wants them. End-to-end behaviour on
the real firmware is in test_infer_e2e.py.
"""

from __future__ import annotations

import json
import os
import struct
import threading
import time
import tty

import pytest

from host import protocol as p
from host.client import Client, LinkError


class Peer(threading.Thread):
    """Answers INFER with (cost = sum of input bytes, output = first 4 input bytes reversed)."""

    def __init__(self, faults: dict[int, str] | None = None, swallow_pings: int = 0) -> None:
        super().__init__(daemon=True)
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.port = os.ttyname(self.slave)
        self.faults = faults or {}  # INFER number -> "drop" | "corrupt" | "reset" | "garbage"
        self.infers = 0
        self.have_result = False
        self.rebooted = False
        # PINGs that arrive while a cut-off frame is still being received: the
        # device answers the mangled frame with an error instead of an echo.
        self.swallow_pings = swallow_pings
        self.stop = threading.Event()
        self.start()

    def _send(self, data: bytes) -> None:
        os.write(self.master, data)

    def run(self) -> None:
        dec = p.Decoder()
        while not self.stop.is_set():
            try:
                data = os.read(self.master, 4096)
            except OSError:
                return
            for f in dec.feed(data):
                self.answer(f)

    def answer(self, f: p.Frame) -> None:
        if f.type == p.Command.PING and self.swallow_pings:
            self.swallow_pings -= 1
            self._send(p.encode_error(p.ErrorCode.BAD_CRC, 0x02, 17))
        elif f.type == p.Command.PING:
            self._send(p.encode(f.type | p.RESPONSE_BIT, f.seq, f.payload))
        elif f.type == p.Command.INFO:
            # After a reboot INFO says why, as the firmware's last_fault does after a fault.
            fault = {"code": "stack_overflow", "exception": 3, "cfsr": p.CFSR_STKOF, "hfsr": 1 << 30}
            info = {"protocol": p.PROTOCOL_VERSION, "last_fault": fault if self.rebooted else None}
            self._send(p.encode(f.type | p.RESPONSE_BIT, f.seq, json.dumps(info).encode()))
        elif f.type == p.Command.PROFILE:
            if not self.have_result:
                self._send(p.encode_error(p.ErrorCode.NO_RESULT, f.type, f.seq))
            else:
                self._send(p.encode(f.type | p.RESPONSE_BIT, f.seq, struct.pack("<III", 2, 5, 7)))
        elif f.type == p.Command.INFER:
            self.infers += 1
            fault = self.faults.get(self.infers)
            if fault == "reset" or self.faults.get(self.infers - 1) == "reset":
                # A reboot loses what the device was computing and what was queued behind it.
                self.have_result = False
                self.rebooted = True
                return
            self.have_result = True
            frame = p.encode(f.type | p.RESPONSE_BIT, f.seq,
                             p.pack_infer_response(sum(f.payload), f.payload[:4][::-1]))
            if fault == "drop":
                return
            if fault == "corrupt":
                frame = frame[:-1] + bytes([frame[-1] ^ 0xFF])
            if fault == "garbage":
                frame = b"\x00KLgarbage\xff" + frame
            self._send(frame)

    def close(self) -> None:
        self.stop.set()
        os.close(self.slave)
        os.close(self.master)


@pytest.fixture
def make_peer():
    peers = []

    def make(**kw) -> Peer:
        peers.append(Peer(**kw))
        return peers[-1]

    yield make
    for peer in peers:
        peer.close()


def _inputs(n: int) -> list[tuple[int, bytes]]:
    return [(k, bytes([k, k + 1, k + 2, k + 3]) * 4) for k in range(n)]


def _run(peer: Peer, n: int) -> tuple[Client, list]:
    events = []
    client = Client(peer.port, 115200, compute_timeout=0.3,
                    on_event=lambda kind, detail: events.append(kind))
    client.check_alive()
    results = list(client.infer_stream(_inputs(n), out_bytes=4))
    client.close()
    return client, results, events


def _check(results: list, n: int) -> None:
    assert [r.key for r in results] == list(range(n))
    for r in results:
        data = bytes([r.key, r.key + 1, r.key + 2, r.key + 3]) * 4
        assert r.cost == sum(data) and r.output == data[:4][::-1]


def test_pipelined_answers_in_order(make_peer) -> None:
    client, results, events = _run(make_peer(), 20)
    _check(results, 20)
    assert events == [] and client.stats.retries == 0


@pytest.mark.parametrize("fault,counter", [("drop", "timeouts"), ("corrupt", "crc_errors")])
def test_lost_or_corrupted_answer_is_retried_once(make_peer, fault: str, counter: str) -> None:
    client, results, events = _run(make_peer(faults={5: fault}), 12)
    _check(results, 12)
    assert getattr(client.stats, counter) == 1
    assert client.stats.retries == 1 and "retry" in events
    assert client.stats.resets == 0


def test_garbage_between_frames_is_skipped(make_peer) -> None:
    client, results, _ = _run(make_peer(faults={3: "garbage", 4: "garbage"}), 8)
    _check(results, 8)
    assert client.stats.retries == 0


def test_reboot_is_detected_and_counted(make_peer) -> None:
    peer = make_peer(faults={3: "reset"})
    details = []
    client = Client(peer.port, 115200, compute_timeout=0.3,
                    on_event=lambda kind, detail: details.append((kind, detail)))
    results = list(client.infer_stream(_inputs(6), out_bytes=4))
    _check(results, 6)
    assert client.stats.resets == 1
    # INFO's last_fault, read after the reset, says why the device rebooted.
    [reset] = [d for kind, d in details if kind == "reset"]
    assert "rebooted after the stack overflowed its reserved space" in reset
    client.close()


def test_no_result_before_any_infer_is_not_a_reset(make_peer) -> None:
    """The first INFER is lost: the resync's PROFILE answers NO_RESULT, which
    only means nothing was inferred yet."""
    client, results, events = _run(make_peer(faults={1: "drop"}), 4)
    _check(results, 4)
    assert client.stats.retries == 1 and client.stats.resets == 0 and "reset" not in events


def test_resync_pings_again_as_soon_as_the_swallowing_frame_ends(make_peer) -> None:
    """The first PING of a resync is taken into a frame the device is still
    receiving; its error answer ends that frame, and the next PING goes out
    at once instead of after a whole response timeout (here 2.5 s)."""
    peer = make_peer(swallow_pings=1)
    client = Client(peer.port, 115200, compute_timeout=2.0)
    start = time.monotonic()
    client.resync()
    assert time.monotonic() - start < 1.0
    assert peer.swallow_pings == 0
    client.close()


def test_bounded_retries_then_clear_error(make_peer) -> None:
    peer = make_peer(faults={k: "drop" for k in range(1, 100)})
    client = Client(peer.port, 115200, retries=2, compute_timeout=0.2)
    with pytest.raises(LinkError, match="giving up after 2 retries"):
        list(client.infer_stream(_inputs(3), out_bytes=4))
    client.close()


def test_silent_port_fails_fast_with_the_fix() -> None:
    master, slave = os.openpty()
    try:
        tty.setraw(slave)
        client = Client(os.ttyname(slave), 57600)
        t0 = time.monotonic()
        with pytest.raises(LinkError, match=r"no answer from .* at 57600 baud.*scons flash.*BAUD="):
            client.check_alive()
        assert time.monotonic() - t0 < 5
        client.close()
    finally:
        os.close(slave)
        os.close(master)


def test_unopenable_port_names_it() -> None:
    with pytest.raises(LinkError, match="cannot open /dev/kiln-no-such-port"):
        Client("/dev/kiln-no-such-port", 921600)
