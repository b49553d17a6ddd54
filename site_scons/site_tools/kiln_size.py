"""SCons tool: env.KilnSizeReport(elf, board) prints flash and RAM use of the
firmware and writes size.json beside the ELF (logic: kiln/sizereport.py).

The report runs on every `scons size-report`, and fails the build when a
memory region overflows or FLASH_BUDGET / RAM_BUDGET is exceeded.
"""

from __future__ import annotations

from pathlib import Path

import kiln_scons
from kiln import boards, sizereport
from kiln.atomic import write_json
from kiln.errors import KilnError


def _report_action(target, source, env) -> None:  # noqa: ANN001 - SCons signature
    elf = Path(str(source[0]))
    board = boards.load(env["KILN_SIZE_BOARD"])
    rep = sizereport.report(elf, elf.with_suffix(".map"), board)
    flash_budget = sizereport.parse_bytes(env.get("FLASH_BUDGET", ""), "FLASH_BUDGET")
    ram_budget = sizereport.parse_bytes(env.get("RAM_BUDGET", ""), "RAM_BUDGET")
    bad = sizereport.problems(rep, flash_budget, ram_budget)
    rep["budgets"] = {"flash": flash_budget, "ram": ram_budget}
    rep["problems"] = bad
    write_json(Path(str(target[0])), rep, indent=2)
    print(sizereport.format_text(rep))
    print(f"\nwrote {target[0]}")
    if bad:
        raise KilnError("size-report: " + "; ".join(bad))


def kiln_size_report(env, elf, board: str):  # noqa: ANN001, ANN201 - SCons nodes
    """Report on `elf` (a node or path) for `board`; returns the size.json node."""
    elf_path = Path(str(elf))
    target = env.Command(str(elf_path.with_name("size.json")), elf,
                         kiln_scons.action(_report_action, "  SIZE $TARGET"),
                         KILN_SIZE_BOARD=board, PRINT_CMD_LINE_FUNC=lambda *a, **k: None)
    env.AlwaysBuild(target)  # the point of the alias is to print the report
    return target


def generate(env) -> None:  # noqa: ANN001
    """Add KilnSizeReport to env."""
    env.AddMethod(kiln_size_report, "KilnSizeReport")


def exists(env) -> bool:  # noqa: ANN001
    """Always available (pyelftools is in the venv)."""
    return True
