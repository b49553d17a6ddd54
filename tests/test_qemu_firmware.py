"""The emulated board end to end: the firmware of the registry's first
emulated board boots in QEMU (-icount), answers INFO and INFER with outputs identical to the
tflite-micro reference, pipelines requests, and answers every malformed
frame with the right error frame while it keeps working."""

import gzip
import json
import re
import struct
import time
from pathlib import Path

import numpy as np
import pytest
import serial
from kiln import boards, paths, registry
from kiln import firmware as fw
from support import ROOT, have, run_scons

from host import protocol as p
from host.qemu import Qemu
from host.reference import Reference, sha256_file

NET = registry.DEFAULT_NET
IMAGES = Path("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")
BOARD = boards.load(boards.emulated()[0])

pytestmark = pytest.mark.skipif(not have("qemu-system-arm") or not have("arm-none-eabi-gcc"),
                                reason="qemu-system-arm or arm-none-eabi-gcc missing (toolchain/setup)")


class Link:
    """Frames over the serial port of the running QEMU."""

    def __init__(self, port: str) -> None:
        self.ser = serial.serial_for_url(port, timeout=0.05)
        self.dec = p.Decoder()
        self.frames: list[p.Frame] = []

    def send(self, data: bytes) -> None:
        self.ser.write(data)

    def receive(self, timeout: float = 10.0) -> p.Frame:
        deadline = time.monotonic() + timeout
        while not self.frames:
            assert time.monotonic() < deadline, "no answer from the device"
            self.frames += self.dec.feed(self.ser.read(self.ser.in_waiting or 1))
        return self.frames.pop(0)

    def ask(self, type_: int, seq: int, payload: bytes = b"") -> p.Frame:
        self.send(p.encode(type_, seq, payload))
        frame = self.receive()
        assert frame.seq == seq
        return frame

    def info(self) -> dict:
        f = self.ask(p.Command.INFO, 1)
        assert f.type == p.Command.INFO | p.RESPONSE_BIT
        return json.loads(f.payload)


def build(variant: str) -> Path:
    run_scons("-j2", f"BOARD={BOARD.name}", f"MODEL={variant}")
    kernels = fw.resolve_kernels("auto", fw.cpu_flags(BOARD.cpu))
    return paths.firmware_elf(BOARD.name, NET, variant, kernels)


@pytest.fixture(scope="module", params=["ptq", "float"])
def device(request):
    """(variant, Link) to a freshly booted firmware of that variant."""
    elf = build(request.param)
    with Qemu.for_board(BOARD, elf) as q:
        link = Link(q.port)
        yield request.param, link
        link.ser.close()


def test_images(n: int) -> np.ndarray:
    with gzip.open(IMAGES) as fh:
        data = fh.read()
    return np.frombuffer(data, np.uint8, offset=16).reshape(-1, 28, 28, 1)[:n].astype(np.float32) / 255.0


test_images.__test__ = False  # a helper, not a test


def test_info_describes_board_firmware_and_model(device):
    variant, link = device
    info = link.info()
    assert info["board"] == BOARD.name and info["clock_hz"] == BOARD.clock_hz
    assert info["cost_unit"] == BOARD.cost_unit
    version = re.search(r'KILN_FIRMWARE_VERSION "([^"]+)"',
                        (ROOT / "firmware" / "app" / "version.h").read_text()).group(1)
    assert info["firmware"] == version
    tflite = paths.tflite(NET, variant)
    model = info["model"]
    assert model["tflite_sha256"] == sha256_file(tflite)
    ref = Reference(tflite)
    assert [t["bytes"] for t in model["inputs"]] == [ref.input.nbytes]
    assert [t["bytes"] for t in model["outputs"]] == [ref.output.nbytes]
    assert info["protocol"] == 2
    assert info["max_payload"] == max(ref.input.nbytes, 256)
    # The UART's real rate: the CMSDK UART divides its 25 MHz clock by BAUDDIV, read back.
    uart = info["uart"]
    div = 25_000_000 // 921_600
    assert uart == {"kernel_hz": 25_000_000, "divisor": div, "baud": round(25_000_000 / div),
                    "baud_requested": 921_600, "clock_ref": "emulated"}
    assert abs(p.uart_clock(info)["error"] - 0.0047) < 0.0001  # 925,926 baud: +0.47 %
    assert info["last_fault"] is None and p.describe_fault(info) is None  # booted, not restarted


def test_infer_matches_tflite_micro(device):
    variant, link = device
    ref = Reference(paths.tflite(NET, variant))
    costs = []
    for i, x in enumerate(test_images(6)):
        data = ref.encode(x)
        f = link.ask(p.Command.INFER, 10 + i, data)
        assert f.type == p.Command.INFER | p.RESPONSE_BIT, f
        cost, out = p.unpack_infer_response(f.payload)
        expected = ref.run(data)
        if variant == "float":
            # float kernels may sum in another order: equal to float rounding
            np.testing.assert_allclose(ref.decode_output(out), ref.decode_output(expected),
                                       rtol=1e-4, atol=1e-6)
        else:
            assert out == expected, f"image {i}: device {out.hex()} != tflite-micro {expected.hex()}"
        costs.append(cost)
    assert all(c > 1000 for c in costs)
    # -icount shift=0: the same input costs the same instructions every time,
    # up to the counter's resolution (one 50-instruction timer tick, as the
    # start falls anywhere in a tick) and the 1 ms SysTick interrupt.
    first = ref.encode(test_images(1)[0])
    again = [p.unpack_infer_response(link.ask(p.Command.INFER, 30 + k, first).payload)[0] for k in range(3)]
    assert max(again + costs[:1]) - min(again + costs[:1]) <= 100


def test_profile_reports_every_layer(device):
    _, link = device
    info = link.info()
    x = bytes(info["model"]["inputs"][0]["bytes"])
    cost, _ = p.unpack_infer_response(link.ask(p.Command.INFER, 40, x).payload)
    f = link.ask(p.Command.PROFILE, 41)
    assert f.type == p.Command.PROFILE | p.RESPONSE_BIT
    layers = p.unpack_profile_response(f.payload)
    assert len(layers) == len(info["model"]["layers"])
    assert 0 < sum(layers) <= cost


def test_two_pipelined_requests_are_answered_in_order(device):
    _, link = device
    n = link.info()["model"]["inputs"][0]["bytes"]
    link.send(p.encode(p.Command.INFER, 50, bytes(n)) + p.encode(p.Command.INFER, 51, bytes([1]) * n))
    a, b = link.receive(), link.receive()
    assert (a.seq, b.seq) == (50, 51)
    assert a.type == b.type == p.Command.INFER | p.RESPONSE_BIT


def _bad_crc() -> bytes:
    frame = bytearray(p.encode(p.Command.PING, 60, b"abc"))
    frame[-2] ^= 0x10
    return bytes(frame)


MALFORMED = {
    "bad CRC": (_bad_crc(), p.ErrorCode.BAD_CRC, 60, p.Command.PING),
    "unknown command": (p.encode(0x42, 61), p.ErrorCode.UNKNOWN_COMMAND, 61, 0x42),
    "wrong input size": (p.encode(p.Command.INFER, 62, b"\x00" * 5), p.ErrorCode.BAD_LENGTH, 62,
                         p.Command.INFER),
    "over-long length": (b"KL" + bytes([p.Command.PING, 63]) + struct.pack("<H", 0xFFFF),
                         p.ErrorCode.TOO_LONG, 63, p.Command.PING),
    "frame cut short": (p.encode(p.Command.PING, 64, b"hello")[:8], p.ErrorCode.TIMEOUT, 64,
                        p.Command.PING),
    "INFO with a payload": (p.encode(p.Command.INFO, 65, b"x"), p.ErrorCode.BAD_LENGTH, 65,
                            p.Command.INFO),
    # after the frames above: the error must not carry the previous frame's type and seq
    "lone sync byte": (b"K", p.ErrorCode.TIMEOUT, 0, 0),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_frame_gets_an_error_frame_and_the_device_keeps_answering(device, case):
    _, link = device
    data, code, seq, offending = MALFORMED[case]
    link.send(data)
    f = link.receive()
    assert f.is_error, f
    err = f.error()
    assert (err.code, err.offending_type, f.seq) == (code, offending, seq)
    assert link.ask(p.Command.PING, 70, b"still here").payload == b"still here"
    assert link.info()["board"] == BOARD.name


def test_garbage_between_frames_is_skipped(device):
    _, link = device
    link.send(bytes(range(256)).replace(b"K", b"") + b"\xff" * 100)
    assert link.ask(p.Command.PING, 80, b"ok").payload == b"ok"
    assert not link.frames  # nothing answered the garbage


def test_profile_before_any_infer_is_no_result():
    elf = build("ptq")
    with Qemu.for_board(BOARD, elf) as q:
        link = Link(q.port)
        f = link.ask(p.Command.PROFILE, 90)
        assert f.is_error and f.error().code == p.ErrorCode.NO_RESULT
        link.ser.close()
