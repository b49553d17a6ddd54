"""SCons tool: the ahead-of-time compiler (.tflite -> C) and check-host.

Methods added to the environment:
  env.KilnGenerate(outdir, tflite, name=..., kernels="portable", optimize="fit",
                   flash_bytes=None, board="")
      -> [outdir/kiln_model.c, outdir/kiln_model.h, outdir/kiln_layers.json (each layer's
         kernel and why)]; rebuilt when the .tflite, the name, the kernel set, the layout
         goal and flash (kiln.codegen.layout), the templates or the compiler's modules change.
  env.KilnCheckHost(net, variant, tflite_node)
      -> an always-built node comparing the host-compiled model with tflite-micro
         (TFLITE=, INPUTS=, COUNT= from the environment; TFLITE= replaces the variant).

Generation runs in this process (kiln.codegen never imports TensorFlow);
check-host runs `python -m kiln.hostcheck` in a subprocess so its exit status
and output are its own.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import kiln
import kiln_scons
from kiln import paths, pydeps
from kiln.atomic import write_atomic
from kiln.errors import KilnError
from SCons.Script import AlwaysBuild, Builder

_TEMPLATES = Path(kiln.__file__).resolve().parent / "templates"


def _compiler_sources(entry: str = "kiln.codegen") -> list[str]:
    """Everything whose change must redo a compiler step: the modules `entry`
    imports (found by kiln.pydeps) and the C templates."""
    return [str(f) for f in pydeps.module_files(entry) + sorted(_TEMPLATES.glob("*.j2"))]


def _generate_action(target, source, env) -> int:  # noqa: ANN001 - SCons action signature
    from kiln import codegen
    from kiln.codegen.layout import Budget

    flash = int(env["KILN_FLASH_BYTES"]) if env["KILN_FLASH_BYTES"] else None
    budget = Budget(env["KILN_OPTIMIZE"], flash, env["KILN_BOARD"], sparse=env["KILN_SPARSE"] != "off")
    codegen.generate(str(source[0]), os.path.dirname(str(target[0])),
                     name=env["KILN_MODEL_NAME"], kernels=env["KILN_KERNELS"], budget=budget)
    return 0


def _generate_str(target, source, env) -> str:  # noqa: ANN001
    dense = ", SPARSE=off" if env["KILN_SPARSE"] == "off" else ""
    return f"  KILNC {target[0]} ({env['KILN_KERNELS']}, OPTIMIZE={env['KILN_OPTIMIZE']}{dense})"


def _emitter(target, source, env):  # noqa: ANN001, ANN202
    outdir = os.path.dirname(str(target[0]))
    target = [os.path.join(outdir, f) for f in ("kiln_model.c", "kiln_model.h", paths.LAYERS_REPORT)]
    env.Depends(target, _compiler_sources())
    return target, source


def kiln_generate(env, outdir: str, tflite, name: str = "", kernels: str = "portable",  # noqa: ANN001
                  optimize: str = "fit", flash_bytes: int | None = None, board: str = "",
                  sparse: bool = True) -> list:
    """Generate outdir/kiln_model.c and .h from `tflite`, each layer's weight layout chosen
    for `optimize` and the board's `flash_bytes` (kiln.codegen.layout); not `sparse`
    (SPARSE=off): no sparse weight layout."""
    name = name or Path(str(tflite if not isinstance(tflite, list) else tflite[0])).stem
    return env._KilnGenerate(os.path.join(str(outdir), "kiln_model.c"), tflite,
                             KILN_MODEL_NAME=name, KILN_KERNELS=kernels, KILN_OPTIMIZE=optimize,
                             KILN_FLASH_BYTES=str(flash_bytes or ""), KILN_BOARD=board,
                             KILN_SPARSE="auto" if sparse else "off")


def _check_host_action(target, source, env) -> int:  # noqa: ANN001
    cmd = [sys.executable, "-m", "kiln.hostcheck", source[0].abspath,
           "--name", env["KILN_CHECK_NAME"], "--count", str(env["KILN_CHECK_COUNT"])]
    if env["KILN_CHECK_INPUTS"]:
        cmd += ["--inputs", env["KILN_CHECK_INPUTS"]]
    if env.get("VERBOSE"):
        cmd.append("--verbose")
    proc = subprocess.run(cmd, env=kiln.child_env(), capture_output=True, text=True)
    sys.stdout.write(proc.stdout)
    if proc.returncode:
        # check-host prints its own one-line errors ("check-host: ..."); anything
        # else on stderr is a crash, whose tail is the useful part.
        errors = [line for line in proc.stderr.splitlines() if line.startswith("check-host:")]
        raise KilnError("\n".join(errors) or proc.stderr.strip()[-2000:]
                        or f"check-host exited with status {proc.returncode}")
    write_atomic(Path(str(target[0])), proc.stdout.encode())
    return 0


def kiln_check_host(env, net: str, variant: str, tflite_node) -> list:  # noqa: ANN001
    """The check-host target for NET/MODEL, or for TFLITE= when given."""
    # TFLITE, COUNT and INPUTS were checked by their SConstruct validators.
    given = str(env.get("TFLITE", "") or "")
    if given:
        path = Path(given).expanduser().resolve()
        source, name = str(path), path.stem
    else:
        source, name = tflite_node, f"{net}/{variant}"
    inputs = str(env.get("INPUTS", "") or "")
    stamp = paths.check_host_dir() / (name.replace("/", "_") + ".txt")
    node = env.Command(str(stamp), source, kiln_scons.action(_check_host_action, "  CHECK-HOST $SOURCE"),
                       KILN_CHECK_NAME=name, KILN_CHECK_COUNT=str(env.get("COUNT") or "100"),
                       KILN_CHECK_INPUTS=str(Path(inputs).expanduser().resolve()) if inputs else "")
    env.Depends(node, _compiler_sources("kiln.hostcheck"))
    AlwaysBuild(node)
    return node


def _ops_action(target, source, env) -> None:  # noqa: ANN001 - SCons action signature
    from kiln import optable

    print(optable.text(), end="")


def kiln_ops(env) -> list:  # noqa: ANN001
    """An always-built alias printing the supported-operator table (kiln.optable)."""
    node = env.Alias("kiln-ops-table", [], kiln_scons.action(_ops_action, None))
    env.AlwaysBuild(node)
    return node


def generate(env) -> None:  # noqa: ANN001
    """Add KilnGenerate, KilnCheckHost and KilnOps to env."""
    env.AddMethod(kiln_ops, "KilnOps")
    env["BUILDERS"]["_KilnGenerate"] = Builder(
        action=kiln_scons.action(_generate_action, _generate_str,
                                 varlist=["KILN_MODEL_NAME", "KILN_KERNELS", "KILN_OPTIMIZE",
                                          "KILN_FLASH_BYTES", "KILN_BOARD", "KILN_SPARSE"]),
        emitter=_emitter, suffix=".c", src_suffix=".tflite")
    env.AddMethod(kiln_generate, "KilnGenerate")
    env.AddMethod(kiln_check_host, "KilnCheckHost")


def exists(env) -> bool:  # noqa: ANN001
    """Always available: the compiler is pure Python."""
    return True
