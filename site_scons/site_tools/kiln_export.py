"""SCons tool: env.KilnExport(board_name, net, variant, tflite, own) -> the
export's zip node: the model compiled for a CPU (CPU=, or BOARD='s) and the
runtime files it calls, with CMake, Make, Zephyr and STM32CubeIDE glue, in
OUT= (default build/export/<prefix>/) and OUT.zip. The logic is kiln.export.

It is always rebuilt when asked for: several exports may share one OUT, so
the folder is not this one target's alone.
"""

from __future__ import annotations

from pathlib import Path

import kiln_scons
from kiln import BUILD
from kiln.prefix import default_prefix
from SCons.Script import AlwaysBuild


def _export_action(target, source, env) -> None:  # noqa: ANN001 - SCons action signature
    from kiln import export
    from kiln.codegen.layout import Budget

    out = Path(env["KILN_EXPORT_OUT"])
    flash = int(env["KILN_FLASH_BYTES"]) if env["KILN_FLASH_BYTES"] else None
    tgt = export.target_for(env["KILN_EXPORT_CPU"], env["KILN_KERNELS"])
    zpath = export.export(str(source[0]), out, tgt, env["KILN_EXPORT_PREFIX"], name=env["KILN_MODEL_NAME"],
                          budget=Budget(env["KILN_OPTIMIZE"], flash, env["KILN_BOARD"]))
    manifest = export.read_manifest(out)
    m = manifest["models"][env["KILN_EXPORT_PREFIX"]]
    print(f"exported {m['name']} as {env['KILN_EXPORT_PREFIX']} for {tgt.cpu} ({tgt.kernels} kernels) "
          f"to {out}/ and {zpath}")
    print(f"  models:  {', '.join(manifest['models'])} (this one: arena {m['arena_bytes']} B, "
          f"weights {m['weight_bytes']} B)")
    print(f"  runtime: {len(manifest['runtime'])} C files the models call")
    print(f"  build:   cmake -S {out} -B {out}-build -DCMAKE_TOOLCHAIN_FILE={out}/cmake/arm-none-eabi.cmake "
          f"&& cmake --build {out}-build   (or see {out}/README.md: Make, Zephyr, STM32CubeIDE)")


def kiln_export(env, board_name: str, net: str, variant: str, tflite, own: Path | None) -> list:  # noqa: ANN001
    """The export target of NET/MODEL (or TFLITE=) for CPU= or the board's CPU."""
    cpu, board = str(env.get("CPU", "") or ""), ""
    flash = None
    if not cpu:   # the board's CPU, and its flash for OPTIMIZE=fit
        b = kiln_scons.board(board_name)
        cpu, board = b.cpu, b.name
        flash = sum(r.length for r in b.regions if r.kind == "flash")
    name = own.stem if own is not None else f"{net}/{variant}"
    prefix = str(env.get("PREFIX", "") or "") or default_prefix(name)
    given = str(env.get("OUT", "") or "")
    out = Path(given).expanduser().resolve() if given else BUILD / "export" / prefix
    if out.suffix == ".zip":
        kiln_scons.fail(f"OUT={given} names the zip: give the folder (OUT={out.with_suffix('')}); "
                        "the zip is written beside it")
    node = env.Command(str(out.with_name(out.name + ".zip")), tflite,
                       kiln_scons.action(_export_action, f"  EXPORT {out} ({prefix}, {cpu})"),
                       KILN_EXPORT_OUT=str(out), KILN_EXPORT_CPU=cpu, KILN_EXPORT_PREFIX=prefix,
                       KILN_KERNELS=str(env.get("KERNELS", "auto")), KILN_MODEL_NAME=name,
                       KILN_OPTIMIZE=str(env.get("OPTIMIZE", "") or "fit"),
                       KILN_FLASH_BYTES=str(flash or ""), KILN_BOARD=board)
    AlwaysBuild(node)
    env.NoClean(node)   # an OUT outside build/ is the user's; `scons -c` cleans build/ as before
    return node


def generate(env) -> None:  # noqa: ANN001
    """Add KilnExport to env."""
    env.AddMethod(kiln_export, "KilnExport")


def exists(env) -> bool:  # noqa: ANN001
    """Always available: the export is pure Python."""
    return True

