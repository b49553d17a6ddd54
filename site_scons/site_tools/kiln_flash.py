"""SCons tool: env.KilnFlash(fw, board) programs the board with the firmware
(openocd or STM32_Programmer_CLI, PROGRAMMER= picks), or boots it in QEMU for
an emulated board. Logic: kiln/flash.py."""

from __future__ import annotations

import subprocess
from pathlib import Path

from kiln import boards, flash
from kiln.errors import KilnError


def _flash_action(target, source, env) -> int:  # noqa: ANN001 - SCons signature
    elf = Path(str(source[0])).resolve()
    try:
        board = boards.load(env["KILN_FLASH_BOARD"])
        if board.emulated:
            return flash.run_emulated(elf, board)
        name, exe = flash.find_programmer(env.get("PROGRAMMER", ""), env["ENV"].get("PATH"))
        argv = flash.command(name, exe, elf, board)
    except KilnError as exc:
        print(f"scons: *** flash: {exc}")
        return 1
    print("  " + " ".join(argv), flush=True)
    rc = subprocess.run(argv, env=env["ENV"], check=False).returncode
    if rc:
        print(f"scons: *** flash: {name} exited with status {rc}: is the board plugged in "
              "over its ST-LINK USB port?")
    return rc


def kiln_flash(env, fw: dict, board: str):  # noqa: ANN001, ANN201 - SCons nodes
    """An always-run alias that flashes fw["elf"] (building it first)."""
    action = env.Action(_flash_action, strfunction=lambda target, source, env: f"  FLASH {source[0]}")
    node = env.Alias(f"kiln-flash-{board}", [fw["elf"], fw["hex"]], action, KILN_FLASH_BOARD=board)
    env.AlwaysBuild(node)
    return node


def generate(env) -> None:  # noqa: ANN001
    """Add KilnFlash to env."""
    env.AddMethod(kiln_flash, "KilnFlash")


def exists(env) -> bool:  # noqa: ANN001
    """Always available; a missing programmer is reported when flashing."""
    return True
