"""`scons export`: compiled models and the runtime they need as a C library
for another firmware's build: CMake, Make, a Zephyr module, STM32CubeIDE.

The tree written to OUT (and zipped to OUT.zip):

    kiln-export.json        what it holds: API version, CPU, kernel set, flags, models
    README.md               the API, the models' tensors and each build system's steps
    CMakeLists.txt          targets kiln_runtime and one static library per model
    kiln.mk                 the Makefile fragment
    cmake/arm-none-eabi.cmake   a toolchain file for the CPU
    zephyr/                 module.yml, CMakeLists.txt, Kconfig
    runtime/include/kiln/   the C API's and the kernels' headers
    runtime/src/<set>/      only the runtime files the models call
    models/<prefix>/        <prefix>.c, <prefix>.h, <prefix>_layers.json
    example/main.c          a sensor buffer through the first model

Exports into the same OUT with distinct prefixes add models beside the ones
there and share one runtime (the files every model needs); they must be for
the same CPU and kernel set. The tree is built beside OUT and swapped in
whole, so a failed export leaves the previous one as it was.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import jinja2

from kiln import codegen, runtime_files
from kiln import firmware as fw
from kiln.codegen.layout import Budget
from kiln.errors import KilnError
from kiln.prefix import check_prefix, default_prefix

MANIFEST = "kiln-export.json"
TEMPLATES = Path(__file__).resolve().parent / "templates" / "export"
#: The firmware build's flags that only its own tools read (debug info, the stack bound's .su files).
_BUILD_ONLY_FLAGS = ("-g3", "-fstack-usage")
#: The build glue written beside the C: its path in the tree and its template.
_GLUE = {"CMakeLists.txt": "CMakeLists.txt.j2", "kiln.mk": "kiln.mk.j2", "README.md": "README.md.j2",
         "cmake/arm-none-eabi.cmake": "arm-none-eabi.cmake.j2",
         "zephyr/CMakeLists.txt": "zephyr_CMakeLists.txt.j2", "zephyr/module.yml": "zephyr_module.yml.j2",
         "zephyr/Kconfig": "zephyr_Kconfig.j2", "example/main.c": "main.c.j2"}
#: Version of the exported C API, as in firmware/runtime/include/kiln/model.h.
API_VERSION = "1.0"


@dataclass(frozen=True)
class Target:
    """What the library is compiled for."""

    cpu: str
    kernels: str
    cpu_flags: tuple[str, ...]
    cflags: tuple[str, ...]
    defines: tuple[str, ...]


def target_for(cpu: str, kernels: str = "auto") -> Target:
    """The flags and kernel set of `cpu` (toolchain/cpus.toml), `kernels` resolved."""
    flags = fw.cpu_flags(cpu)
    return Target(cpu=cpu, kernels=fw.resolve_kernels(kernels, flags), cpu_flags=flags.cpu_flags,
                  cflags=tuple(f for f in flags.cflags if f not in _BUILD_ONLY_FLAGS),
                  defines=flags.defines)


def export(tflite: str | Path, out: str | Path, target: Target, prefix: str, name: str | None = None,
           budget: Budget | None = None) -> Path:
    """Compile `tflite` for `target` and write or extend the export tree `out`
    with it under `prefix`; returns the zip's path (out + ".zip")."""
    check_prefix(prefix)
    out = Path(out).resolve()
    previous = read_manifest(out)
    if previous and (previous["cpu"], previous["kernels"]) != (target.cpu, target.kernels):
        raise KilnError(f"OUT={out} holds an export for {previous['cpu']} with the {previous['kernels']} "
                        f"kernels, and this one is for {target.cpu} with {target.kernels}: models that "
                        "share a runtime need one CPU, so export into another OUT")
    model = codegen.compile_model(tflite, name=name, kernels=target.kernels, budget=budget)
    models = dict(previous.get("models", {})) if previous else {}
    models[prefix] = {"name": model.name, "tflite_sha256": model.sha256,
                      "arena_bytes": model.plan.arena_bytes, "weight_bytes": model.weight_bytes,
                      "input_bytes": model.input_bytes, "output_bytes": model.output_bytes,
                      "inputs": [_tensor(t) for t in model.inputs],
                      "outputs": [_tensor(t) for t in model.outputs],
                      "kernels": sorted({la.kernel for la in model.layers})}
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        for other in models:
            if other != prefix:   # the models exported before, as they are
                shutil.copytree(out / "models" / other, stage / "models" / other)
        mdir = stage / "models" / prefix
        mdir.mkdir(parents=True)
        for fname, text in model.render(prefix).items():
            (mdir / fname).write_text(text)
        (mdir / f"{prefix}_layers.json").write_text(
            json.dumps(codegen.layers_report(model), indent=1) + "\n")
        c_texts = [(stage / "models" / p / f"{p}.c").read_text() for p in models]
        sources = _copy_runtime(stage, c_texts, target.kernels)
        manifest = {"api_version": API_VERSION, "cpu": target.cpu, "kernels": target.kernels,
                    "cpu_flags": list(target.cpu_flags), "cflags": list(target.cflags),
                    "defines": list(target.defines), "runtime": sources, "models": models}
        (stage / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
        _write_glue(stage, manifest)
        _swap_in(stage, out)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return write_zip(out)


def _tensor(t: dict) -> dict:
    keys = ("name", "dtype", "shape", "bytes", "scale", "zero_point")
    elements = 1
    for d in t["shape"]:
        elements *= d
    return {k: t[k] for k in keys if k in t} | {"elements": elements}


def read_manifest(out: Path) -> dict:
    """The manifest of the export in `out`; {} when there is none yet."""
    path = out / MANIFEST
    if not path.is_file():
        if out.exists() and any(out.iterdir()):
            raise KilnError(f"OUT={out} exists and is not a Kiln export (no {MANIFEST}): "
                            "choose an empty or new folder")
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise KilnError(f"{path} is corrupt ({exc}): delete {out} and export again") from exc


def _copy_runtime(stage: Path, c_texts: list[str], kernels: str) -> list[str]:
    """Copy the runtime files the models need; their paths inside the tree."""
    copied = []
    for src in runtime_files.needed_sources(c_texts, kernels) + runtime_files.support_files(kernels):
        rel = src.relative_to(runtime_files.RUNTIME)
        dst = stage / "runtime" / ("include" if rel.parts[0] == "include" else "src") / (
            Path(*rel.parts[1:]) if rel.parts[0] == "include" else rel)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)
        if src.suffix == ".c":
            copied.append(dst.relative_to(stage).as_posix())
    return sorted(copied)


def _write_glue(stage: Path, manifest: dict) -> None:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), keep_trailing_newline=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    first = next(iter(manifest["models"]))
    ctx = {"m": manifest, "prefixes": list(manifest["models"]), "first": first,
           "first_model": manifest["models"][first]}
    for dest, template in _GLUE.items():
        path = stage / dest
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(env.get_template(template).render(**ctx))


def _swap_in(stage: Path, out: Path) -> None:
    """Replace `out` by `stage` (two renames; the old tree is removed after)."""
    old = out.with_name(f".{out.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        os.replace(out, old)
    os.replace(stage, out)
    shutil.rmtree(old, ignore_errors=True)


def write_zip(out: Path) -> Path:
    """OUT.zip of the tree, its paths under the folder's name; written whole or not at all."""
    zpath = out.with_name(out.name + ".zip")
    fd, tmp = tempfile.mkstemp(prefix=f".{zpath.name}-", dir=out.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
            for path in sorted(out.rglob("*")):
                if path.is_file():
                    z.write(path, (Path(out.name) / path.relative_to(out)).as_posix())
        os.replace(tmp, zpath)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return zpath


def main(argv: list[str] | None = None) -> int:
    """python -m kiln.export MODEL.tflite OUT --cpu cortex-m33 [--prefix P] [--kernels K]."""
    import argparse
    import sys

    ap = argparse.ArgumentParser(prog="python -m kiln.export", description=main.__doc__)
    ap.add_argument("tflite")
    ap.add_argument("out")
    ap.add_argument("--cpu", required=True, help="a [cpu.*] entry of toolchain/cpus.toml")
    ap.add_argument("--kernels", default="auto")
    ap.add_argument("--prefix", default="")
    args = ap.parse_args(argv)
    try:
        target = target_for(args.cpu, args.kernels)
        zpath = export(args.tflite, args.out, target, args.prefix or default_prefix(Path(args.tflite).stem))
    except KilnError as exc:
        print(f"kiln export: {exc}", file=sys.stderr)
        return 2
    print(f"exported {args.tflite} to {args.out} ({zpath})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

