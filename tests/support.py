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


def have(tool: str) -> bool:
    """True when `tool` is on PATH."""
    return shutil.which(tool) is not None
