"""SCons tool: the ahead-of-time compiler (.tflite -> C) and check-host.

Methods added to the environment:
  env.KilnGenerate(outdir, tflite, name=..., kernels="portable")
      -> [outdir/kiln_model.c, outdir/kiln_model.h]; rebuilt when the .tflite,
         the name, the kernel set, the templates or the compiler's modules change.
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
from kiln.errors import KilnError
from SCons.Script import Action, AlwaysBuild, Builder

_KILN = Path(kiln.__file__).resolve().parent


def _compiler_sources() -> list[str]:
    """Everything whose change must regenerate the C: the compiler's modules and templates."""
    files = [_KILN / n for n in ("ir.py", "tflite_reader.py", "planner.py", "quantmath.py",
                                 "kernels_cm33.py", "cm33_layout.py", "errors.py")]
    files += sorted((_KILN / "codegen").glob("*.py")) + sorted((_KILN / "templates").glob("*.j2"))
    return [str(f) for f in files if f.exists()]


def _generate_action(target, source, env) -> int:  # noqa: ANN001 - SCons action signature
    from kiln import codegen

    try:
        codegen.generate(str(source[0]), os.path.dirname(str(target[0])),
                         name=env["KILN_MODEL_NAME"], kernels=env["KILN_KERNELS"])
    except KilnError as exc:
        print(f"scons: *** {exc}", file=sys.stderr)
        return 1
    return 0


def _generate_str(target, source, env) -> str:  # noqa: ANN001
    return f"  KILNC {target[0]} ({env['KILN_KERNELS']})"


def _emitter(target, source, env):  # noqa: ANN001, ANN202
    outdir = os.path.dirname(str(target[0]))
    target = [os.path.join(outdir, "kiln_model.c"), os.path.join(outdir, "kiln_model.h")]
    env.Depends(target, _compiler_sources())
    return target, source


def kiln_generate(env, outdir: str, tflite, name: str = "", kernels: str = "portable") -> list:  # noqa: ANN001
    """Generate outdir/kiln_model.c and .h from `tflite`."""
    name = name or Path(str(tflite if not isinstance(tflite, list) else tflite[0])).stem
    return env._KilnGenerate(os.path.join(str(outdir), "kiln_model.c"), tflite,
                             KILN_MODEL_NAME=name, KILN_KERNELS=kernels)


def _check_host_action(target, source, env) -> int:  # noqa: ANN001
    cmd = [sys.executable, "-m", "kiln.hostcheck", source[0].abspath,
           "--name", env["KILN_CHECK_NAME"], "--count", str(env["KILN_CHECK_COUNT"])]
    if env["KILN_CHECK_INPUTS"]:
        cmd += ["--inputs", env["KILN_CHECK_INPUTS"]]
    proc = subprocess.run(cmd, env=kiln.child_env(), capture_output=True, text=True)
    sys.stdout.write(proc.stdout)
    for line in proc.stderr.splitlines():
        print(f"scons: *** {line}" if line.startswith("check-host:") else line, file=sys.stderr)
    if proc.returncode == 0:
        Path(str(target[0])).parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(str(target[0]) + ".tmp")
        tmp.write_text(proc.stdout)
        tmp.replace(str(target[0]))
    return proc.returncode


def kiln_check_host(env, net: str, variant: str, tflite_node) -> list:  # noqa: ANN001
    """The check-host target for NET/MODEL, or for TFLITE= when given."""
    given = str(env.get("TFLITE", "") or "")
    if given:
        path = Path(given).expanduser().resolve()
        source, name = str(path), path.stem
        if not path.is_file():
            print(f"scons: *** TFLITE={given}: no such file; pass the path of a .tflite model",
                  file=sys.stderr)
            sys.exit(2)
    else:
        source, name = tflite_node, f"{net}/{variant}"
    count = str(env.get("COUNT", "100") or "100")
    if not count.isdigit() or int(count) < 1:
        print(f"scons: *** COUNT={count}: pass a positive number of inputs", file=sys.stderr)
        sys.exit(2)
    inputs = str(env.get("INPUTS", "") or "")
    if inputs and not Path(inputs).is_file():
        print(f"scons: *** INPUTS={inputs}: no such file; pass a .npy of inputs", file=sys.stderr)
        sys.exit(2)
    stamp = os.path.join("build", "check-host", name.replace("/", "_") + ".txt")
    node = env.Command(stamp, source, Action(_check_host_action, "  CHECK-HOST $SOURCE"),
                       KILN_CHECK_NAME=name, KILN_CHECK_COUNT=count,
                       KILN_CHECK_INPUTS=str(Path(inputs).resolve()) if inputs else "")
    env.Depends(node, _compiler_sources())
    AlwaysBuild(node)
    return node


def generate(env) -> None:  # noqa: ANN001
    """Add KilnGenerate and KilnCheckHost to env."""
    env["BUILDERS"]["_KilnGenerate"] = Builder(
        action=Action(_generate_action, _generate_str, varlist=["KILN_MODEL_NAME", "KILN_KERNELS"]),
        emitter=_emitter, suffix=".c", src_suffix=".tflite")
    env.AddMethod(kiln_generate, "KilnGenerate")
    env.AddMethod(kiln_check_host, "KilnCheckHost")


def exists(env) -> bool:  # noqa: ANN001
    """Always available: the compiler is pure Python."""
    return True
