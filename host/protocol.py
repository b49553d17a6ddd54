"""Kiln UART frame codec (docs/protocol.md): constants, encode, decode.

Pure byte handling, no I/O: the serial client (host/client.py) and the tests
build on it. A frame is

    sync "KL" | type u8 | seq u8 | length u16 LE | payload | crc32 u32 LE

where the CRC-32 (zlib.crc32) covers type, seq, length and payload.
"""

from __future__ import annotations

import enum
import struct
import zlib
from dataclasses import dataclass

SYNC = b"KL"
HEADER = struct.Struct("<2sBBH")  # sync, type, seq, length
HEADER_BYTES = HEADER.size  # 6
CRC_BYTES = 4
#: The most a length field can say; devices advertise their own limit in INFO.
MAX_PAYLOAD_FORMAT = 0xFFFF
RESPONSE_BIT = 0x80
ERROR_TYPE = 0x7F
#: The protocol version this host speaks (INFO's "protocol"): 2 lists every input and output
#: tensor in INFO, and INFER carries all inputs back to back and returns all outputs.
PROTOCOL_VERSION = 2
#: The device drops a partial frame after this long between two bytes.
INTER_BYTE_TIMEOUT_S = 0.100


#: INFO's last_fault codes (docs/protocol.md) and what each means.
FAULT_CODES = {
    "stack_overflow": "the stack overflowed its reserved space (MSPLIM, UsageFault STKOF)",
    "fault": "a fault (HardFault, MemManage, BusFault, UsageFault or SecureFault)",
    "unexpected_exception": "an interrupt or exception without a handler",
}
#: CFSR's STKOF bit (UFSR bit 4): the stack limit was hit.
CFSR_STKOF = 1 << 20


def describe_fault(info: dict) -> str | None:
    """INFO's last_fault in words: why the device restarted before this boot, or None
    when it did not restart from a fault (or the firmware predates the field)."""
    fault = info.get("last_fault")
    if not isinstance(fault, dict):
        return None
    code = str(fault.get("code", "?"))
    what = FAULT_CODES.get(code, f"fault code {code}")
    return (f"{what}: exception {fault.get('exception', '?')}, CFSR 0x{int(fault.get('cfsr', 0)):08X}, "
            f"HFSR 0x{int(fault.get('hfsr', 0)):08X}")


def uart_clock(info: dict) -> dict | None:
    """INFO's uart object with `error`, the baud rate's relative error against the
    request, added; None for firmware that does not report it."""
    uart = info.get("uart")
    if not isinstance(uart, dict) or not uart.get("baud_requested"):
        return None
    out = dict(uart)
    out["error"] = (int(uart.get("baud", 0)) - int(uart["baud_requested"])) / int(uart["baud_requested"])
    return out


def io_bytes(model: dict, key: str) -> int:
    """Bytes of all of a model's "inputs" or "outputs" (INFO's model), back to back as INFER
    carries them."""
    return sum(int(t["bytes"]) for t in model.get(key, []))


class Command(enum.IntEnum):
    """Request types sent by the host."""

    INFO = 0x01
    INFER = 0x02
    PROFILE = 0x03
    PING = 0x04


class ErrorCode(enum.IntEnum):
    """Codes carried in the first payload byte of an error frame (type 0x7F)."""

    BAD_CRC = 1
    TOO_LONG = 2
    UNKNOWN_COMMAND = 3
    BAD_LENGTH = 4
    TIMEOUT = 5
    NO_RESULT = 6
    INVOKE_FAILED = 7


class ProtocolError(Exception):
    """Bytes that are not a valid frame (the message says what is wrong)."""


@dataclass(frozen=True)
class Frame:
    """One decoded frame."""

    type: int
    seq: int
    payload: bytes

    @property
    def is_error(self) -> bool:
        """True for an error frame."""
        return self.type == ERROR_TYPE

    def error(self) -> DeviceError:
        """The error this frame carries (only for error frames)."""
        if not self.is_error:
            raise ProtocolError(f"frame type 0x{self.type:02x} is not an error frame")
        return DeviceError.from_payload(self.payload, self.seq)


class DeviceError(Exception):
    """An error frame from the device, as an exception the client can raise."""

    def __init__(self, code: int, offending_type: int, message: str, seq: int = 0) -> None:
        try:
            name = ErrorCode(code).name
        except ValueError:
            name = f"error {code}"
        super().__init__(f"device answered {name}" + (f": {message}" if message else "")
                         + f" (request type 0x{offending_type:02x}, seq {seq})")
        self.code = code
        self.offending_type = offending_type
        self.message = message
        self.seq = seq

    @classmethod
    def from_payload(cls, payload: bytes, seq: int = 0) -> DeviceError:
        """Parse an error payload: u8 code, u8 offending type, UTF-8 message."""
        if len(payload) < 2:
            raise ProtocolError(f"error frame payload of {len(payload)} bytes, need at least 2")
        return cls(payload[0], payload[1], payload[2:].decode("utf-8", "replace"), seq)


def crc32(data: bytes) -> int:
    """CRC-32 as the protocol uses it (IEEE 802.3, the one zlib computes)."""
    return zlib.crc32(data) & 0xFFFFFFFF


def encode(type_: int, seq: int, payload: bytes = b"") -> bytes:
    """A complete frame, ready to write to the port."""
    if not 0 <= type_ <= 0xFF or not 0 <= seq <= 0xFF:
        raise ValueError(f"type {type_} and seq {seq} must each fit in one byte")
    if len(payload) > MAX_PAYLOAD_FORMAT:
        raise ValueError(f"payload of {len(payload)} bytes exceeds the format's {MAX_PAYLOAD_FORMAT}")
    body = HEADER.pack(SYNC, type_, seq, len(payload))[2:] + bytes(payload)
    return SYNC + body + struct.pack("<I", crc32(body))


def encode_error(code: int, offending_type: int, seq: int, message: str = "") -> bytes:
    """An error frame (what the device sends; used by tests and simulators)."""
    return encode(ERROR_TYPE, seq, bytes([code, offending_type]) + message.encode())


def decode(data: bytes) -> Frame:
    """Decode exactly one frame; raises ProtocolError naming what is wrong."""
    if len(data) < HEADER_BYTES + CRC_BYTES:
        raise ProtocolError(f"{len(data)} bytes is shorter than an empty frame (10 bytes)")
    sync, type_, seq, length = HEADER.unpack_from(data)
    if sync != SYNC:
        raise ProtocolError(f"frame starts with {sync!r}, expected sync {SYNC!r}")
    if len(data) != HEADER_BYTES + length + CRC_BYTES:
        raise ProtocolError(f"length field says {length} payload bytes but the frame holds "
                            f"{len(data) - HEADER_BYTES - CRC_BYTES}")
    end = HEADER_BYTES + length
    (crc,) = struct.unpack_from("<I", data, end)
    if crc != crc32(data[2:end]):
        raise ProtocolError(f"CRC mismatch: frame says 0x{crc:08x}, bytes give 0x{crc32(data[2:end]):08x}")
    return Frame(type_, seq, bytes(data[HEADER_BYTES:end]))


class Decoder:
    """Incremental decoder: feed() bytes as they arrive, get whole frames.

    Like the device, it skips bytes until a sync pair, and drops a frame with
    a bad CRC (recorded in `dropped`) then hunts for sync again after its
    first byte, so garbage on the line never blocks later frames.
    """

    def __init__(self, max_payload: int = MAX_PAYLOAD_FORMAT) -> None:
        self.buffer = bytearray()
        self.max_payload = max_payload
        self.dropped: list[str] = []

    def feed(self, data: bytes) -> list[Frame]:
        """Add received bytes; return every frame now complete, in order."""
        self.buffer += data
        frames: list[Frame] = []
        while True:
            start = self.buffer.find(SYNC)
            if start < 0:
                # Keep a trailing 'K': it may be the first half of a sync pair.
                del self.buffer[: len(self.buffer) - (1 if self.buffer.endswith(SYNC[:1]) else 0)]
                return frames
            del self.buffer[:start]
            if len(self.buffer) < HEADER_BYTES:
                return frames
            length = HEADER.unpack_from(self.buffer)[3]
            if length > self.max_payload:
                self.dropped.append(f"length {length} above {self.max_payload}")
                del self.buffer[:1]
                continue
            total = HEADER_BYTES + length + CRC_BYTES
            if len(self.buffer) < total:
                return frames
            try:
                frames.append(decode(bytes(self.buffer[:total])))
                del self.buffer[:total]
            except ProtocolError as exc:
                self.dropped.append(str(exc))
                del self.buffer[:1]

    def pending(self) -> int:
        """Bytes held that do not make a complete frame yet."""
        return len(self.buffer)


def pack_infer_response(cost: int, output: bytes) -> bytes:
    """INFER response payload: u32 cost, then the output tensor."""
    return struct.pack("<I", cost) + output


def unpack_infer_response(payload: bytes) -> tuple[int, bytes]:
    """(cost, output bytes) from an INFER response payload."""
    if len(payload) < 4:
        raise ProtocolError(f"INFER response of {len(payload)} bytes, need at least 4 (the cost)")
    return struct.unpack_from("<I", payload)[0], payload[4:]


def unpack_profile_response(payload: bytes) -> list[int]:
    """Per-layer costs from a PROFILE response: u32 n, then n x u32."""
    if len(payload) < 4:
        raise ProtocolError(f"PROFILE response of {len(payload)} bytes, need at least 4")
    (n,) = struct.unpack_from("<I", payload)
    if len(payload) != 4 + 4 * n:
        raise ProtocolError(f"PROFILE response says {n} layers but holds {len(payload) - 4} bytes of costs")
    return list(struct.unpack_from(f"<{n}I", payload, 4))
