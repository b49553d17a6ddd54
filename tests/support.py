"""What many test files share: where things are, and how to run the build.

Import it as `from support import ROOT, run_scons` (pytest puts tests/ on the
path); fixtures built on it live in conftest.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
#: The venv's scons, beside the interpreter running the tests.
SCONS = str(Path(sys.executable).with_name("scons"))
#: Builds run at lower priority: the machine (2 cores) is shared with the tests.
NICE = [shutil.which("nice") or "nice"]


def run_scons(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None, check: bool = True,
              timeout: float = 900) -> subprocess.CompletedProcess:
    """Run `scons -Q args` in `cwd`; with `check`, a failure raises with the output's tail."""
    proc = subprocess.run([*NICE, SCONS, "-Q", *args], cwd=cwd, capture_output=True, text=True,
                          env=env if env is not None else os.environ.copy(), timeout=timeout)
    if check and proc.returncode:
        raise AssertionError(f"scons {' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def tracked_copy(dest: Path) -> Path:
    """Copy the repository's tracked files (as they are in the work tree) to `dest`: a clean
    checkout that a test may add network or board folders to. Returns `dest`."""
    names = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, names.decode().split("\0")):
        src = ROOT / name
        if src.is_file() and not src.is_symlink():  # .venv is a symlink and stays behind
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


def have(tool: str) -> bool:
    """True when `tool` is on PATH."""
    return shutil.which(tool) is not None


def variant_path(net: str, variant: str) -> Path:
    """build/models/<net>/<variant>.tflite, built through scons when missing."""
    from kiln import paths

    path = paths.tflite(net, variant)
    if not path.exists():
        run_scons(f"NET={net}", f"MODEL={variant}", str(path.relative_to(ROOT)))
    return path


def run_both(path: Path, images: np.ndarray, kernels: str = "portable",
             budget: object = None) -> tuple[object, list[str]]:
    """Kiln on the host (`kernels`) and the oracle on the same inputs (float images in [0, 1]).

    Returns the comparison (kiln.hostcheck.HostCheckResult) and the kernel
    chosen for each layer.
    """
    from kiln import hostcheck, oracle
    from kiln.quantmath import quantize

    hm = hostcheck.HostModel(path, kernels=kernels, budget=budget)
    try:
        chosen = [la.kernel for la in hm.model.layers]
        if hm.in_dtype == np.int8:
            scale, zp = hm.model.input["scale"], hm.model.input["zero_point"]
            xs = quantize(images, scale, zp)
        else:
            xs = images.astype(np.float32)
        xs = xs.reshape(len(xs), *hm.in_shape)
        got = hm.invoke_many(xs)
    finally:
        hm.close()
    ref = oracle.reference_outputs(path, xs)
    assert len(np.unique(ref)) > 2, "degenerate reference outputs"
    return hostcheck.compare(f"{path.stem} {kernels}", got, ref), chosen
