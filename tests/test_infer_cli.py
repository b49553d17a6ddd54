"""python -m host.infer fails fast and says what to do: no board, a silent port."""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import time
import tty

import pytest
from kiln import ROOT, boards, child_env, paths, registry

TFLITE = paths.tflite(registry.DEFAULT_NET, "ptq")  # when built; else a tiny model
#: A board on real hardware (found on a serial port, never booted in QEMU).
HARDWARE = boards.load(boards.hardware()[0])


def _infer(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "host.infer", *args], cwd=ROOT, env=child_env(),
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def tflite(tmp_path):
    """Any real model will do: these runs stop before inference."""
    if TFLITE.exists():
        return TFLITE
    import tf_keras as k

    from tests.opmodels import convert  # TensorFlow only when the build has no model

    model = k.Sequential([k.Input((4,), batch_size=1), k.layers.Dense(2)])
    path = tmp_path / "m.tflite"
    path.write_bytes(convert(model))
    return path


def test_silent_port_is_an_error_within_seconds(tflite, tmp_path) -> None:
    master, slave = os.openpty()  # a port where nothing answers
    try:
        tty.setraw(slave)
        t0 = time.monotonic()
        proc = _infer("--board", HARDWARE.name, "--port", os.ttyname(slave), "--baud", "115200",
                      "--tflite", str(tflite), "--out", str(tmp_path), "--limit", "3")
        took = time.monotonic() - t0
    finally:
        os.close(slave)
        os.close(master)
    assert proc.returncode == 1 and took < 15
    assert "no answer from /dev/pts/" in proc.stderr and "115200 baud" in proc.stderr
    assert "scons flash" in proc.stderr and "BAUD=" in proc.stderr
    assert not (tmp_path / "infer.jsonl").exists()


@pytest.mark.skipif(bool(glob.glob("/dev/serial/by-id/*") or os.path.exists("/dev/ttyACM0")),
                    reason="a serial device is plugged in here")
def test_no_board_plugged_in_names_the_fix(tflite, tmp_path) -> None:
    proc = _infer("--board", HARDWARE.name, "--tflite", str(tflite), "--out", str(tmp_path))
    assert proc.returncode == 1
    assert f"no {HARDWARE.name} found" in proc.stderr and "PORT=" in proc.stderr
    for pattern in HARDWARE.host_ports:  # where it looked, from its board.toml
        assert pattern in proc.stderr


def test_baud_defaults_to_the_boards(tflite, tmp_path) -> None:
    master, slave = os.openpty()
    try:
        tty.setraw(slave)
        proc = _infer("--board", HARDWARE.name, "--port", os.ttyname(slave), "--tflite", str(tflite),
                      "--out", str(tmp_path), "--limit", "1")
    finally:
        os.close(slave)
        os.close(master)
    assert proc.returncode == 1
    assert f"{HARDWARE.default_baud} baud" in proc.stderr
