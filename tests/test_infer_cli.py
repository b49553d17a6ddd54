"""python -m host.infer fails fast and says what to do: no board, a silent port."""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import time
import tty

import pytest
from kiln import ROOT

TFLITE = ROOT / "build" / "models" / "fashion_mnist" / "ptq.tflite"  # when built; else a tiny model


def _infer(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "site_scons")]))
    return subprocess.run([sys.executable, "-m", "host.infer", *args], cwd=ROOT, env=env,
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
        proc = _infer("--board", "b_u585i_iot02a", "--port", os.ttyname(slave), "--baud", "115200",
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
    proc = _infer("--board", "b_u585i_iot02a", "--tflite", str(tflite), "--out", str(tmp_path))
    assert proc.returncode == 1
    assert "no board found" in proc.stderr and "PORT=" in proc.stderr
