"""SCons tool: env.KilnFlash(fw, board) programs the board with the firmware
(openocd or STM32_Programmer_CLI as its board.toml [flash] section says,
PROGRAMMER= picks: option bytes checked, then attached under reset and
written), or, for an emulated board, boots it in QEMU with
`python -m host.emulate`. Logic: kiln/flash.py and host/emulate.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import kiln_scons
from kiln import ROOT, boards, child_env, flash
from kiln.errors import KilnError


def _flash_action(target, source, env) -> None:  # noqa: ANN001 - SCons signature
    elf = Path(str(source[0])).resolve()
    board = boards.load(env["KILN_FLASH_BOARD"])
    if board.emulated:
        # A child, so the build library never imports host/; it stays in the
        # foreground until Ctrl-C, which it handles (SCons only flags it).
        rc = subprocess.call([sys.executable, "-m", "host.emulate", "--board", board.name, str(elf)],
                             cwd=str(ROOT), env=child_env())
        if rc:
            raise KilnError(f"booting {board.name} in QEMU failed (status {rc}; see above)")
        return
    flash.flash_board(elf, board, env.get("PROGRAMMER", ""), env["ENV"])


def kiln_flash(env, fw: dict, board: str):  # noqa: ANN001, ANN201 - SCons nodes
    """An always-run alias that flashes fw["elf"] (building it first)."""
    action = kiln_scons.action(_flash_action, lambda target, source, env: f"  FLASH {source[0]}")
    node = env.Alias(f"kiln-flash-{board}", [fw["elf"], fw["hex"]], action, KILN_FLASH_BOARD=board)
    env.AlwaysBuild(node)
    return node


def generate(env) -> None:  # noqa: ANN001
    """Add KilnFlash to env."""
    env.AddMethod(kiln_flash, "KilnFlash")


def exists(env) -> bool:  # noqa: ANN001
    """Always available; a missing programmer is reported when flashing."""
    return True
