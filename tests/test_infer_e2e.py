"""`scons infer` end to end on the emulated board, and its fault handling.

Real parts only: the ptq Fashion-MNIST model built by SCons, the firmware on
the registry's first emulated board in QEMU, its UART over a pty or TCP, the tflite-micro reference.
Faults are made on the real link: a TCP proxy between the runner and QEMU
injects garbage, cuts a request short and corrupts an answer; QEMU is
killed mid-run; the runner is stopped and resumed.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from kiln import ROOT, boards, child_env, paths
from kiln import firmware as fw
from support import have, run_scons

from host import protocol as p
from host import report
from host.qemu import Qemu

pytestmark = [pytest.mark.skipif(not have("qemu-system-arm") or not have("arm-none-eabi-gcc"),
                                 reason="qemu-system-arm or arm-none-eabi-gcc missing (toolchain/setup)"),
              pytest.mark.slow]

B = boards.load(boards.emulated()[0])
BOARD, NET, VARIANT = B.name, "fashion_mnist", "ptq"
ELF = paths.firmware_elf(BOARD, NET, VARIANT, fw.resolve_kernels("auto", fw.cpu_flags(B.cpu)))
TFLITE = paths.tflite(NET, VARIANT)


def _env() -> dict[str, str]:
    """The host runner's environment: site_scons and the repository on PYTHONPATH."""
    return child_env()


@pytest.fixture(scope="module")
def firmware() -> tuple[Path, Path]:
    """The ptq firmware for the emulated board and its .tflite, built by SCons."""
    run_scons(f"BOARD={BOARD}", f"MODEL={VARIANT}", str(ELF.relative_to(ROOT)))
    return ELF, TFLITE


def _runner(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "host.infer", "--board", BOARD, "--net", NET, "--variant", VARIANT,
            "--tflite", str(TFLITE), "--elf", str(ELF), "--out", str(out), *extra]


def _samples(out: Path) -> list[int]:
    """Sample indices in the log, in order (a line being written right now is skipped)."""
    return [r["i"] for r in report.read_log(out / "infer.jsonl") if r.get("kind") == "sample"]


def _check_complete(out: Path, n: int) -> dict:
    """infer.json and infer.jsonl agree: every index 0..n-1 exactly once, all bit-exact."""
    summary = json.loads((out / "infer.json").read_text())
    indices = _samples(out)
    assert sorted(indices) == list(range(n)), "a sample is missing or counted twice"
    assert summary["samples"] == n
    assert summary["fidelity"] == 1.0 and summary["max_abs_diff"] == 0
    return summary


def test_scons_infer_200_images_bit_exact(firmware) -> None:
    out = ELF.parent
    proc = run_scons(f"BOARD={BOARD}", f"MODEL={VARIANT}", "LIMIT=200", "infer", timeout=600)
    s = _check_complete(out, 200)
    assert abs(s["device_accuracy"] - s["host_accuracy"]) <= 0.02
    assert s["device_accuracy"] > 0.7  # a trained model, not noise
    assert s["latency"]["unit"] == "instructions" and s["latency"]["min"] > 0
    assert s["layers"] and sum(layer["cost"] for layer in s["layers"]) > 0
    assert sum(sum(row) for row in s["confusion"]) == 200
    assert (out / "confusion.png").read_bytes()[:4] == b"\x89PNG"
    assert "fidelity" in proc.stdout and "instructions" in proc.stdout


class FaultyLink(threading.Thread):
    """A TCP proxy runner <-> QEMU that damages chosen frames.

    to_device: request number -> "garbage" (noise before it) or "cut" (send its
    first half only, then nothing of it); to_host: answer number -> "corrupt"
    (one payload byte flipped, so its CRC fails).
    """

    def __init__(self, target: str, to_device: dict[int, str], to_host: dict[int, str]) -> None:
        super().__init__(daemon=True)
        host_, port = target.removeprefix("socket://").split(":")
        self.upstream = socket.create_connection((host_, int(port)))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = f"socket://127.0.0.1:{self.listener.getsockname()[1]}"
        self.faults = {"up": to_device, "down": to_host}
        self.done = threading.Event()
        self.applied: list[str] = []
        self.start()

    def _damage(self, direction: str, decoder: p.Decoder, count: list[int], data: bytes) -> bytes:
        """Re-frame the byte stream and apply this direction's faults frame by frame."""
        out = b""
        for frame in decoder.feed(data):
            count[0] += 1
            raw = p.encode(frame.type, frame.seq, frame.payload)
            fault = self.faults[direction].get(count[0])
            if fault == "garbage":
                raw = b"\x00\xffKL\x01junk\x13" + raw
            elif fault == "cut":
                raw = raw[: len(raw) // 2]
            elif fault == "corrupt":
                raw = raw[:8] + bytes([raw[8] ^ 0x55]) + raw[9:]
            if fault:
                self.applied.append(fault)
            out += raw
        return out

    def run(self) -> None:
        client, _ = self.listener.accept()
        socks = {client: (self.upstream, "up", p.Decoder(), [0]),
                 self.upstream: (client, "down", p.Decoder(), [0])}
        while not self.done.is_set():
            ready, _, _ = select.select(list(socks), [], [], 0.1)
            for s in ready:
                data = s.recv(65536)
                if not data:
                    self.done.set()
                    break
                peer, direction, decoder, count = socks[s]
                peer.sendall(self._damage(direction, decoder, count, data))
        client.close()
        self.upstream.close()


def test_garbage_cut_frame_and_bad_crc_are_retried(firmware, tmp_path) -> None:
    n = 60
    with Qemu.for_board(B, ELF, serial="tcp") as q:
        # Request 1 and 2 are the runner's PING and INFO; the INFERs follow.
        link = FaultyLink(q.port, to_device={8: "garbage", 15: "cut", 30: "garbage"}, to_host={22: "corrupt"})
        proc = subprocess.run(_runner(tmp_path, "--port", link.port, "--limit", str(n), "--verbose"),
                              cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300)
        link.done.set()
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(link.applied) == ["corrupt", "cut", "garbage", "garbage"]
    s = _check_complete(tmp_path, n)
    assert s["retries"] >= 2 and s["crc_errors"] >= 1  # the cut request and the corrupted answer
    events = [json.loads(line) for line in (tmp_path / "infer.jsonl").read_text().splitlines()]
    assert any(e.get("event") == "device_error" and "TIMEOUT" in e["detail"] for e in events) or \
        any(e.get("event") == "timeout" for e in events)


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


def _wait_for(out: Path, count: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (out / "infer.jsonl").exists() and len(_samples(out)) >= count:
            return
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} samples after {timeout} s")


def test_emulator_killed_then_runner_stopped_and_resumed(firmware, tmp_path) -> None:
    n = 150
    proc = subprocess.Popen(_runner(tmp_path, "--limit", str(n)), cwd=ROOT, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(tmp_path, 30, proc)
        qemu = [c for c in _children(proc.pid) if "qemu" in Path(f"/proc/{c}/cmdline").read_text()]
        assert len(qemu) == 1
        os.kill(qemu[0], signal.SIGKILL)  # the board dies mid-run: the runner reboots it
        _wait_for(tmp_path, 90, proc)
        proc.send_signal(signal.SIGTERM)  # the user stops the run
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 130, err[-3000:]
        assert "RESUME=1" in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    first = _samples(tmp_path)
    assert 90 <= len(first) < n and len(set(first)) == len(first)

    done = subprocess.run(_runner(tmp_path, "--limit", str(n), "--resume"), cwd=ROOT, env=_env(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"resuming: {len(first)} samples already" in done.stderr
    s = _check_complete(tmp_path, n)
    assert s["resets"] >= 1 and s["runs"] == 2


def test_scons_info_prints_the_model_view(firmware) -> None:
    from host.reference import sha256_file

    proc = run_scons(f"BOARD={BOARD}", f"MODEL={VARIANT}", "info", timeout=300)
    assert f"{NET}/{VARIANT}" in proc.stdout and sha256_file(TFLITE) in proc.stdout
    assert "CONV_2D" in proc.stdout and "FULLY_CONNECTED" in proc.stdout and "instructions" in proc.stdout


def test_board_running_another_model_is_named(firmware, tmp_path) -> None:
    other = tmp_path / "other.tflite"
    other.write_bytes(TFLITE.read_bytes() + b"\0" * 8)  # same graph, another file: another hash
    t0 = time.monotonic()
    proc = subprocess.run(_runner(tmp_path, "--limit", "5") + ["--tflite", str(other)], cwd=ROOT, env=_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and time.monotonic() - t0 < 30
    assert f"the board runs {NET}/{VARIANT}" in proc.stderr
    assert f"scons flash NET={NET} MODEL={VARIANT} BOARD={BOARD}" in proc.stderr
    assert not (tmp_path / "infer.jsonl").exists()
