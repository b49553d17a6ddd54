"""The Kiln protocol client: a serial transport, requests and pipelined INFER.

Ports are anything pyserial's serial_for_url opens: /dev/ttyACM0, /dev/pts/N,
socket://host:port, rfc2217://host:port. Every read has a deadline, so a
silent port or a wrong baud rate becomes an error within seconds. Lost,
corrupted or cut-short frames are retried a bounded number of times after a
resync (drain the input, PING until the echo comes back); a device reset is
recognised by PROFILE answering NO_RESULT after the resync.
"""

from __future__ import annotations

import collections
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import serial

from host import protocol as p

#: Errors that mean the link lost or mangled a frame: retry after a resync.
_LINK_ERRORS = {p.ErrorCode.BAD_CRC, p.ErrorCode.TOO_LONG, p.ErrorCode.TIMEOUT}


#: Seconds a write may block before the link counts as lost, plus 1 ms per byte written.
WRITE_TIMEOUT = 5.0

class LinkError(Exception):
    """The link failed in a way retries did not fix; the message says what to check."""


class LinkLost(LinkError):
    """The port itself went away (device unplugged, emulator stopped)."""


class ResponseTimeout(LinkError):
    """No complete answer before the deadline."""


@dataclass
class LinkStats:
    """What the link did, for the report."""

    bytes_tx: int = 0
    bytes_rx: int = 0
    frames_tx: int = 0
    frames_rx: int = 0
    retries: int = 0
    timeouts: int = 0
    crc_errors: int = 0
    resets: int = 0
    device_errors: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class InferResult:
    """One INFER answer."""

    key: int
    cost: int
    output: bytes


def open_port(port: str, baud: int) -> serial.SerialBase:
    """Open a port name or URL, or raise LinkError naming it and the fix."""
    try:
        return serial.serial_for_url(port, baudrate=baud, timeout=0.02, write_timeout=WRITE_TIMEOUT,
                                     do_not_open=False)
    except (serial.SerialException, OSError, ValueError) as exc:
        raise LinkError(f"cannot open {port}: {exc}. Check PORT= (a device such as /dev/ttyACM0, "
                        "or socket://host:port, rfc2217://host:port)") from exc


class Client:
    """Request/response over one port. Not thread-safe; one client per port.

    on_event(kind, detail) is called for every timeout, CRC error, retry and
    reset, so the runner can log them as they happen.
    """

    def __init__(self, port: str, baud: int = 921600, *, retries: int = 3,
                 compute_timeout: float = 2.0,
                 on_event: Callable[[str, str], None] | None = None,
                 ser: serial.SerialBase | None = None) -> None:
        self.port = port
        self.baud = baud
        self.retries = retries
        self.compute_timeout = compute_timeout
        self.on_event = on_event or (lambda kind, detail: None)
        self.ser = ser if ser is not None else open_port(port, baud)
        self.decoder = p.Decoder()
        self.frames: collections.deque[p.Frame] = collections.deque()
        self.stats = LinkStats()
        self._seq = 0
        self._dropped_seen = 0
        self._inferred = False  # an INFER answered since the last reset: NO_RESULT then means a reboot

    # ---- transport ----------------------------------------------------------

    def close(self) -> None:
        """Close the port."""
        try:
            self.ser.close()
        except (serial.SerialException, OSError):
            pass

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def wire_time(self, nbytes: int) -> float:
        """Seconds `nbytes` take on the line at the configured baud (10 bits a byte)."""
        return nbytes * 10.0 / self.baud

    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0xFF
        return self._seq

    def _write(self, data: bytes) -> None:
        # A device (or an emulated UART) takes bytes only as fast as it reads them:
        # a large frame may take seconds, so the timeout grows with it (1 KB/s floor).
        try:
            self.ser.write_timeout = WRITE_TIMEOUT + len(data) / 1000.0
        except (serial.SerialException, OSError, ValueError):
            pass  # a port that cannot change it keeps the one it was opened with
        try:
            self.ser.write(data)
            self.ser.flush()
        except (serial.SerialException, OSError) as exc:
            raise LinkLost(f"writing to {self.port} failed: {exc}") from exc
        self.stats.bytes_tx += len(data)

    def send(self, type_: int, payload: bytes = b"") -> int:
        """Send one request; its seq."""
        seq = self._next_seq()
        self._write(p.encode(type_, seq, payload))
        self.stats.frames_tx += 1
        return seq

    def _pump(self, wait: float) -> None:
        """Read what arrives within `wait` seconds into the frame queue."""
        try:
            self.ser.timeout = max(0.001, min(wait, 0.05))
            data = self.ser.read(max(1, self.ser.in_waiting))
        except (serial.SerialException, OSError) as exc:
            raise LinkLost(f"reading from {self.port} failed: {exc}") from exc
        if not data:
            return
        self.stats.bytes_rx += len(data)
        self.frames.extend(self.decoder.feed(data))
        new_drops = self.decoder.dropped[self._dropped_seen:]
        self._dropped_seen = len(self.decoder.dropped)
        for reason in new_drops:
            self.stats.crc_errors += 1
            self.on_event("crc_error", f"dropped a received frame: {reason}")

    def receive(self, timeout: float) -> p.Frame:
        """The next frame, or ResponseTimeout after `timeout` seconds without one."""
        deadline = time.monotonic() + timeout
        while not self.frames:
            left = deadline - time.monotonic()
            if left <= 0:
                self._rescan()
                if self.frames:
                    break
                raise ResponseTimeout(f"no answer from {self.port} within {timeout:.1f} s")
            self._pump(left)
        self.stats.frames_rx += 1
        return self.frames.popleft()

    def _rescan(self) -> None:
        """At a deadline: treat a partial frame as garbage and look for frames behind it.

        Garbage that looks like a header (sync, then a large length) would
        otherwise hold back the real answers that follow it. Only done at the
        deadline, so a slow but genuine frame is never cut up.
        """
        before = self.decoder.pending()
        if before < p.HEADER_BYTES:
            return
        # The decoder's buffer starts at a sync pair: drop that byte and hunt again.
        while self.decoder.pending() >= p.HEADER_BYTES and not self.frames:
            rest = bytes(self.decoder.buffer[1:])
            self.decoder.buffer.clear()
            self.frames.extend(self.decoder.feed(rest))
        self.on_event("garbage", f"a partial frame never completed: rescanned {before} held bytes, "
                                 f"{'found' if self.frames else 'no'} frame behind it")

    def drain(self) -> None:
        """Forget everything received or buffered so far."""
        try:
            self.ser.reset_input_buffer()
        except (serial.SerialException, OSError) as exc:
            raise LinkLost(f"{self.port}: {exc}") from exc
        self.decoder = p.Decoder()
        self._dropped_seen = 0
        self.frames.clear()

    # ---- requests -----------------------------------------------------------

    def response_timeout(self, tx_bytes: int, rx_bytes: int) -> float:
        """How long one answer may take: both transfers twice over, plus compute time."""
        return 2 * self.wire_time(tx_bytes + rx_bytes + 2 * (p.HEADER_BYTES + p.CRC_BYTES)) \
            + self.compute_timeout

    def ping(self, payload: bytes | None = None, timeout: float = 1.0) -> bool:
        """True when the device echoes a PING within `timeout`; stale answers are skipped."""
        payload = payload if payload is not None else os.urandom(8)
        seq = self.send(p.Command.PING, payload)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                frame = self.receive(left)
            except ResponseTimeout:
                return False
            if frame.seq == seq and frame.type == p.Command.PING | p.RESPONSE_BIT \
                    and frame.payload == payload:
                return True

    def _ping_until_echo(self, budget: float) -> bool:
        """PING until one of the PINGs sent comes back, within `budget` seconds.

        A PING can be swallowed by a frame the device is still receiving (the
        rest of a request we gave up on). When that frame ends the device
        answers it (an error frame), or drops it after its inter-byte
        timeout. Either way the next PING goes out at once, rather than after
        a whole response timeout; a device busy computing answers later, and
        an echo of any PING sent here counts."""
        deadline = time.monotonic() + budget
        # Long enough for the device's inter-byte timeout and a PING's round trip.
        quiet = 2 * p.INTER_BYTE_TIMEOUT_S + 2 * self.wire_time(p.HEADER_BYTES + p.CRC_BYTES + 8)
        sent: dict[int, bytes] = {}
        while time.monotonic() < deadline:
            payload = os.urandom(8)
            sent[self.send(p.Command.PING, payload)] = payload
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                try:
                    frame = self.receive(min(left, quiet))
                except ResponseTimeout:
                    break  # silence: the swallowing frame was dropped, or the device computes
                if frame.type == p.Command.PING | p.RESPONSE_BIT and sent.get(frame.seq) == frame.payload:
                    return True
                if frame.is_error:
                    break  # the device finished a frame: it listens again, PING now
        return False

    def check_alive(self, timeout: float = 1.5, attempts: int = 2) -> None:
        """Fail fast with a clear message when nothing answers on the port."""
        self.drain()
        for _ in range(attempts):
            if self.ping(timeout=timeout):
                return
        got = self.stats.bytes_rx
        hint = (f"{got} bytes arrived but no valid frame: the baud rate is probably wrong"
                if got else "nothing arrived")
        raise LinkError(f"no answer from {self.port} at {self.baud} baud ({hint}): is the board "
                        "flashed with Kiln firmware (scons flash ...) and the baud rate right (BAUD=...)?")

    def request(self, type_: int, payload: bytes = b"", rx_bytes: int = 8192) -> p.Frame:
        """Send one request and return its answer (an error frame raises DeviceError).

        Lost or mangled frames are retried after a resync, at most `retries` times.
        """
        timeout = self.response_timeout(len(payload), rx_bytes)
        for attempt in range(self.retries + 1):
            seq = self.send(type_, payload)
            try:
                frame = self._await(seq, timeout)
            except (ResponseTimeout, _Retry) as exc:
                self._recover(str(exc), attempt)
                continue
            if frame.is_error:
                raise frame.error()
            return frame
        raise AssertionError("unreachable")  # _recover raises on the last attempt

    def info(self) -> dict:
        """The device's INFO as a dict."""
        frame = self.request(p.Command.INFO)
        try:
            info = json.loads(frame.payload.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise LinkError(f"INFO from {self.port} is not JSON ({exc}): is this Kiln firmware?") from exc
        if not isinstance(info, dict) or info.get("protocol") != p.PROTOCOL_VERSION:
            seen = info.get("protocol", 1) if isinstance(info, dict) else "?"
            raise LinkError(f"the board at {self.port} speaks protocol {seen}, this host "
                            f"{p.PROTOCOL_VERSION}: rebuild and flash the firmware ('scons flash')")
        return info

    def profile(self) -> list[int] | None:
        """Per-layer costs of the last INFER, or None when the device has none (NO_RESULT)."""
        try:
            frame = self.request(p.Command.PROFILE)
        except p.DeviceError as exc:
            if exc.code == p.ErrorCode.NO_RESULT:
                return None
            raise
        return p.unpack_profile_response(frame.payload)

    def _await(self, seq: int, timeout: float) -> p.Frame:
        """The answer to `seq`; answers to older requests are skipped."""
        while True:
            try:
                frame = self.receive(timeout)
            except ResponseTimeout:
                self.stats.timeouts += 1
                self.on_event("timeout", f"no answer to seq {seq} within {timeout:.1f} s")
                raise
            if frame.is_error:
                err = frame.error()
                if err.code in _LINK_ERRORS:
                    self._count_device_error(err)
                    raise _Retry(str(err))
            if frame.seq == seq:
                return frame

    def _count_device_error(self, err: p.DeviceError) -> None:
        name = p.ErrorCode(err.code).name
        self.stats.device_errors[name] = self.stats.device_errors.get(name, 0) + 1
        if err.code == p.ErrorCode.BAD_CRC:
            self.stats.crc_errors += 1
            self.on_event("crc_error", str(err))
        else:
            self.on_event("device_error", str(err))

    def _recover(self, reason: str, attempt: int) -> None:
        """Resync after a failed exchange, or raise LinkError when out of retries."""
        if attempt >= self.retries:
            raise LinkError(f"{self.port}: giving up after {self.retries} retries: {reason}")
        self.stats.retries += 1
        self.on_event("retry", reason)
        self.resync()

    def resync(self) -> None:
        """Get back to a clean state: wait out partial frames, drain, PING until echoed.

        Then PROFILE tells whether the device rebooted (NO_RESULT: nothing
        inferred since boot, which is a reboot only once an INFER was
        answered); a reboot is counted and reported.
        """
        # The device drops a partial frame after 100 ms of silence: wait that out.
        time.sleep(2 * p.INTER_BYTE_TIMEOUT_S)
        self.drain()
        if not self._ping_until_echo((self.retries + 2) * (self.compute_timeout + 0.5)):
            raise LinkError(f"{self.port} stopped answering PING: check the board and the cable")
        seq = self.send(p.Command.PROFILE)
        try:
            frame = self._await(seq, self.response_timeout(0, 4096))
        except (ResponseTimeout, _Retry):
            return  # the next exchange will retry; a reset is only counted when certain
        # NO_RESULT means "nothing inferred since boot": a reset only if we had a result.
        if frame.is_error and frame.error().code == p.ErrorCode.NO_RESULT and self._inferred:
            self._inferred = False
            self.stats.resets += 1
            why = self._restart_cause()
            self.on_event("reset", "the device answered PROFILE with NO_RESULT: it rebooted"
                          + (f" after {why}" if why else ""))

    def _restart_cause(self) -> str | None:
        """INFO's last_fault after a reboot, in words; None when INFO does not say
        (no fault, older firmware, or no clean answer: the reset is counted anyway)."""
        seq = self.send(p.Command.INFO)
        try:
            frame = self._await(seq, self.response_timeout(0, p.MAX_PAYLOAD_FORMAT))
            return None if frame.is_error else p.describe_fault(json.loads(frame.payload.decode("utf-8")))
        except (ResponseTimeout, _Retry, UnicodeDecodeError, ValueError):
            return None

    # ---- pipelined inference --------------------------------------------------

    def infer_stream(self, items: Iterable[tuple[int, bytes]], out_bytes: int,
                     depth: int = 2) -> Iterator[InferResult]:
        """INFER every (key, input) and yield the answers in order.

        Up to `depth` requests are in flight (the protocol allows two), so the
        next input is on the wire while the device computes. Work the caller
        does between two results overlaps the device's compute too.
        """
        source = iter(items)
        inflight: collections.deque[tuple[int, bytes, int]] = collections.deque()  # key, input, seq
        attempts: dict[int, int] = {}
        exhausted = False
        while True:
            while not exhausted and len(inflight) < depth:
                try:
                    key, data = next(source)
                except StopIteration:
                    exhausted = True
                    break
                inflight.append((key, data, self.send(p.Command.INFER, data)))
            if not inflight:
                return
            key, data, seq = inflight[0]
            timeout = self.response_timeout(len(data) * len(inflight), out_bytes * len(inflight))
            try:
                frame = self._await(seq, timeout)
                if frame.is_error:
                    raise frame.error()
            except (ResponseTimeout, _Retry) as exc:
                attempts[key] = attempts.get(key, 0) + 1
                self._recover(f"INFER of sample {key}: {exc}", attempts[key] - 1)
                # Everything in flight is void after the resync: send it again, in order.
                inflight = collections.deque((k, d, self.send(p.Command.INFER, d)) for k, d, _ in inflight)
                continue
            cost, output = p.unpack_infer_response(frame.payload)
            if len(output) != out_bytes:
                raise LinkError(f"INFER answer of {len(output)} output bytes, the model has {out_bytes}: "
                                "the board runs another model (see scons info)")
            inflight.popleft()
            attempts.pop(key, None)
            self._inferred = True
            yield InferResult(key, cost, output)


class _Retry(Exception):
    """The device reported a link-level error for one of our frames."""
